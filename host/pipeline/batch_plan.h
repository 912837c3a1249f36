/* Token-budget batching (SPEC §7): sequences are ordered by length so each
 * batch holds similar lengths (what keeps a padded or tiled kernel busy),
 * then cut greedily so a batch's total tokens stay within the budget. A
 * sequence longer than `alone_above` (the chunk size of a causal model with
 * a key/value cache, else the budget) forms a batch of its own: the engine
 * runs it in chunks or grows its activations, and runs every batch as
 * given. Packing needs no padding. */
#ifndef LLMBED_PIPELINE_BATCH_PLAN_H
#define LLMBED_PIPELINE_BATCH_PLAN_H

#include <stdint.h>

/* lengths[n] > 0. Writes order[n] (indices, by ascending length, ties by
 * index) and batch_starts[n_batches + 1] (positions in `order`; at most n + 1
 * entries). Returns n_batches (0 when n == 0), or -1 when out of memory. */
int llmbed_batch_plan(const int64_t *lengths, int n, int64_t budget, int64_t alone_above, int *order,
                      int *batch_starts);

/* The same cuts over the sequences in the order given (order[i] = i): for
 * callers whose batch order is their own (llmbed_embed's public batches). */
int llmbed_batch_plan_in_order(const int64_t *lengths, int n, int64_t budget, int64_t alone_above, int *order,
                               int *batch_starts);

#endif
