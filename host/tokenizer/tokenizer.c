/* Lifetime and queries of a loaded tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/tokenizer_impl.h"

void tok_tokenizer_init(llmbed_tokenizer *t) {
    memset(t, 0, sizeof *t);
    t->unk_id = t->bos_id = t->eos_id = -1;
    for (int b = 0; b < 256; b++) t->byte_ids[b] = -1;
}

llmbed_status tok_tokenizer_finish(llmbed_tokenizer *t, const char *source, llmbed_error *error) {
    if (t->vocab.index == NULL && !tok_vocab_build_index(&t->vocab))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: vocabulary index", source);
    for (int b = 0; b < 256; b++) {
        if (t->byte_level) {
            char c = (char)b;
            t->byte_ids[b] = tok_vocab_find(&t->vocab, &c, 1);
        } else {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            t->byte_ids[b] = tok_vocab_find(&t->vocab, name, 6);
        }
    }
    tok_added_finish(&t->added);
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.items[i].normalized) t->has_normalized_added = true;
    if (!tok_cache_init(&t->cache))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: word cache", source);
    return LLMBED_OK;
}

void llmbed_tokenizer_free(llmbed_tokenizer *t) {
    if (t == NULL) return;
    tok_vocab_free(&t->vocab);
    tok_merges_free(&t->merges);
    tok_normalizer_free(&t->normalizer);
    tok_pretokenizer_free(&t->pretokenizer);
    tok_added_free(&t->added);
    tok_cache_free(&t->cache);
    free(t);
}

int32_t llmbed_tokenizer_n_vocab(const llmbed_tokenizer *t) { return t->vocab.n_tokens; }
int32_t llmbed_tokenizer_bos_id(const llmbed_tokenizer *t) { return t->bos_id; }
int32_t llmbed_tokenizer_eos_id(const llmbed_tokenizer *t) { return t->eos_id; }
const char *llmbed_tokenizer_description(const llmbed_tokenizer *t) { return t->description; }

size_t llmbed_tokenizer_n_special_added(const llmbed_tokenizer *t) {
    return (size_t)(t->n_prefix + t->n_suffix + t->n_family_suffix);
}

int32_t llmbed_tokenizer_token_id(const llmbed_tokenizer *t, const char *text) {
    size_t len = strlen(text);
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.items[i].len == len && memcmp(t->added.items[i].text, text, len) == 0)
            return t->added.items[i].id;
    return len ? tok_vocab_find(&t->vocab, text, len) : -1;
}

llmbed_status llmbed_tokenizer_set_family_suffix(llmbed_tokenizer *t, const int32_t *ids, size_t n_ids,
                                                 llmbed_error *error) {
    if (n_ids > TOK_MAX_SPECIAL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "family suffix: %zu ids, at most %d",
                           n_ids, TOK_MAX_SPECIAL);
    for (size_t i = 0; i < n_ids; i++)
        if (!tok_vocab_has(&t->vocab, ids[i]))
            return llmbed_fail(error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                               "family suffix: token id %d outside the vocabulary (%d tokens)",
                               (int)ids[i], (int)t->vocab.n_tokens);
    if (n_ids) memcpy(t->family_suffix, ids, n_ids * sizeof *ids);
    t->n_family_suffix = (int)n_ids;
    return LLMBED_OK;
}
