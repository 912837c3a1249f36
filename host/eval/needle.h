/* Needle retrieval with natural sentences, LongEmbed's "needle" task in the
 * form issue 25 asks for: each document is filler sentences (a pool drawn
 * with a seeded generator, as eval/passkey.h) with one needle, sentence 1 of
 * a gold-5 pair of an STS file, at a random depth; its query is the pair's
 * sentence 2, a paraphrase. Top-1 accuracy and nDCG@10 over all documents of
 * one length, as LongEmbed reports them. */
#ifndef LLMBED_EVAL_NEEDLE_H
#define LLMBED_EVAL_NEEDLE_H

#include <stddef.h>
#include <stdint.h>

#include "eval/passkey.h"
#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n documents of at most target_tokens tokens: pairs (needles[i], queries[i])
 * of [n_pairs] are drawn without repetition by a generator seeded with seed
 * and target_tokens; documents are built by llmbed_passkey_document. The same
 * model, pool, pairs, seed and sizes give the same set on every machine.
 * LLMBED_ERR_INVALID_ARGUMENT when n > n_pairs, the pool is empty or a needle
 * alone does not fit. */
llmbed_status llmbed_needle_generate(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                     const char *const *needles, const char *const *queries, size_t n_pairs,
                                     int target_tokens, int n, uint64_t seed, llmbed_passkey_set *out,
                                     llmbed_error *error);

/* Mean nDCG@10 with one relevant document per query (its own): 1 / log2(1 + rank)
 * when rank <= 10, else 0; rank = 1 + the documents scoring at least as high
 * (ties count against the query, as in llmbed_passkey_accuracy). Rows are
 * L2-normalised [n, dims]. */
double llmbed_needle_ndcg10(const float *query_rows, const float *document_rows, int n, int dims);

/* FNV-1a 64 over every document and query of the set (NUL-separated): a
 * fingerprint for determinism checks. */
uint64_t llmbed_needle_set_hash(const llmbed_passkey_set *set);

#ifdef __cplusplus
}
#endif

#endif
