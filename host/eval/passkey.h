/* A LongEmbed-style synthetic passkey retrieval set (Zhu et al. 2024,
 * "LongEmbed: Extending Embedding Models for Long Context Retrieval"),
 * generated offline and deterministically: each document is filler text
 * (sentences drawn with a seeded generator from a sentence pool, e.g. the
 * STS files of ../shared/testdata/sts) with one needle sentence
 *   "The pass key of {name} is {key}. Remember it. {key} is the pass key of {name}."
 * inserted at a random depth; its query asks "What is the pass key of {name}?".
 * Names are unique within a set, so each query has exactly one answer. */
#ifndef LLMBED_EVAL_PASSKEY_H
#define LLMBED_EVAL_PASSKEY_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_passkey_set {
    int n;              /* documents (= queries) */
    int target_tokens;  /* each document has at most this many tokens (tokenizer specials included) */
    char **documents;   /* [n] owned */
    char **queries;     /* [n] owned */
    int *tokens;        /* [n] tokens of each document */
    double *depth;      /* [n] needle position as a fraction of the filler sentences, [0, 1] */
} llmbed_passkey_set;

/* n documents of at most target_tokens tokens each, filled with pool
 * sentences until 64 draws in a row do not fit. Same model, pool, seed and
 * sizes give the same set on every machine. LLMBED_ERR_INVALID_ARGUMENT
 * when the needle alone does not fit or the pool is empty. */
llmbed_status llmbed_passkey_generate(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                      int target_tokens, int n, uint64_t seed, llmbed_passkey_set *out,
                                      llmbed_error *error);

/* Document d of `set` (documents, tokens, depth): pool sentences drawn with
 * *state until 64 draws in a row do not fit in `target` tokens, `needle` at a
 * random depth. counts[pool_size] caches each sentence's token count (-1 =
 * not counted yet); picked holds target + 1 indices of scratch. Shared with
 * the needle set (eval/needle.h). */
llmbed_status llmbed_passkey_document(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                      int *counts, int target, uint64_t *state, const char *needle,
                                      llmbed_passkey_set *set, int d, size_t *picked, llmbed_error *error);

void llmbed_passkey_set_free(llmbed_passkey_set *set);

/* Top-1 accuracy: the fraction of queries whose most similar document (dot
 * product of L2-normalised rows [n, dims]) is their own; ties count as misses. */
double llmbed_passkey_accuracy(const float *query_rows, const float *document_rows, int n, int dims);

#ifdef __cplusplus
}
#endif

#endif
