/* Text -> ids: repair UTF-8, split out added tokens, normalise, split out
 * normalised added tokens, pre-tokenise, BPE each word, truncate, add the
 * special tokens. The order is HF tokenizers' (TokenizerImpl::encode_single
 * with AddedVocabulary::extract_and_normalize). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
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
} encode_scratch;

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

static llmbed_status encode_text(const llmbed_tokenizer *t, const char *text, size_t len, bool at_start,
                                 tok_ids *out, encode_scratch *s, llmbed_error *error) {
    const char *words;
    const tok_pieces *pieces;
    bool mapped;
    llmbed_status st =
        tok_pretokenize(&t->pretokenizer, text, len, at_start, &s->pre, &words, &pieces, &mapped, error);
    for (size_t i = 0; i < pieces->len && st == LLMBED_OK; i++) {
        const char *w = words + pieces->data[i].start;
        size_t n = pieces->data[i].len;
        if (mapped) {
            /* Pieces are whole mapped characters, so this always succeeds. */
            if (!tok_byte_level_decode(w, n, &s->unmapped))
                return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer: byte-level piece");
            w = s->unmapped.data;
            n = s->unmapped.len;
        }
        st = encode_word(t, w, n, out, s, error);
    }
    return st;
}

static llmbed_status encode_segment(const llmbed_tokenizer *t, const char *text, size_t len, bool at_start,
                                    tok_ids *out, encode_scratch *s, llmbed_error *error) {
    if (t->normalizer.n_steps > 0) {
        llmbed_status st = tok_normalize(&t->normalizer, text, len, &s->normalized, &s->norm_tmp,
                                         &s->norm_match, error);
        if (st != LLMBED_OK) return st;
        text = s->normalized.data;
        len = s->normalized.len;
    }
    if (!t->has_normalized_added) return encode_text(t, text, len, at_start, out, s, error);
    s->norm_segments.len = 0;
    if (!tok_added_split(&t->added, text, len, true, true, &s->norm_segments))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: added tokens");
    for (size_t i = 0; i < s->norm_segments.len; i++) {
        const tok_segment *g = &s->norm_segments.data[i];
        llmbed_status st = LLMBED_OK;
        if (g->id >= 0) {
            if (!tok_ids_push(out, g->id)) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
        } else {
            st = encode_text(t, text + g->start, g->len, at_start && g->start == 0, out, s, error);
        }
        if (st != LLMBED_OK) return st;
    }
    return LLMBED_OK;
}

static bool ends_with(const int32_t *ids, size_t n, const int32_t *tail, size_t n_tail) {
    return n >= n_tail && memcmp(ids + n - n_tail, tail, n_tail * sizeof *tail) == 0;
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

llmbed_status llmbed_tokenizer_encode(const llmbed_tokenizer *t, const char *text, size_t len,
                                      const llmbed_encode_options *options, llmbed_encode_result *result,
                                      llmbed_error *error) {
    llmbed_encode_options defaults;
    if (options == NULL) {
        llmbed_encode_options_default(&defaults);
        options = &defaults;
    }
    if (text == NULL && len > 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: text is NULL");
    tok_ids ids = {result->ids, 0, result->capacity};
    encode_scratch s = {0};
    llmbed_status st = LLMBED_OK;
    result->n_invalid = len ? tok_utf8_count_invalid(text, len) : 0;
    if (result->n_invalid > 0) {
        if (!tok_utf8_repair(text, len, &s.repaired)) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize: %zu bytes", len);
            goto done;
        }
        text = s.repaired.data;
        len = s.repaired.len;
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
        if (g->id >= 0) {
            if (!tok_ids_push(&ids, g->id)) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
        } else {
            st = encode_segment(t, text + g->start, g->len, g->start == 0, &ids, &s, error);
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
    if (specials && !add_special(t, &ids, family))
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenizer: ids");
done:
    result->ids = ids.data;
    result->capacity = ids.cap;
    result->n_ids = st == LLMBED_OK ? ids.len : 0;
    scratch_free(&s);
    return st;
}
