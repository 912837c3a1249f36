/* Checks of caller-given sequences before any work is done, so a bad input
 * fails with a message naming the field, sequence and position rather than
 * reading out of bounds: the engine trusts what passes here. */
#include "pipeline/batch_check.h"

#include "common/error.h"
#include "model/model.h"

llmbed_status llmbed_batch_check(const llmbed_model *model, const llmbed_batch *batch, int64_t *total_tokens,
                                 int64_t *longest, llmbed_error *error) {
    if (batch == NULL || batch->offsets == NULL || batch->tokens == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch: batch, tokens and offsets are required");
    if (batch->n_sequences <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch.n_sequences: %d, need at least 1",
                           batch->n_sequences);
    if (batch->offsets[0] != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch.offsets[0]: %lld, must be 0",
                           (long long)batch->offsets[0]);
    const int vocab = model->config.vocab_size;
    *longest = 0;
    for (int s = 0; s < batch->n_sequences; s++) {
        const int64_t begin = batch->offsets[s], end = batch->offsets[s + 1];
        if (end < begin)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.offsets[%d]: %lld is below offsets[%d] = %lld (offsets must not decrease)",
                               s + 1, (long long)end, s, (long long)begin);
        if (end == begin)
            return llmbed_fail(error, LLMBED_ERR_EMPTY_SEQUENCE, "batch: sequence %d is empty (offsets[%d] == offsets[%d] == %lld)",
                               s, s, s + 1, (long long)begin);
        if (end - begin > INT32_MAX / 2)
            return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "batch: sequence %d has %lld tokens, limit %d", s,
                               (long long)(end - begin), INT32_MAX / 2);
        for (int64_t t = begin; t < end; t++) {
            const int32_t id = batch->tokens[t];
            if (id < 0 || id >= vocab)
                return llmbed_fail(error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                                   "batch: sequence %d, position %lld: token id %d outside the vocabulary [0, %d)",
                                   s, (long long)(t - begin), id, vocab);
        }
        if (batch->instruction_lens != NULL &&
            (batch->instruction_lens[s] < 0 || batch->instruction_lens[s] > end - begin))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.instruction_lens[%d]: %d outside [0, %lld] (the sequence's length)", s,
                               batch->instruction_lens[s], (long long)(end - begin));
        const int32_t instruction_len = batch->instruction_lens != NULL ? batch->instruction_lens[s] : 0;
        if (batch->pool_ends != NULL &&
            (batch->pool_ends[s] < instruction_len || batch->pool_ends[s] > end - begin))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.pool_ends[%d]: %d outside [%d, %lld] (instruction length, sequence length)", s,
                               batch->pool_ends[s], instruction_len, (long long)(end - begin));
        if (end - begin > *longest) *longest = end - begin;
    }
    *total_tokens = batch->offsets[batch->n_sequences];
    return LLMBED_OK;
}

llmbed_status llmbed_batch_check_pool(const llmbed_batch *batch, int mask_prefix_tokens, llmbed_error *error) {
    for (int s = 0; mask_prefix_tokens > 0 && s < batch->n_sequences; s++)
        if (batch->offsets[s + 1] - batch->offsets[s] <= mask_prefix_tokens)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch: sequence %d has %lld tokens and mask_prefix_tokens is %d: every token would "
                               "be masked from the pool (the row would be empty)",
                               s, (long long)(batch->offsets[s + 1] - batch->offsets[s]), mask_prefix_tokens);
    return LLMBED_OK;
}

llmbed_status llmbed_spans_check(const int32_t *spans, int n_spans, size_t n_tokens, llmbed_error *error) {
    if (spans == NULL || n_spans < 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "spans: %s", spans == NULL ? "NULL" : "none given");
    for (int p = 0; p < n_spans; p++) {
        const int32_t a = spans[2 * p], b = spans[2 * p + 1];
        if (a < 0 || b > (int64_t)n_tokens || a >= b)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "spans: span %d [%d, %d) is empty or outside the sequence's %zu tokens", p, a, b,
                               n_tokens);
        if (p > 0 && a < spans[2 * p - 1])
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "spans: span %d [%d, %d) starts before span %d ends (%d): spans must be in order and "
                               "disjoint",
                               p, a, b, p - 1, spans[2 * p - 1]);
    }
    return LLMBED_OK;
}
