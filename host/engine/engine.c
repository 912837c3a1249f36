/* The engine's run loop: one llmbed_embed call = validate, then for each
 * budget-sized run of sequences one decoder forward (host/decoder/), then
 * post-processing.
 *
 * Long sequences: with causal attention, a sequence longer than the chunk
 * size (chunk_tokens, or else the budget) runs alone in chunks over the
 * key/value cache, so its length is bounded by the cache, not by the
 * activations. A bidirectional sequence longer than the budget runs alone
 * and the backend's activations grow in place to its length (weights stay
 * uploaded; the context keeps the larger buffers afterwards) as far as the
 * context's memory limit allows. Sizing activations for the longest sequence
 * a model allows instead would reserve gigabytes for 128k-position models
 * that mostly embed short texts. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "engine/engine.h"
#include "engine/engine_runs.h"
#include "model/model.h"

llmbed_status llmbed_engine_init(llmbed_engine *engine, const llmbed_model *model,
                                 llmbed_device device, int device_index, int n_threads,
                                 int64_t batch_tokens, int64_t memory_limit_bytes, llmbed_error *error) {
    memset(engine, 0, sizeof *engine);
    engine->model = model;
    engine->n_threads = n_threads;
    engine->batch_tokens = batch_tokens;
    engine->memory_limit_bytes = memory_limit_bytes;
    const llmbed_status st =
        device == LLMBED_DEVICE_CUDA
            ? llmbed_cuda_backend_create(model, device_index, batch_tokens, &engine->backend, error)
            : llmbed_cpu_backend_create(model, n_threads, batch_tokens, &engine->backend, error);
    engine->decoder.backend = engine->backend;
    engine->decoder.memory_limit_bytes = memory_limit_bytes;
    return st;
}

void llmbed_engine_release(llmbed_engine *engine) {
    if (engine->backend != NULL) engine->backend->ops->destroy(engine->backend);
    llmbed_decoder_release(&engine->decoder);
    free(engine->seq_offsets);
    free(engine->pool_begin);
    free(engine->pool_end);
    free(engine->pooled);
    free(engine->cache_lens);
    free(engine->tokens);
    free(engine->prefix);
    memset(engine, 0, sizeof *engine);
}

llmbed_status llmbed_engine_grow(llmbed_engine *engine, int64_t tokens, llmbed_error *error) {
    llmbed_backend *b = engine->backend;
    if (tokens <= b->max_tokens) return LLMBED_OK;
    const size_t bytes = b->ops->activation_bytes(b, tokens);
    if (engine->memory_limit_bytes > 0 && bytes > (size_t)engine->memory_limit_bytes)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "a sequence of %lld tokens needs %zu MiB of activations on the %s backend, above the "
                           "context's memory limit of %lld MiB (memory_limit_bytes)",
                           (long long)tokens, bytes >> 20, b->ops->name,
                           (long long)(engine->memory_limit_bytes >> 20));
    return b->ops->reserve(b, tokens, error);
}

llmbed_status llmbed_engine_embed(llmbed_engine *engine, const llmbed_batch *batch,
                                  const llmbed_embed_params *params, float *out,
                                  size_t out_capacity, llmbed_error *error) {
    const llmbed_model *model = engine->model;
    llmbed_embed_options opt;
    int64_t total_tokens = 0, longest = 0;
    LLMBED_TRY(llmbed_engine_resolve_options(model, params, &opt, error));
    LLMBED_TRY(llmbed_engine_validate_batch(model, batch, &total_tokens, &longest, error));
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
    for (int s = 0; opt.mask_prefix_tokens > 0 && s < batch->n_sequences; s++)
        if (batch->offsets[s + 1] - batch->offsets[s] <= opt.mask_prefix_tokens)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch: sequence %d has %lld tokens and mask_prefix_tokens is %d: every token would "
                               "be masked from the pool (the row would be empty)",
                               s, (long long)(batch->offsets[s + 1] - batch->offsets[s]), opt.mask_prefix_tokens);
    const size_t rows = opt.pooling == LLMBED_POOLING_NONE ? (size_t)total_tokens : (size_t)batch->n_sequences;
    if (rows > SIZE_MAX / (size_t)opt.out_dims || rows * (size_t)opt.out_dims > out_capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL,
                           "out_capacity: %zu floats given, %zu x %d = %zu needed", out_capacity, rows,
                           opt.out_dims, rows * (size_t)opt.out_dims);

    /* A causal sequence above the chunk size (or, without one, above the
     * budget) is chunked; a longer bidirectional one grows the activations. */
    const int64_t budget = engine->batch_tokens;
    const int64_t chunk = opt.chunk_tokens > 0 ? opt.chunk_tokens : budget;
    const int has_cache = engine->backend->ops->cache_reserve != NULL;
    if (!has_cache && (opt.chunk_tokens > 0 || opt.think_ratio > 0.0f))
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: chunked prefill and ThinK are not implemented on the %s backend yet; use the cpu device",
                           opt.chunk_tokens > 0 ? "chunk_tokens" : "think_ratio", engine->backend->ops->name);
    const int chunking = opt.causal && has_cache; /* else long sequences grow the activations */
    /* what must fit in one forward: a chunk, or the longest unchunked sequence */
    LLMBED_TRY(llmbed_engine_grow(engine, chunking && longest > chunk ? chunk : longest, error));
    for (int first = 0; first < batch->n_sequences;) {
        const int64_t base = batch->offsets[first];
        if (chunking && batch->offsets[first + 1] - base > chunk) {
            LLMBED_TRY(llmbed_engine_run_chunked(engine, batch, first, &opt, (int)chunk, out, error));
            engine->n_chunked++;
            first++;
            continue;
        }
        int end = first + 1;
        while (end < batch->n_sequences && batch->offsets[end + 1] - base <= engine->backend->max_tokens &&
               !(chunking && batch->offsets[end + 1] - batch->offsets[end] > chunk))
            end++;
        LLMBED_TRY(llmbed_engine_run_packed(engine, batch, first, end - first, &opt, out, error));
        first = end;
    }
    return LLMBED_OK;
}
