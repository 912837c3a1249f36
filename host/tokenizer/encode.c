/* Text -> ids: repair UTF-8, split out added tokens, normalise, split out
 * normalised added tokens, pre-tokenise, BPE each word, truncate, add the
 * special tokens. The order is HF tokenizers' (TokenizerImpl::encode_single
 * with AddedVocabulary::extract_and_normalize). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalize_align.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

void llmbed_encode_options_default(llmbed_encode_options *o) {
    o->add_special = 1;
    o->parse_special = 1;
    o->max_tokens = 0;
}

void llmbed_encode_result_free(llmbed_encode_result *r) {
    if (r == NULL) return;
    free(r->ids);
    memset(r, 0, sizeof *r);
}

typedef struct encode_scratch {
    tok_bytes repaired, normalized, norm_tmp;
    tok_segments raw_segments, norm_segments;
    tok_pre_scratch pre;
    tok_match_scratch norm_match;
    tok_ids word;
    tok_bytes unmapped;
    tok_spans norm_map;
} encode_scratch;

/* Offsets (llmbed_tokenizer_encode_spans): how a byte range of the text
 * being encoded at some depth maps back to the caller's text. Each level
 * is a per-byte map (NULL = identity) or an offset; NULL chain = no offsets. */
typedef struct span_chain {
    tok_spans *out;          /* one span per id, parallel to the ids */
    const tok_spans *repair; /* repaired input -> caller's text; NULL when nothing was repaired */
    size_t segment_offset;   /* raw segment (between added tokens) within the repaired input */
    const tok_spans *norm;   /* normalised segment -> raw segment; NULL without a normaliser */
    size_t text_offset;      /* stretch (between normalised added tokens) within the normalised segment */
    const tok_spans *pre;    /* words' text -> stretch; NULL when no pre-tokenizer step rewrote it */
} span_chain;

/* [a, b) of the words' text -> the caller's text. */
static tok_span chain_map(const span_chain *c, size_t a, size_t b) {
    tok_span r = tok_spans_map_range(c->pre, a, b);
    r = tok_spans_map_range(c->norm, r.start + c->text_offset, r.end + c->text_offset);
    return tok_spans_map_range(c->repair, r.start + c->segment_offset, r.end + c->segment_offset);
}

static void scratch_free(encode_scratch *s) {
    tok_bytes_free(&s->repaired);
    tok_bytes_free(&s->normalized);
    tok_bytes_free(&s->norm_tmp);
    free(s->raw_segments.data);
    free(s->norm_segments.data);
    tok_pre_scratch_free(&s->pre);
    tok_match_scratch_free(&s->norm_match);
    tok_ids_free(&s->word);
    tok_bytes_free(&s->unmapped);
    tok_spans_free(&s->norm_map);
}

static bool push_unknown(const llmbed_tokenizer *t, tok_ids *word, bool *last_was_unk) {
    if (t->unk_id < 0) return true; /* HF BPE without unk_token drops the character */
    if (t->fuse_unk && *last_was_unk) return true;
    *last_was_unk = true;
    return tok_ids_push(word, t->unk_id);
}

/* Initial symbols of a word: bytes (byte-level) or characters with byte
 * fallback / unk (HF BPE::merge_word). */
static bool initial_symbols(const llmbed_tokenizer *t, const char *w, size_t len, tok_ids *word) {
    word->len = 0;
    if (!tok_ids_reserve(word, len)) return false;
    bool last_was_unk = false;
    if (t->byte_level) {
        for (size_t i = 0; i < len; i++) {
            int32_t id = t->byte_ids[(uint8_t)w[i]];
            if (id >= 0) {
                word->data[word->len++] = id;
                last_was_unk = false;
            } else if (!push_unknown(t, word, &last_was_unk)) {
                return false;
            }
        }
        return true;
    }
    for (size_t i = 0; i < len;) {
        size_t n = tok_utf8_lead_len((uint8_t)w[i]);
        if (n > len - i) n = len - i;
        int32_t id = tok_vocab_find(&t->vocab, w + i, n);
        bool ok = true;
        if (id >= 0) {
            ok = tok_ids_push(word, id);
            last_was_unk = false;
        } else {
            bool all_bytes = t->byte_fallback;
            for (size_t k = 0; k < n && all_bytes; k++) all_bytes = t->byte_ids[(uint8_t)w[i + k]] >= 0;
            if (all_bytes) {
                for (size_t k = 0; k < n && ok; k++) ok = tok_ids_push(word, t->byte_ids[(uint8_t)w[i + k]]);
                last_was_unk = false;
            } else {
                ok = push_unknown(t, word, &last_was_unk);
            }
        }
        if (!ok) return false;
        i += n;
    }
    return true;
}

static llmbed_status encode_word(const llmbed_tokenizer *t, const char *w, size_t len, tok_ids *out,
                                 encode_scratch *s, llmbed_error *error) {
    if (t->ignore_merges) {
        int32_t id = tok_vocab_find(&t->vocab, w, len);
        if (id >= 0) {
            if (!tok_ids_push(out, id)) goto oom;
            return LLMBED_OK;
        }
    }
    /* The cache lives in the tokenizer but is internally locked. */
    tok_word_cache *cache = (tok_word_cache *)&t->cache;
    uint64_t hash = tok_hash_bytes(w, len);
    bool oom;
    if (tok_cache_get(cache, hash, w, len, out, &oom)) return LLMBED_OK;
    if (oom) goto oom;
    if (!initial_symbols(t, w, len, &s->word)) goto oom;
    size_t n = s->word.len;
    if (!tok_bpe_merge(&t->merges, s->word.data, &n)) goto oom;
    if (!tok_ids_append(out, s->word.data, n)) goto oom;
    tok_cache_put(cache, hash, w, len, s->word.data, n);
    return LLMBED_OK;
oom:
    return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: word of %zu bytes", len);
}

/* The length of the unit at w[p] that initial_symbols turns into an unknown
 * token (or drops, without unk), 0 when it is a known symbol. */
static size_t unknown_unit(const llmbed_tokenizer *t, const char *w, size_t len, size_t p) {
    if (t->byte_level) return t->byte_ids[(uint8_t)w[p]] < 0 ? 1 : 0;
    size_t n = tok_utf8_lead_len((uint8_t)w[p]);
    if (n > len - p) n = len - p;
    if (tok_vocab_find(&t->vocab, w + p, n) >= 0) return 0;
    bool all_bytes = t->byte_fallback;
    for (size_t k = 0; k < n && all_bytes; k++) all_bytes = t->byte_ids[(uint8_t)w[p + k]] >= 0;
    return all_bytes ? 0 : n;
}

/* Where each of ids[0..n) (the BPE output for word w) lies in w: merges only
 * join neighbours, so the tokens cover the word in order, each as long as
 * its text (a byte-fallback token one byte, an unknown token the unit(s)
 * initial_symbols gave it). lens[i] receives token i's start. False when
 * the walk does not end at the word's end (then the caller gives every
 * token the whole word). */
static bool locate_tokens(const llmbed_tokenizer *t, const char *w, size_t len, const int32_t *ids, size_t n,
                          size_t *starts, size_t *ends) {
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        size_t u;
        while (t->unk_id < 0 && p < len && (u = unknown_unit(t, w, len, p)) > 0) p += u; /* dropped */
        if (p >= len) return false;
        starts[i] = p;
        if (ids[i] == t->unk_id && (u = unknown_unit(t, w, len, p)) > 0) {
            p += u;
            while (t->fuse_unk && p < len && (u = unknown_unit(t, w, len, p)) > 0) p += u;
        } else if (!t->byte_level && t->byte_ids[(uint8_t)w[p]] == ids[i]) {
            p += 1;
        } else {
            size_t tlen;
            tok_vocab_text(&t->vocab, ids[i], &tlen);
            if (tlen == 0 || tlen > len - p) return false;
            p += tlen;
        }
        ends[i] = p;
    }
    size_t u;
    while (t->unk_id < 0 && p < len && (u = unknown_unit(t, w, len, p)) > 0) p += u;
    return p == len;
}

/* Spans of the ids one word added: w (raw bytes) came from words text
 * [piece_start, piece_start + piece_len), in the GPT-2 alphabet when mapped
 * (one character per raw byte). */
static llmbed_status word_spans(const llmbed_tokenizer *t, const char *w, size_t len, const int32_t *ids, size_t n,
                                const char *piece, size_t piece_start, size_t piece_len, bool mapped,
                                const span_chain *chain, llmbed_error *error) {
    size_t *starts = malloc((2 * n + len + 1) * sizeof *starts);
    if (starts == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: offsets");
    size_t *ends = starts + n, *at = ends + n; /* at[k]: words-text position of raw byte k */
    if (mapped) {
        size_t q = 0;
        for (size_t k = 0; k < len; k++) {
            at[k] = q;
            q += q < piece_len ? tok_utf8_lead_len((uint8_t)piece[q]) : 0;
        }
        at[len] = piece_len;
    } else {
        for (size_t k = 0; k <= len; k++) at[k] = k;
    }
    bool located = locate_tokens(t, w, len, ids, n, starts, ends);
    bool ok = tok_spans_reserve(chain->out, chain->out->len + n);
    for (size_t i = 0; i < n && ok; i++) {
        size_t a = located ? at[starts[i]] : 0, b = located ? at[ends[i]] : piece_len;
        tok_span r = chain_map(chain, piece_start + a, piece_start + b);
        ok = tok_spans_push(chain->out, r.start, r.end);
    }
    free(starts);
    return ok ? LLMBED_OK : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: offsets");
}

static llmbed_status encode_text(const llmbed_tokenizer *t, const char *text, size_t len, bool at_start,
                                 tok_ids *out, encode_scratch *s, span_chain *chain, llmbed_error *error) {
    const char *words;
    const tok_pieces *pieces;
    bool mapped;
    s->pre.track = chain != NULL;
    llmbed_status st =
        tok_pretokenize(&t->pretokenizer, text, len, at_start, &s->pre, &words, &pieces, &mapped, error);
    if (chain != NULL) chain->pre = s->pre.final_map;
    for (size_t i = 0; i < pieces->len && st == LLMBED_OK; i++) {
        const char *w = words + pieces->data[i].start;
        size_t n = pieces->data[i].len;
        const char *piece = w;
        const size_t first_id = out->len;
        if (mapped) {
            /* Pieces are whole mapped characters, so this always succeeds. */
            if (!tok_byte_level_decode(w, n, &s->unmapped))
                return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer: byte-level piece");
            w = s->unmapped.data;
            n = s->unmapped.len;
        }
        st = encode_word(t, w, n, out, s, error);
        if (st == LLMBED_OK && chain != NULL)
            st = word_spans(t, w, n, out->data + first_id, out->len - first_id, piece, pieces->data[i].start,
                            pieces->data[i].len, mapped, chain, error);
    }
    return st;
}

/* An id that stands for the text range [a, b) of the current stretch (an added token). */
static bool push_token_span(span_chain *chain, size_t a, size_t b) {
    if (chain == NULL) return true;
    chain->pre = NULL;
    tok_span r = chain_map(chain, a, b);
    return tok_spans_push(chain->out, r.start, r.end);
}

static llmbed_status encode_segment(const llmbed_tokenizer *t, const char *text, size_t len, bool at_start,
                                    tok_ids *out, encode_scratch *s, span_chain *chain, llmbed_error *error) {
    if (chain != NULL) {
        chain->norm = NULL;
        chain->text_offset = 0;
    }
    if (t->normalizer.n_steps > 0) {
        llmbed_status st =
            chain != NULL
                ? tok_normalize_aligned(&t->normalizer, text, len, &s->normalized, &s->norm_map, error)
                : tok_normalize(&t->normalizer, text, len, &s->normalized, &s->norm_tmp, &s->norm_match, error);
        if (st != LLMBED_OK) return st;
        text = s->normalized.data;
        len = s->normalized.len;
        if (chain != NULL) chain->norm = &s->norm_map;
    }
    if (!t->has_normalized_added) return encode_text(t, text, len, at_start, out, s, chain, error);
    s->norm_segments.len = 0;
    if (!tok_added_split(&t->added, text, len, true, true, &s->norm_segments))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: added tokens");
    for (size_t i = 0; i < s->norm_segments.len; i++) {
        const tok_segment *g = &s->norm_segments.data[i];
        llmbed_status st = LLMBED_OK;
        if (chain != NULL) chain->text_offset = 0;
        if (g->id >= 0) {
            if (!tok_ids_push(out, g->id) || !push_token_span(chain, g->start, g->start + g->len))
                st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
        } else {
            if (chain != NULL) chain->text_offset = g->start;
            st = encode_text(t, text + g->start, g->len, at_start && g->start == 0, out, s, chain, error);
        }
        if (st != LLMBED_OK) return st;
    }
    return LLMBED_OK;
}

static bool ends_with(const int32_t *ids, size_t n, const int32_t *tail, size_t n_tail) {
    return n >= n_tail && memcmp(ids + n - n_tail, tail, n_tail * sizeof *tail) == 0;
}

/* Spans of the ids add_special puts around the content: empty at 0, as HF
 * reports (0, 0) for the post-processor's special tokens. */
static bool add_special_spans(const llmbed_tokenizer *t, tok_spans *spans, bool family) {
    size_t n = spans->len, n_prefix = (size_t)t->n_prefix;
    size_t n_after = (size_t)t->n_suffix + (family ? (size_t)t->n_family_suffix : 0);
    if (!tok_spans_reserve(spans, n + n_prefix + n_after + 1)) return false;
    memmove(spans->data + n_prefix, spans->data, n * sizeof *spans->data);
    for (size_t i = 0; i < n_prefix; i++) spans->data[i] = (tok_span){0, 0};
    spans->len = n + n_prefix;
    return tok_spans_push_n(spans, 0, 0, n_after);
}

/* Prefix/suffix around the content in place; content occupies ids[0..n). */
static bool add_special(const llmbed_tokenizer *t, tok_ids *ids, bool family) {
    size_t n = ids->len;
    /* +1: never NULL, even for an empty result (memmove needs valid pointers). */
    if (!tok_ids_reserve(ids, n + (size_t)(t->n_prefix + t->n_suffix + t->n_family_suffix) + 1)) return false;
    memmove(ids->data + t->n_prefix, ids->data, n * sizeof *ids->data);
    memcpy(ids->data, t->prefix, (size_t)t->n_prefix * sizeof *ids->data);
    ids->len = n + (size_t)t->n_prefix;
    tok_ids_append(ids, t->suffix, (size_t)t->n_suffix);
    if (family) tok_ids_append(ids, t->family_suffix, (size_t)t->n_family_suffix);
    return true;
}

/* The map from repaired bytes to the caller's: an invalid subpart became
 * the 3 bytes of U+FFFD, which stand for the whole subpart. */
static bool repair_map(const char *text, size_t len, tok_spans *map) {
    const uint8_t *s = (const uint8_t *)text;
    map->len = 0;
    for (size_t i = 0; i < len;) {
        size_t bad = 1, ok = s[i] < 0x80 ? 1 : tok_utf8_valid_len(s + i, len - i, &bad);
        if (ok) {
            for (size_t k = 0; k < ok; k++)
                if (!tok_spans_push(map, i + k, i + k + 1)) return false;
            i += ok;
        } else {
            if (!tok_spans_push_n(map, i, i + bad, 3)) return false;
            i += bad;
        }
    }
    return true;
}

/* Widens every span to whole characters of the caller's text (an invalid
 * subpart counts as one character), so offsets are character offsets as
 * HF reports them: a byte-level token holding part of a character, or a
 * prefix inserted before it, covers that character. */
static bool widen_to_characters(const char *text, size_t len, tok_spans *spans) {
    unsigned char *boundary = malloc(len + 1);
    if (boundary == NULL) return false;
    memset(boundary, 0, len + 1);
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        boundary[i] = 1;
        size_t bad = 1, ok = s[i] < 0x80 ? 1 : tok_utf8_valid_len(s + i, len - i, &bad);
        i += ok ? ok : bad;
    }
    boundary[len] = 1;
    for (size_t i = 0; i < spans->len; i++) {
        tok_span *r = &spans->data[i];
        if (r->start >= r->end) continue;
        while (r->start > 0 && !boundary[r->start]) r->start--;
        while (r->end < len && !boundary[r->end]) r->end++;
    }
    free(boundary);
    return true;
}

static llmbed_status encode(const llmbed_tokenizer *t, const char *text, size_t len,
                            const llmbed_encode_options *options, llmbed_encode_result *result,
                            tok_spans *spans, llmbed_error *error) {
    llmbed_encode_options defaults;
    if (options == NULL) {
        llmbed_encode_options_default(&defaults);
        options = &defaults;
    }
    if (text == NULL && len > 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: text is NULL");
    tok_ids ids = {result->ids, 0, result->capacity};
    const char *given_text = text;
    const size_t given_len = len;
    encode_scratch s = {0};
    tok_spans repaired_map = {0};
    span_chain chain_storage = {spans, NULL, 0, NULL, 0, NULL};
    span_chain *chain = spans != NULL ? &chain_storage : NULL;
    llmbed_status st = LLMBED_OK;
    if (spans != NULL) spans->len = 0;
    result->n_invalid = len ? tok_utf8_count_invalid(text, len) : 0;
    if (result->n_invalid > 0) {
        if (!tok_utf8_repair(text, len, &s.repaired) || (chain != NULL && !repair_map(text, len, &repaired_map))) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize: %zu bytes", len);
            goto done;
        }
        text = s.repaired.data;
        len = s.repaired.len;
        chain_storage.repair = &repaired_map;
    }
    if (t->added.n > 0) {
        if (!tok_added_split(&t->added, text, len, false, options->parse_special != 0, &s.raw_segments)) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: added tokens");
            goto done;
        }
    } else if (len > 0) {
        s.raw_segments.data = malloc(sizeof *s.raw_segments.data);
        if (s.raw_segments.data == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: segments");
            goto done;
        }
        s.raw_segments.data[0] = (tok_segment){0, len, -1};
        s.raw_segments.len = 1;
    }
    for (size_t i = 0; i < s.raw_segments.len && st == LLMBED_OK; i++) {
        const tok_segment *g = &s.raw_segments.data[i];
        if (chain != NULL) {
            chain_storage.segment_offset = 0;
            chain_storage.norm = NULL;
            chain_storage.text_offset = 0;
        }
        if (g->id >= 0) {
            if (!tok_ids_push(&ids, g->id) || !push_token_span(chain, g->start, g->start + g->len))
                st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
        } else {
            if (chain != NULL) chain_storage.segment_offset = g->start;
            st = encode_segment(t, text + g->start, g->len, g->start == 0, &ids, &s, chain, error);
        }
    }
    if (st != LLMBED_OK) goto done;

    bool specials = options->add_special != 0;
    bool family = specials && t->n_family_suffix > 0 &&
                  !ends_with(t->suffix, (size_t)t->n_suffix, t->family_suffix, (size_t)t->n_family_suffix);
    size_t n_special = specials ? (size_t)(t->n_prefix + t->n_suffix + (family ? t->n_family_suffix : 0)) : 0;
    result->n_untruncated = ids.len + n_special;
    result->truncated = 0;
    if (options->max_tokens > 0 && ids.len + n_special > options->max_tokens) {
        result->truncated = 1;
        ids.len = options->max_tokens > n_special ? options->max_tokens - n_special : 0;
    }
    if (spans != NULL && spans->len != result->n_untruncated - n_special) {
        st = llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer: %zu offsets for %zu ids", spans->len,
                         result->n_untruncated - n_special);
        goto done;
    }
    if (spans != NULL) spans->len = ids.len;
    if (spans != NULL && !widen_to_characters(given_text, given_len, spans)) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: offsets");
        goto done;
    }
    if (specials && (!add_special(t, &ids, family) || (spans != NULL && !add_special_spans(t, spans, family))))
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
done:
    result->ids = ids.data;
    result->capacity = ids.cap;
    result->n_ids = st == LLMBED_OK ? ids.len : 0;
    if (spans != NULL && st != LLMBED_OK) spans->len = 0;
    scratch_free(&s);
    tok_spans_free(&repaired_map);
    return st;
}

llmbed_status llmbed_tokenizer_encode(const llmbed_tokenizer *t, const char *text, size_t len,
                                      const llmbed_encode_options *options, llmbed_encode_result *result,
                                      llmbed_error *error) {
    return encode(t, text, len, options, result, NULL, error);
}

llmbed_status llmbed_tokenizer_encode_spans(const llmbed_tokenizer *t, const char *text, size_t len,
                                            const llmbed_encode_options *options, llmbed_encode_result *result,
                                            tok_spans *spans, llmbed_error *error) {
    if (spans == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: spans is NULL");
    return encode(t, text, len, options, result, spans, error);
}
