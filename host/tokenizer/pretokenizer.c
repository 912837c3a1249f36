#include "tokenizer/pretokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

void tok_pre_scratch_free(tok_pre_scratch *s) {
    for (int i = 0; i < 2; i++) {
        tok_bytes_free(&s->text[i]);
        free(s->pieces[i].data);
        s->pieces[i].data = NULL;
        tok_spans_free(&s->map[i]);
    }
    tok_match_scratch_free(&s->match);
}

llmbed_status tok_pre_add_step(tok_pretokenizer *p, const tok_pre_step *step, llmbed_error *error) {
    tok_pre_step *steps = realloc(p->steps, (p->n_steps + 1) * sizeof *steps);
    if (steps == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: pre-tokenizer");
    p->steps = steps;
    p->steps[p->n_steps++] = *step;
    return LLMBED_OK;
}

llmbed_status tok_pre_add_split(tok_pretokenizer *p, const char *pattern, size_t len, bool literal,
                                tok_split_behavior behavior, bool invert, const char *where,
                                llmbed_error *error) {
    tok_pre_step step = {.kind = TOK_PRE_SPLIT, .behavior = behavior, .invert = invert};
    llmbed_status st = tok_regex_compile(pattern, len, literal, where, &step.regex, error);
    if (st != LLMBED_OK) return st;
    st = tok_pre_add_step(p, &step, error);
    if (st != LLMBED_OK) tok_regex_free(&step.regex);
    return st;
}

void tok_pretokenizer_free(tok_pretokenizer *p) {
    for (size_t i = 0; i < p->n_steps; i++) tok_regex_free(&p->steps[i].regex);
    free(p->steps);
    p->steps = NULL;
    p->n_steps = 0;
}

static bool push_piece(tok_pieces *v, size_t start, size_t len) {
    if (len == 0) return true; /* HF drops empty splits */
    if (v->len == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        tok_piece *data = realloc(v->data, cap * sizeof *data);
        if (data == NULL) return false;
        v->data = data;
        v->cap = cap;
    }
    v->data[v->len++] = (tok_piece){start, len};
    return true;
}

/* State of one piece's split under a behaviour (HF NormalizedString::split). */
typedef struct split_emitter {
    tok_pieces *out;
    tok_split_behavior behavior;
    bool previous_match;
    bool have_last;         /* a piece of this split was emitted */
    bool carry;             /* MergedWithNext: a match waits for the next segment */
    size_t carry_start;
    bool pending;           /* MergedWithNext looks one segment ahead */
    size_t pending_start, pending_end;
    bool pending_match;
} split_emitter;

static bool emit_segment(split_emitter *e, size_t start, size_t end, bool is_match) {
    bool ok = true;
    switch (e->behavior) {
    case TOK_SPLIT_REMOVED:
        if (!is_match) ok = push_piece(e->out, start, end - start);
        break;
    case TOK_SPLIT_ISOLATED:
        ok = push_piece(e->out, start, end - start);
        break;
    case TOK_SPLIT_MERGED_WITH_PREVIOUS:
        if (is_match && !e->previous_match && e->have_last && e->out->len > 0) {
            tok_piece *last = &e->out->data[e->out->len - 1];
            last->len = end - last->start;
        } else {
            ok = push_piece(e->out, start, end - start);
        }
        break;
    case TOK_SPLIT_CONTIGUOUS:
        if (is_match && e->previous_match && e->have_last && e->out->len > 0) {
            tok_piece *last = &e->out->data[e->out->len - 1];
            last->len = end - last->start;
        } else {
            ok = push_piece(e->out, start, end - start);
        }
        break;
    case TOK_SPLIT_MERGED_WITH_NEXT:
        /* Handled with one segment of look-ahead in feed_segment. */
        break;
    }
    e->have_last = e->have_last || end > start;
    e->previous_match = is_match;
    return ok;
}

/* HF MergedWithNext (a reversed fold): a match joins the segment after it
 * unless that one is also a match. */
static bool flush_pending(split_emitter *e, bool next_exists, bool next_is_match) {
    if (!e->pending) return true;
    e->pending = false;
    size_t start = e->carry ? e->carry_start : e->pending_start;
    if (e->pending_match && next_exists && !next_is_match) {
        if (!e->carry) {
            e->carry = true;
            e->carry_start = e->pending_start;
        }
        return true;
    }
    e->carry = false;
    return push_piece(e->out, start, e->pending_end - start);
}

static bool feed_segment(split_emitter *e, size_t start, size_t end, bool is_match) {
    if (e->behavior != TOK_SPLIT_MERGED_WITH_NEXT) return emit_segment(e, start, end, is_match);
    if (!flush_pending(e, true, is_match)) return false;
    e->pending = true;
    e->pending_start = start;
    e->pending_end = end;
    e->pending_match = is_match;
    return true;
}

static llmbed_status split_piece(const tok_pre_step *step, const char *text, tok_piece piece,
                                 tok_pieces *out, tok_match_scratch *ms, llmbed_error *error) {
    split_emitter e = {.out = out, .behavior = step->behavior};
    const char *subject = text + piece.start;
    size_t from = 0, previous_end = 0;
    for (;;) {
        bool found;
        size_t start, end;
        llmbed_status st = tok_regex_next(&step->regex, subject, piece.len, from, ms, &found, &start,
                                          &end, error);
        if (st != LLMBED_OK) return st;
        if (!found) break;
        if (start > previous_end &&
            !feed_segment(&e, piece.start + previous_end, piece.start + start, step->invert))
            goto oom;
        if (!feed_segment(&e, piece.start + start, piece.start + end, !step->invert)) goto oom;
        previous_end = from = end;
    }
    if (previous_end < piece.len &&
        !feed_segment(&e, piece.start + previous_end, piece.start + piece.len, step->invert))
        goto oom;
    if (e.behavior == TOK_SPLIT_MERGED_WITH_NEXT && !flush_pending(&e, false, false)) goto oom;
    return LLMBED_OK;
oom:
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: pre-tokenizer pieces");
}

static bool starts_with(const char *s, size_t len, const char *prefix, size_t prefix_len) {
    return len >= prefix_len && memcmp(s, prefix, prefix_len) == 0;
}

/* Appends bytes to the rewritten text and, when offsets are tracked, the
 * input range each of them stands for. */
typedef struct rewrite_out {
    tok_bytes *text;
    tok_spans *map;          /* NULL: offsets not tracked */
    const tok_spans *in_map; /* ranges of the step's input bytes; NULL = identity */
} rewrite_out;

static bool put(rewrite_out *o, const char *bytes, size_t n, size_t from, size_t to) {
    if (!tok_bytes_append(o->text, bytes, n)) return false;
    if (o->map == NULL) return true;
    tok_span r = tok_spans_map_range(o->in_map, from, to);
    return tok_spans_push_n(o->map, r.start, r.end, n);
}

/* Copies input bytes [at, at + n) unchanged. */
static bool put_copy(rewrite_out *o, const char *bytes, size_t n, size_t at) {
    if (o->map == NULL) return tok_bytes_append(o->text, bytes, n);
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) ok = put(o, bytes + k, 1, at + k, at + k + 1);
    return ok;
}

/* Rewrites each piece into a new text buffer (prefix space, Metaspace).
 * Inserted characters (prefix space, prepended replacement) stand for the
 * piece's first byte, as HF aligns them to the first character. */
static llmbed_status rewrite_pieces(const tok_pre_step *step, const char *text, const tok_pieces *in,
                                    bool at_start, rewrite_out *o, tok_pieces *out,
                                    tok_match_scratch *ms, llmbed_error *error) {
    tok_bytes *out_text = o->text;
    out_text->len = 0;
    if (o->map != NULL) o->map->len = 0;
    out->len = 0;
    for (size_t i = 0; i < in->len; i++) {
        const size_t at = in->data[i].start;
        const char *p = text + at;
        size_t len = in->data[i].len;
        size_t start = out_text->len;
        bool ok = true;
        if (step->kind == TOK_PRE_BYTE_MAP) {
            for (size_t k = 0; k < len && ok; k++) {
                char buf[4];
                size_t n = tok_utf8_encode(tok_byte_to_unicode((uint8_t)p[k]), buf);
                ok = put(o, buf, n, at + k, at + k + 1);
            }
        } else if (step->kind == TOK_PRE_PREFIX_SPACE) {
            if (!starts_with(p, len, " ", 1)) ok = put(o, " ", 1, at, at + 1);
            ok = ok && put_copy(o, p, len, at);
        } else {
            bool first = at_start && at == 0;
            bool prepend = step->prepend == TOK_PREPEND_ALWAYS || (step->prepend == TOK_PREPEND_FIRST && first);
            /* HF checks the prefix after replacing spaces. */
            bool begins = (len > 0 && p[0] == ' ') ||
                          starts_with(p, len, step->replacement, step->replacement_len);
            if (prepend && !begins) ok = put(o, step->replacement, step->replacement_len, at, at + 1);
            for (size_t k = 0; k < len && ok; k++)
                ok = p[k] == ' ' ? put(o, step->replacement, step->replacement_len, at + k, at + k + 1)
                                 : put(o, p + k, 1, at + k, at + k + 1);
        }
        if (!ok) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: pre-tokenizer text");
        tok_piece whole = {start, out_text->len - start};
        if (step->kind == TOK_PRE_METASPACE && step->split) {
            tok_pre_step split = {.kind = TOK_PRE_SPLIT, .regex = step->regex,
                                  .behavior = TOK_SPLIT_MERGED_WITH_NEXT};
            /* out_text may move while growing; split after the copy is complete. */
            llmbed_status st = split_piece(&split, out_text->data, whole, out, ms, error);
            if (st != LLMBED_OK) return st;
        } else if (!push_piece(out, whole.start, whole.len)) {
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: pre-tokenizer pieces");
        }
    }
    return LLMBED_OK;
}

llmbed_status tok_pretokenize(const tok_pretokenizer *p, const char *text, size_t len, bool at_start,
                              tok_pre_scratch *s, const char **out_text, const tok_pieces **out_pieces,
                              bool *mapped, llmbed_error *error) {
    int cur = 0;
    *mapped = false;
    s->pieces[0].len = 0;
    if (!push_piece(&s->pieces[0], 0, len))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: pre-tokenizer pieces");
    const char *cur_text = text;
    const tok_spans *cur_map = NULL;
    int text_slot = 0;
    for (size_t i = 0; i < p->n_steps; i++) {
        const tok_pre_step *step = &p->steps[i];
        tok_pieces *in = &s->pieces[cur], *out = &s->pieces[1 - cur];
        out->len = 0;
        llmbed_status st;
        if (step->kind == TOK_PRE_SPLIT) {
            st = LLMBED_OK;
            for (size_t k = 0; k < in->len && st == LLMBED_OK; k++)
                st = split_piece(step, cur_text, in->data[k], out, &s->match, error);
        } else {
            tok_bytes *dst = &s->text[text_slot];
            rewrite_out o = {dst, s->track ? &s->map[text_slot] : NULL, cur_map};
            st = rewrite_pieces(step, cur_text, in, at_start, &o, out, &s->match, error);
            cur_text = dst->data ? dst->data : "";
            if (s->track) cur_map = &s->map[text_slot];
            if (step->kind == TOK_PRE_BYTE_MAP) *mapped = true;
            text_slot = 1 - text_slot;
        }
        if (st != LLMBED_OK) return st;
        cur = 1 - cur;
    }
    *out_text = cur_text;
    *out_pieces = &s->pieces[cur];
    s->final_map = cur_map;
    return LLMBED_OK;
}
