/* Checks of caller-given token sequences (public batches, late-chunking
 * spans, suffix-mode documents): what the engine relies on. */
#ifndef LLMBED_PIPELINE_BATCH_CHECK_H
#define LLMBED_PIPELINE_BATCH_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

/* Pointers, offsets (offsets[0] == 0, non-decreasing), non-empty sequences
 * (EMPTY_SEQUENCE), ids in [0, vocab) (TOKEN_OUT_OF_RANGE), instruction
 * lengths in [0, sequence length], pool ends in [instruction length,
 * sequence length], every length within int32. On success *total_tokens and
 * *longest hold the batch's token count and its longest sequence. Messages
 * name the sequence and position. */
llmbed_status llmbed_batch_check(const llmbed_model *model, const llmbed_batch *batch, int64_t *total_tokens,
                                 int64_t *longest, llmbed_error *error);

/* INVALID_ARGUMENT when mask_prefix_tokens would leave a sequence nothing to pool. */
llmbed_status llmbed_batch_check_pool(const llmbed_batch *batch, int mask_prefix_tokens, llmbed_error *error);

/* Late-chunking spans [spans[2p], spans[2p + 1]) of a sequence of n_tokens:
 * at least one, non-empty, inside it, in order and disjoint. */
llmbed_status llmbed_spans_check(const int32_t *spans, int n_spans, size_t n_tokens, llmbed_error *error);

#endif
