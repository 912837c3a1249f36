/* Late chunking (Günther et al. 2024, "Late Chunking: Contextual Chunk
 * Embeddings Using Long-Context Embedding Models"): the whole sequence goes
 * through the decoder once, then every span is pooled from those contextual
 * hidden states, so each chunk's row sees the text around it. Long causal
 * sequences run in chunks over the key/value cache like llmbed_embed's. */
#include "common/error.h"
#include "engine/engine.h"
#include "engine/engine_runs.h"

static llmbed_status check_spans(const int32_t *spans, int n_spans, size_t n_tokens, llmbed_error *error) {
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

llmbed_status llmbed_engine_embed_spans(llmbed_engine *engine, const int32_t *tokens, size_t n_tokens,
                                        const int32_t *spans, int n_spans, const llmbed_embed_params *params,
                                        float *out, size_t out_capacity, llmbed_error *error) {
    llmbed_embed_options opt;
    LLMBED_TRY(llmbed_engine_resolve_options(engine->model, params, &opt, error));
    if (opt.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "spans: pooling none has no spans to pool");
    if (opt.continue_document || opt.mask_prefix_tokens > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "spans: %s does not apply (the spans say what is pooled)",
                           opt.continue_document ? "continue_document" : "mask_prefix_tokens");
    const int64_t offsets[2] = {0, (int64_t)n_tokens};
    const llmbed_batch batch = {.tokens = tokens, .offsets = offsets, .n_sequences = 1};
    int64_t total = 0, longest = 0;
    LLMBED_TRY(llmbed_engine_validate_batch(engine->model, &batch, &total, &longest, error));
    LLMBED_TRY(check_spans(spans, n_spans, n_tokens, error));
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
    if ((size_t)n_spans * (size_t)opt.out_dims > out_capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "out_capacity: %zu floats given, %d x %d needed",
                           out_capacity, n_spans, opt.out_dims);
    const int64_t chunk = opt.chunk_tokens > 0 ? opt.chunk_tokens : engine->batch_tokens;
    const int chunked = opt.causal && engine->backend->ops->cache_reserve != NULL && longest > chunk;
    if (!chunked && (opt.chunk_tokens > 0 || opt.think_ratio > 0.0f) && engine->backend->ops->cache_reserve == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "spans: chunked prefill is not implemented on the %s backend",
                           engine->backend->ops->name);
    LLMBED_TRY(llmbed_engine_grow(engine, chunked ? chunk : longest, error));
    return llmbed_engine_run_spans(engine, tokens, (int)n_tokens, spans, n_spans, &opt, chunked ? (int)chunk : 0, out,
                                   error);
}
