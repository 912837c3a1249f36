/* The engine's run loop: one llmbed_embed call = validate, then for each
 * budget-sized run of sequences one backend forward, then post-processing.
 *
 * Sequences longer than the budget: such a sequence runs alone, and the
 * backend is re-created once with scratch for that length (the context keeps
 * the larger scratch afterwards). Sizing scratch for the longest sequence a
 * model allows instead would reserve gigabytes for 128k-position models that
 * mostly embed short texts. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "engine/engine.h"
#include "model/model.h"

static llmbed_status create_backend(llmbed_engine *engine, int64_t max_tokens, llmbed_error *error) {
    if (engine->device == LLMBED_DEVICE_CUDA)
        return llmbed_cuda_backend_create(engine->model, engine->device_index, max_tokens,
                                          &engine->backend, error);
    return llmbed_cpu_backend_create(engine->model, engine->n_threads, max_tokens, &engine->backend,
                                     error);
}

llmbed_status llmbed_engine_init(llmbed_engine *engine, const llmbed_model *model,
                                 llmbed_device device, int device_index, int n_threads,
                                 int64_t batch_tokens, llmbed_error *error) {
    memset(engine, 0, sizeof *engine);
    engine->model = model;
    engine->device = device;
    engine->device_index = device_index;
    engine->n_threads = n_threads;
    engine->batch_tokens = batch_tokens;
    return create_backend(engine, batch_tokens, error);
}

void llmbed_engine_release(llmbed_engine *engine) {
    if (engine->backend != NULL) engine->backend->ops->destroy(engine->backend);
    free(engine->seq_offsets);
    free(engine->instruction_lens);
    free(engine->pooled);
    memset(engine, 0, sizeof *engine);
}

/* Grow-only staging: reallocates only when a request needs more than any before it. */
static llmbed_status reserve(llmbed_engine *engine, int n_seqs, int hidden, llmbed_error *error) {
    if ((size_t)n_seqs > engine->seq_capacity) {
        int32_t *offsets = realloc(engine->seq_offsets, sizeof(int32_t) * ((size_t)n_seqs + 1));
        if (offsets != NULL) engine->seq_offsets = offsets;
        int32_t *lens = realloc(engine->instruction_lens, sizeof(int32_t) * (size_t)n_seqs);
        if (lens != NULL) engine->instruction_lens = lens;
        if (offsets == NULL || lens == NULL)
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: cannot stage %d sequences", n_seqs);
        engine->seq_capacity = (size_t)n_seqs;
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

llmbed_status llmbed_engine_embed(llmbed_engine *engine, const llmbed_batch *batch,
                                  const llmbed_embed_params *params, float *out,
                                  size_t out_capacity, llmbed_error *error) {
    const llmbed_model *model = engine->model;
    const int hidden = model->config.hidden_size;
    llmbed_embed_options opt;
    int64_t total_tokens = 0, longest = 0;
    llmbed_status st = llmbed_engine_resolve_options(model, params, &opt, error);
    if (st != LLMBED_OK) return st;
    st = llmbed_engine_validate_batch(model, batch, &total_tokens, &longest, error);
    if (st != LLMBED_OK) return st;
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
    const size_t rows = opt.pooling == LLMBED_POOLING_NONE ? (size_t)total_tokens : (size_t)batch->n_sequences;
    if (rows > SIZE_MAX / (size_t)opt.out_dims || rows * (size_t)opt.out_dims > out_capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL,
                           "out_capacity: %zu floats given, %zu x %d = %zu needed", out_capacity, rows,
                           opt.out_dims, rows * (size_t)opt.out_dims);

    if (longest > engine->backend->max_tokens) {
        engine->backend->ops->destroy(engine->backend);
        engine->backend = NULL;
        st = create_backend(engine, longest, error);
        if (st != LLMBED_OK) return st;
    }
    const int64_t budget = engine->backend->max_tokens;
    const int pool_kind = pool_kind_of(opt.pooling);
    for (int first = 0; first < batch->n_sequences;) {
        const int end = llmbed_engine_split_end(batch, first, budget);
        const int n = end - first;
        st = reserve(engine, n, hidden, error);
        if (st != LLMBED_OK) return st;
        const int64_t base = batch->offsets[first];
        for (int s = 0; s <= n; s++) engine->seq_offsets[s] = (int32_t)(batch->offsets[first + s] - base);
        if (batch->instruction_lens != NULL)
            memcpy(engine->instruction_lens, batch->instruction_lens + first, sizeof(int32_t) * (size_t)n);
        const llmbed_forward_request req = {
            .n_seqs = n,
            .n_tokens = engine->seq_offsets[n],
            .tokens = batch->tokens + base,
            .seq_offsets = engine->seq_offsets,
            .instruction_lens = batch->instruction_lens != NULL ? engine->instruction_lens : NULL,
            .causal = opt.causal,
            .n_layers = opt.n_layers,
            .pool_kind = pool_kind,
        };
        if (pool_kind == 0) {
            st = engine->backend->ops->forward(engine->backend, &req, out + (size_t)base * hidden, error);
            if (st != LLMBED_OK) return st;
        } else {
            st = engine->backend->ops->forward(engine->backend, &req, engine->pooled, error);
            if (st != LLMBED_OK) return st;
            const llmbed_postprocess_params post = {n, hidden, opt.out_dims, opt.normalize};
            llmbed_cpu_postprocess(&post, engine->pooled, out + (size_t)first * opt.out_dims);
        }
        first = end;
    }
    return LLMBED_OK;
}
