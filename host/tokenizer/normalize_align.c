#include "tokenizer/normalize_align.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/error.h"
#include "tokenizer/utf8.h"

typedef struct align_scratch {
    tok_bytes piece, tmp, joined, built, cur;
    tok_bytes g_piece, c_piece;
    tok_spans step_map, acc_map;
    tok_match_scratch ms;
} align_scratch;

static void scratch_free(align_scratch *s) {
    tok_bytes_free(&s->piece);
    tok_bytes_free(&s->tmp);
    tok_bytes_free(&s->joined);
    tok_bytes_free(&s->built);
    tok_bytes_free(&s->cur);
    tok_bytes_free(&s->g_piece);
    tok_bytes_free(&s->c_piece);
    tok_spans_free(&s->step_map);
    tok_spans_free(&s->acc_map);
    tok_match_scratch_free(&s->ms);
}

/* One step applied to text[0..len) through the real normaliser. */
static llmbed_status apply_step(const tok_norm_step *step, const char *text, size_t len, tok_bytes *out,
                                align_scratch *s, llmbed_error *error) {
    const tok_normalizer one = {(tok_norm_step *)step, 1};
    return tok_normalize(&one, text, len, out, &s->tmp, &s->ms, error);
}

static bool is_unicode_form(tok_norm_kind kind) {
    return kind == TOK_NORM_NFC || kind == TOK_NORM_NFD || kind == TOK_NORM_NFKC || kind == TOK_NORM_NFKD;
}

static bool is_ascii(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80) return false;
    return true;
}

/* End of the unit starting at `at`: one character, or for the Unicode forms
 * a starter with the combining marks after it (canonical reordering and
 * composition never cross a starter, except starters that compose with each
 * other, such as Hangul jamo: those the caller joins). */
static size_t unit_end(const char *text, size_t len, size_t at, bool marks) {
    const uint8_t *s = (const uint8_t *)text;
    size_t n;
    tok_utf8_decode(s + at, &n);
    size_t end = at + n;
    while (marks && end < len) {
        uint32_t cp = tok_utf8_decode(s + end, &n);
        if (utf8proc_get_property((utf8proc_int32_t)cp)->combining_class == 0) break;
        end += n;
    }
    return end;
}

/* A group left unchanged keeps byte-exact alignment; a changed one maps
 * every output byte to the whole group. */
static bool emit(align_scratch *s, const tok_bytes *piece, const char *in, size_t start, size_t end) {
    if (!tok_bytes_append(&s->built, piece->data, piece->len)) return false;
    if (piece->len == end - start && memcmp(piece->data, in + start, piece->len) == 0) {
        for (size_t k = start; k < end; k++)
            if (!tok_spans_push(&s->step_map, k, k + 1)) return false;
        return true;
    }
    return tok_spans_push_n(&s->step_map, start, end, piece->len);
}

static bool same(const tok_bytes *a, const char *b, size_t b_len) {
    return a->len == b_len && (b_len == 0 || memcmp(a->data, b, b_len) == 0);
}

/* Character-local steps (Unicode forms, Lowercase, StripAccents): pieces
 * applied one unit at a time; a unit joins the previous group when the two
 * normalise differently together than apart. */
static llmbed_status align_char_local(const tok_norm_step *step, const char *in, size_t in_len, align_scratch *s,
                                      llmbed_error *error) {
    const bool marks = is_unicode_form(step->kind);
    size_t gs = 0, ge = unit_end(in, in_len, 0, marks);
    llmbed_status st = apply_step(step, in, ge, &s->g_piece, s, error);
    while (st == LLMBED_OK) {
        if (ge >= in_len) {
            if (!emit(s, &s->g_piece, in, gs, ge)) goto oom;
            break;
        }
        size_t ce = unit_end(in, in_len, ge, marks);
        st = apply_step(step, in + ge, ce - ge, &s->c_piece, s, error);
        if (st != LLMBED_OK) break;
        bool split = true;
        if (marks) {
            st = apply_step(step, in + gs, ce - gs, &s->joined, s, error);
            if (st != LLMBED_OK) break;
            split = s->joined.len == s->g_piece.len + s->c_piece.len &&
                    memcmp(s->joined.data, s->g_piece.data, s->g_piece.len) == 0 &&
                    memcmp(s->joined.data + s->g_piece.len, s->c_piece.data, s->c_piece.len) == 0;
        }
        if (split) {
            if (!emit(s, &s->g_piece, in, gs, ge)) goto oom;
            tok_bytes t = s->g_piece;
            s->g_piece = s->c_piece;
            s->c_piece = t;
            gs = ge;
        } else {
            tok_bytes t = s->g_piece;
            s->g_piece = s->joined;
            s->joined = t;
        }
        ge = ce;
    }
    return st;
oom:
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
}

/* Replace: kept bytes map to themselves, the replacement to the match. */
static llmbed_status align_replace(const tok_norm_step *step, const char *in, size_t in_len, align_scratch *s,
                                   llmbed_error *error) {
    size_t from = 0;
    for (;;) {
        bool found;
        size_t start, end;
        llmbed_status st = tok_regex_next(&step->regex, in, in_len, from, &s->ms, &found, &start, &end, error);
        if (st != LLMBED_OK) return st;
        if (!found) break;
        for (size_t k = from; k < start; k++)
            if (!tok_spans_push(&s->step_map, k, k + 1)) goto oom;
        if (!tok_bytes_append(&s->built, in + from, start - from) ||
            !tok_bytes_append(&s->built, step->text, step->text_len) ||
            !tok_spans_push_n(&s->step_map, start, end, step->text_len))
            goto oom;
        from = end;
    }
    for (size_t k = from; k < in_len; k++)
        if (!tok_spans_push(&s->step_map, k, k + 1)) goto oom;
    if (!tok_bytes_append(&s->built, in + from, in_len - from)) goto oom;
    return LLMBED_OK;
oom:
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
}

/* Output is the input with bytes added in front (Prepend, aligned to the
 * first character as HF does) or cut from both ends (Strip). */
static llmbed_status align_affix(const tok_norm_step *step, const char *in, size_t in_len, const tok_bytes *out,
                                 align_scratch *s, llmbed_error *error) {
    size_t skip = 0, prefix = 0;
    if (step->kind == TOK_NORM_PREPEND) {
        prefix = in_len > 0 ? step->text_len : 0;
    } else {
        /* Strip: the output is a substring; find where it starts. */
        while (skip + out->len < in_len && memcmp(in + skip, out->data, out->len) != 0) skip++;
    }
    size_t first = in_len > 0 ? unit_end(in, in_len, 0, false) : 0;
    if (!tok_spans_push_n(&s->step_map, 0, first, prefix)) goto oom;
    for (size_t k = 0; k + prefix < out->len; k++)
        if (!tok_spans_push(&s->step_map, skip + k, skip + k + 1)) goto oom;
    if (!tok_bytes_append(&s->built, step->text, prefix) ||
        !tok_bytes_append(&s->built, in + skip, out->len >= prefix ? out->len - prefix : 0))
        goto oom;
    return LLMBED_OK;
oom:
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
}

/* s->step_map = alignment of one step's output `out` to its input. */
static llmbed_status align_step(const tok_norm_step *step, const char *in, size_t in_len, const tok_bytes *out,
                                align_scratch *s, llmbed_error *error) {
    s->step_map.len = 0;
    s->built.len = 0;
    llmbed_status st = LLMBED_OK;
    if (in_len == 0 || out->len == 0) return LLMBED_OK; /* nothing to align (Strip of blanks) */
    switch (step->kind) {
    case TOK_NORM_NFC:
    case TOK_NORM_NFD:
    case TOK_NORM_NFKC:
    case TOK_NORM_NFKD:
    case TOK_NORM_LOWERCASE:
    case TOK_NORM_STRIP_ACCENTS:
        /* ASCII is left alone by the Unicode forms and StripAccents, and
         * lowercased byte for byte. */
        if (is_ascii(in, in_len) && out->len == in_len) {
            for (size_t k = 0; k < in_len; k++)
                if (!tok_spans_push(&s->step_map, k, k + 1))
                    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
            return LLMBED_OK;
        }
        st = align_char_local(step, in, in_len, s, error);
        break;
    case TOK_NORM_REPLACE: st = align_replace(step, in, in_len, s, error); break;
    case TOK_NORM_PREPEND:
    case TOK_NORM_STRIP: st = align_affix(step, in, in_len, out, s, error); break;
    }
    if (st != LLMBED_OK) return st;
    if (!same(&s->built, out->data, out->len) || s->step_map.len != out->len) {
        s->step_map.len = 0;
        if (!tok_spans_push_n(&s->step_map, 0, in_len, out->len))
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
    }
    return LLMBED_OK;
}

llmbed_status tok_normalize_aligned(const tok_normalizer *n, const char *text, size_t len, tok_bytes *out,
                                    tok_spans *map, llmbed_error *error) {
    align_scratch s = {0};
    llmbed_status st = LLMBED_OK;
    map->len = 0;
    out->len = 0;
    if (!tok_bytes_append(&s.cur, text, len)) goto oom;
    for (size_t k = 0; k < len; k++)
        if (!tok_spans_push(map, k, k + 1)) goto oom;
    for (size_t i = 0; i < n->n_steps && st == LLMBED_OK; i++) {
        const tok_norm_step *step = &n->steps[i];
        st = apply_step(step, s.cur.data, s.cur.len, out, &s, error);
        if (st == LLMBED_OK) st = align_step(step, s.cur.data, s.cur.len, out, &s, error);
        if (st != LLMBED_OK) break;
        /* Compose: output byte -> step input range -> original range. */
        s.acc_map.len = 0;
        for (size_t k = 0; k < s.step_map.len; k++) {
            tok_span r = tok_spans_map_range(map, s.step_map.data[k].start, s.step_map.data[k].end);
            if (!tok_spans_push(&s.acc_map, r.start, r.end)) goto oom;
        }
        tok_spans t = *map;
        *map = s.acc_map;
        s.acc_map = t;
        s.cur.len = 0;
        if (!tok_bytes_append(&s.cur, out->data, out->len)) goto oom;
    }
    if (st == LLMBED_OK && n->n_steps == 0) {
        out->len = 0;
        if (!tok_bytes_append(out, text, len)) goto oom;
    }
    scratch_free(&s);
    return st;
oom:
    scratch_free(&s);
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: normaliser alignment");
}
