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
#include "model/model.h"

llmbed_status llmbed_engine_init(llmbed_engine *engine, const llmbed_model *model,
                                 llmbed_device device, int device_index, int n_threads,
                                 int64_t batch_tokens, int64_t memory_limit_bytes, llmbed_error *error) {
    memset(engine, 0, sizeof *engine);
    engine->model = model;
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
    memset(engine, 0, sizeof *engine);
}

/* Grows the backend's activations to `tokens` within the memory limit; on
 * failure the backend keeps its previous size and stays usable. */
static llmbed_status grow_backend(llmbed_engine *engine, int64_t tokens, llmbed_error *error) {
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

/* Grow-only staging: reallocates only when a request needs more than any before it. */
static llmbed_status reserve_staging(llmbed_engine *engine, int n_seqs, int hidden, llmbed_error *error) {
    if ((size_t)n_seqs > engine->seq_capacity) {
        const size_t n = (size_t)n_seqs;
        int32_t *offsets = realloc(engine->seq_offsets, sizeof(int32_t) * (n + 1));
        if (offsets != NULL) engine->seq_offsets = offsets;
        int32_t *begin = realloc(engine->pool_begin, sizeof(int32_t) * n);
        if (begin != NULL) engine->pool_begin = begin;
        int32_t *end = realloc(engine->pool_end, sizeof(int32_t) * n);
        if (end != NULL) engine->pool_end = end;
        if (offsets == NULL || begin == NULL || end == NULL)
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: cannot stage %d sequences", n_seqs);
        engine->seq_capacity = n;
    }
    const size_t pooled = (size_t)n_seqs * (size_t)hidden;
    if (pooled > engine->pooled_capacity) {
        float *buffer = realloc(engine->pooled, sizeof(float) * pooled);
        if (buffer == NULL)
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: cannot stage %d pooled rows", n_seqs);
        engine->pooled = buffer;
        engine->pooled_capacity = pooled;
    }
    return LLMBED_OK;
}

static int pool_kind_of(llmbed_pooling pooling) {
    switch (pooling) {
    case LLMBED_POOLING_LAST: return LLMBED_POOL_LAST;
    case LLMBED_POOLING_MEAN: return LLMBED_POOL_MEAN;
    case LLMBED_POOLING_FIRST: return LLMBED_POOL_FIRST;
    case LLMBED_POOLING_WEIGHTED_MEAN: return LLMBED_POOL_WEIGHTED_MEAN;
    default: return 0; /* NONE: hidden states */
    }
}

/* Request offsets of sequences [first, first + n) and each one's pooled rows:
 * from its instruction length to its pool end (or its end). */
static void stage_request(llmbed_engine *engine, const llmbed_batch *batch, int first, int n) {
    const int64_t base = batch->offsets[first];
    for (int s = 0; s <= n; s++) engine->seq_offsets[s] = (int32_t)(batch->offsets[first + s] - base);
    for (int s = 0; s < n; s++) {
        const int32_t begin = engine->seq_offsets[s], len = engine->seq_offsets[s + 1] - begin;
        engine->pool_begin[s] = begin + (batch->instruction_lens != NULL ? batch->instruction_lens[first + s] : 0);
        engine->pool_end[s] = begin + (batch->pool_ends != NULL ? batch->pool_ends[first + s] : len);
    }
}

/* Sequence s of the batch in chunks of `chunk` tokens (decoder.h). */
static llmbed_status embed_chunked(llmbed_engine *engine, const llmbed_batch *batch, int s,
                                   const llmbed_embed_options *opt, int chunk, int pool_kind, float *out,
                                   llmbed_error *error) {
    const int hidden = engine->model->config.hidden_size;
    const int64_t base = batch->offsets[s];
    const int len = (int)(batch->offsets[s + 1] - base);
    LLMBED_TRY(reserve_staging(engine, 1, hidden, error));
    const int32_t begin = batch->instruction_lens != NULL ? batch->instruction_lens[s] : 0;
    const int32_t end = batch->pool_ends != NULL ? batch->pool_ends[s] : len;
    const llmbed_chunked_request req = {
        .n_tokens = len,
        .tokens = batch->tokens + base,
        .chunk_tokens = chunk,
        .think_ratio = opt->think_ratio,
        .n_layers = opt->n_layers,
        .attention_temperature = opt->attention_temperature,
        .pool_kind = pool_kind,
        .n_pools = 1,
        .pool_begin = &begin,
        .pool_end = &end,
        .keep_cache = 0,
    };
    if (pool_kind == 0) return llmbed_decoder_forward_chunked(&engine->decoder, &req, out + (size_t)base * hidden, error);
    LLMBED_TRY(llmbed_decoder_forward_chunked(&engine->decoder, &req, engine->pooled, error));
    const llmbed_postprocess_params post = {1, hidden, opt->out_dims, opt->normalize};
    llmbed_cpu_postprocess(&post, engine->pooled, out + (size_t)s * opt->out_dims);
    return LLMBED_OK;
}

llmbed_status llmbed_engine_embed(llmbed_engine *engine, const llmbed_batch *batch,
                                  const llmbed_embed_params *params, float *out,
                                  size_t out_capacity, llmbed_error *error) {
    const llmbed_model *model = engine->model;
    const int hidden = model->config.hidden_size;
    llmbed_embed_options opt;
    int64_t total_tokens = 0, longest = 0;
    LLMBED_TRY(llmbed_engine_resolve_options(model, params, &opt, error));
    LLMBED_TRY(llmbed_engine_validate_batch(model, batch, &total_tokens, &longest, error));
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
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
    LLMBED_TRY(grow_backend(engine, chunking && longest > chunk ? chunk : longest, error));
    const int pool_kind = pool_kind_of(opt.pooling);
    for (int first = 0; first < batch->n_sequences;) {
        const int64_t base = batch->offsets[first];
        if (chunking && batch->offsets[first + 1] - base > chunk) {
            LLMBED_TRY(embed_chunked(engine, batch, first, &opt, (int)chunk, pool_kind, out, error));
            engine->n_chunked++;
            first++;
            continue;
        }
        int end = first + 1;
        while (end < batch->n_sequences && batch->offsets[end + 1] - base <= engine->backend->max_tokens &&
               !(chunking && batch->offsets[end + 1] - batch->offsets[end] > chunk))
            end++;
        const int n = end - first;
        LLMBED_TRY(reserve_staging(engine, n, hidden, error));
        stage_request(engine, batch, first, n);
        const llmbed_forward_request req = {
            .n_seqs = n,
            .n_tokens = engine->seq_offsets[n],
            .tokens = batch->tokens + base,
            .seq_offsets = engine->seq_offsets,
            .causal = opt.causal,
            .n_layers = opt.n_layers,
            .attention_temperature = opt.attention_temperature,
            .pool_kind = pool_kind,
            .n_pools = n,
            .pool_begin = engine->pool_begin,
            .pool_end = engine->pool_end,
        };
        if (pool_kind == 0) {
            LLMBED_TRY(llmbed_decoder_forward(&engine->decoder, &req, out + (size_t)base * hidden, error));
        } else {
            LLMBED_TRY(llmbed_decoder_forward(&engine->decoder, &req, engine->pooled, error));
            const llmbed_postprocess_params post = {n, hidden, opt.out_dims, opt.normalize};
            llmbed_cpu_postprocess(&post, engine->pooled, out + (size_t)first * opt.out_dims);
        }
        first = end;
    }
    return LLMBED_OK;
}
