/* The engine's run: one planned batch = one decoder forward
 * (host/decoder/), then post-processing.
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

int64_t llmbed_engine_alone_above(const llmbed_engine *engine, const llmbed_embed_options *opt) {
    const int64_t budget = engine->batch_tokens;
    const int chunking = opt->causal && engine->backend->ops->cache_reserve != NULL;
    if (!chunking || opt->chunk_tokens <= 0 || opt->chunk_tokens >= budget) return budget;
    return opt->chunk_tokens;
}

llmbed_status llmbed_engine_check_options(const llmbed_engine *engine, const llmbed_embed_options *opt,
                                          llmbed_error *error) {
    if (engine->backend->ops->cache_reserve == NULL && (opt->chunk_tokens > 0 || opt->think_ratio > 0.0f))
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: chunked prefill and ThinK are not implemented on the %s backend yet; use the cpu device",
                           opt->chunk_tokens > 0 ? "chunk_tokens" : "think_ratio", engine->backend->ops->name);
    return LLMBED_OK;
}

llmbed_status llmbed_engine_run(llmbed_engine *engine, const llmbed_batch *batch, const llmbed_embed_options *opt,
                                float *out, llmbed_error *error) {
    LLMBED_TRY(llmbed_engine_check_options(engine, opt, error));
    /* A causal sequence above the chunk size (or, without one, above the
     * budget) is chunked; a longer bidirectional one grows the activations. */
    const int64_t chunk = opt->chunk_tokens > 0 ? opt->chunk_tokens : engine->batch_tokens;
    const int chunking = opt->causal && engine->backend->ops->cache_reserve != NULL;
    const int64_t tokens = batch->offsets[batch->n_sequences];
    if (chunking && batch->n_sequences == 1 && tokens > chunk) {
        LLMBED_TRY(llmbed_engine_grow(engine, chunk, error));
        LLMBED_TRY(llmbed_engine_run_chunked(engine, batch, 0, opt, (int)chunk, out, error));
        engine->n_chunked++;
        return LLMBED_OK;
    }
    LLMBED_TRY(llmbed_engine_grow(engine, tokens, error));
    return llmbed_engine_run_packed(engine, batch, 0, batch->n_sequences, opt, out, error);
}
