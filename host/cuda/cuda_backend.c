/* CUDA backend: the ops of host/backend.h on one GPU; the decoder loop
 * (host/decoder/) orders them. Weights are uploaded once as bf16 (norm
 * weights and biases stay fp32); activations live in one device arena sized
 * from the token capacity, grown in place by reserve() (weights stay), so no
 * op allocates. One explicit stream carries the input upload (from pinned
 * staging), the kernels and cuBLASLt GEMMs, and the output download.
 *
 * Dtypes: the residual stream x and the final hidden states are fp32; xn,
 * q, k, v, the attention output and the MLP activations are bf16. The o and
 * down projections accumulate into x in the GEMM (beta = 1, fp32 C/D). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/error.h"
#include "common/fp16.h"
#include "cpu/cpu_ops.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_gemm.h"
#include "cuda/cuda_latent.h"
#include "kernels/attention.cuh"
#include "kernels/attention_cache.cuh"
#include "kernels/bias.cuh"
#include "kernels/embedding.cuh"
#include "kernels/kv_cache.cuh"
#include "kernels/pooling.cuh"
#include "kernels/rmsnorm.cuh"
#include "kernels/rope.cuh"
#include "kernels/swiglu.cuh"
#include "kernels/think_select.cuh"

#define GEMM_WORKSPACE_BYTES ((size_t)32 << 20)
#define ARENA_ALIGN ((size_t)256)
#define STAGING_ELEMENTS ((size_t)1 << 22) /* bf16 weight elements converted per upload chunk */

typedef struct cuda_layer {
    uint16_t *wq, *wk, *wv, *wo, *w_gate_up, *w_down; /* bf16; w_gate_up [2I, C]: gate rows, then up rows */
    float *attn_norm, *ffn_norm, *q_norm, *k_norm, *bq, *bk, *bv;
} cuda_layer;

typedef struct cuda_backend {
    llmbed_backend base;
    int device;
    cudaStream_t stream;
    llmbed_gemm gemm;
    void *weights; /* one device allocation */
    uint16_t *token_embedding;
    float *final_norm;
    cuda_layer *layers;
    /* Activation arena, [max_tokens, ...] each. */
    void *arena;
    float *x, *hidden, *pooled;
    uint16_t *xn, *q, *k, *v, *attn, *gate_up, *mlp; /* gate_up [T, 2I] (gate | up), mlp [T, I] */
    int32_t *tokens, *offsets, *position_offsets, *pool_begin, *pool_end;
    float *inv_freq;
    /* Pinned staging: inputs up, outputs down, both sized from max_tokens
     * (staging_in also carries the bf16 weight chunks at upload). */
    void *staging_in;
    float *staging_out;
    /* Key/value cache of one sequence (one device allocation): per layer
     * k_pruned, k_full, v (bf16) and the kept channels, then the chunk
     * boundaries shared by every layer. */
    llmbed_cache_shape cache_shape;
    void *cache;
    int32_t *chunk_starts;
    /* NV-Embed's latent block (empty for other models) and its scratch. */
    llmbed_cuda_latent latent;
    void *latent_scratch;
    int n_tokens;    /* of the forward in progress (sizes the RoPE grid) */
    int max_seq_len; /* longest sequence of the forward in progress (sizes the attention grid) */
} cuda_backend;

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

static void cuda_destroy(llmbed_backend *backend) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (cb == NULL) return;
    if (cb->stream) cudaStreamSynchronize(cb->stream);
    llmbed_gemm_free(&cb->gemm);
    if (cb->weights) cudaFree(cb->weights);
    if (cb->arena) cudaFree(cb->arena);
    if (cb->cache) cudaFree(cb->cache);
    if (cb->latent_scratch) cudaFree(cb->latent_scratch);
    llmbed_cuda_latent_free(&cb->latent);
    if (cb->staging_in) cudaFreeHost(cb->staging_in);
    if (cb->staging_out) cudaFreeHost(cb->staging_out);
    if (cb->stream) cudaStreamDestroy(cb->stream);
    free(cb->layers);
    free(cb);
}

/* ------------------------------------------------------------- weights */

static void *carve(uint8_t *base, size_t *offset, size_t bytes) {
    void *p = base ? base + *offset : NULL;
    *offset += align_up(bytes);
    return p;
}

/* Lays out every weight in one allocation (base NULL: only measures). */
static size_t layout_weights(cuda_backend *cb, uint8_t *base) {
    const llmbed_model *m = cb->base.model;
    const llmbed_config *c = &m->config;
    const size_t C = (size_t)c->hidden_size, D = (size_t)c->head_dim, I = (size_t)c->intermediate_size;
    const size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D;
    size_t off = 0;
    cb->token_embedding = (uint16_t *)carve(base, &off, (size_t)c->vocab_size * C * 2);
    cb->final_norm = (float *)carve(base, &off, C * 4);
    for (int l = 0; l < c->n_layers; l++) {
        const llmbed_layer_weights *w = &m->weights.layers[l];
        cuda_layer *d = &cb->layers[l];
        d->wq = (uint16_t *)carve(base, &off, qd * C * 2);
        d->wk = (uint16_t *)carve(base, &off, kvd * C * 2);
        d->wv = (uint16_t *)carve(base, &off, kvd * C * 2);
        d->wo = (uint16_t *)carve(base, &off, C * qd * 2);
        d->w_gate_up = (uint16_t *)carve(base, &off, 2 * I * C * 2);
        d->w_down = (uint16_t *)carve(base, &off, C * I * 2);
        d->attn_norm = (float *)carve(base, &off, C * 4);
        d->ffn_norm = (float *)carve(base, &off, C * 4);
        d->q_norm = w->q_norm ? (float *)carve(base, &off, D * 4) : NULL;
        d->k_norm = w->k_norm ? (float *)carve(base, &off, D * 4) : NULL;
        d->bq = w->bq ? (float *)carve(base, &off, qd * 4) : NULL;
        d->bk = w->bk ? (float *)carve(base, &off, kvd * 4) : NULL;
        d->bv = w->bv ? (float *)carve(base, &off, kvd * 4) : NULL;
    }
    return off;
}

/* Converts to bf16 through the pinned staging buffer, one chunk at a time. */
static llmbed_status upload_bf16(cuda_backend *cb, uint16_t *dst, const float *src, size_t n, llmbed_error *error) {
    uint16_t *staging = (uint16_t *)cb->staging_in;
    for (size_t done = 0; done < n; done += STAGING_ELEMENTS) {
        size_t count = n - done < STAGING_ELEMENTS ? n - done : STAGING_ELEMENTS;
        LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream)); /* staging is free again */
        for (size_t i = 0; i < count; i++) staging[i] = llmbed_f32_to_bf16(src[done + i]);
        LLMBED_CUDA_TRY(cudaMemcpyAsync(dst + done, staging, count * 2, cudaMemcpyHostToDevice, cb->stream));
    }
    return LLMBED_OK;
}

static llmbed_status upload_f32(cuda_backend *cb, float *dst, const float *src, size_t n, llmbed_error *error) {
    if (dst == NULL) return LLMBED_OK;
    /* Small tensors (norms, biases): copied from pageable memory, which the
     * runtime stages itself before the call returns. */
    LLMBED_CUDA_TRY(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyHostToDevice, cb->stream));
    return LLMBED_OK;
}

static llmbed_status upload_weights(cuda_backend *cb, llmbed_error *error) {
    const llmbed_model *m = cb->base.model;
    const llmbed_config *c = &m->config;
    const size_t C = (size_t)c->hidden_size, D = (size_t)c->head_dim, I = (size_t)c->intermediate_size;
    const size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D;
    size_t bytes = layout_weights(cb, NULL);
    cudaError_t rc = cudaMalloc(&cb->weights, bytes);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "device cuda:%d: cannot allocate %zu MiB of weights: %s",
                           cb->device, bytes >> 20, cudaGetErrorString(rc));
    layout_weights(cb, (uint8_t *)cb->weights);
    llmbed_status st = upload_bf16(cb, cb->token_embedding, m->weights.token_embedding, (size_t)c->vocab_size * C, error);
    if (st == LLMBED_OK) st = upload_f32(cb, cb->final_norm, m->weights.final_norm, C, error);
    for (int l = 0; l < c->n_layers && st == LLMBED_OK; l++) {
        const llmbed_layer_weights *w = &m->weights.layers[l];
        cuda_layer *d = &cb->layers[l];
        st = upload_bf16(cb, d->wq, w->wq, qd * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->wk, w->wk, kvd * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->wv, w->wv, kvd * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->wo, w->wo, C * qd, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_gate_up, w->w_gate, I * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_gate_up + I * C, w->w_up, I * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_down, w->w_down, C * I, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->attn_norm, w->attn_norm, C, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->ffn_norm, w->ffn_norm, C, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->q_norm, w->q_norm, D, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->k_norm, w->k_norm, D, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->bq, w->bq, qd, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->bk, w->bk, kvd, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->bv, w->bv, kvd, error);
    }
    if (st != LLMBED_OK) return st;
    LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream));
    return LLMBED_OK;
}

/* -------------------------------------------------------------- arena */

/* Bytes of pinned input staging for `tokens` tokens: tokens, offsets,
 * position offsets, pool ranges (n_seqs, n_pools <= tokens) and inv_freq;
 * at least one weight-conversion chunk. */
static size_t staging_in_bytes(const llmbed_config *c, size_t tokens) {
    size_t bytes = (tokens + (tokens + 1) + 3 * tokens) * 4 + tokens * (size_t)(c->head_dim / 2) * 4;
    return bytes < (size_t)STAGING_ELEMENTS * 2 ? (size_t)STAGING_ELEMENTS * 2 : bytes;
}

static size_t layout_arena(cuda_backend *cb, size_t T, uint8_t *base) {
    const llmbed_config *c = &cb->base.model->config;
    const size_t C = (size_t)c->hidden_size, D = (size_t)c->head_dim;
    const size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D, I = (size_t)c->intermediate_size;
    size_t off = 0;
    cb->x = (float *)carve(base, &off, T * C * 4);
    cb->hidden = (float *)carve(base, &off, T * C * 4);
    cb->pooled = (float *)carve(base, &off, T * C * 4);
    cb->xn = (uint16_t *)carve(base, &off, T * C * 2);
    cb->q = (uint16_t *)carve(base, &off, T * qd * 2);
    cb->k = (uint16_t *)carve(base, &off, T * kvd * 2);
    cb->v = (uint16_t *)carve(base, &off, T * kvd * 2);
    cb->attn = (uint16_t *)carve(base, &off, T * qd * 2);
    cb->gate_up = (uint16_t *)carve(base, &off, T * 2 * I * 2);
    cb->mlp = (uint16_t *)carve(base, &off, T * I * 2);
    cb->tokens = (int32_t *)carve(base, &off, T * 4);
    cb->offsets = (int32_t *)carve(base, &off, (T + 1) * 4);
    cb->position_offsets = (int32_t *)carve(base, &off, T * 4);
    cb->pool_begin = (int32_t *)carve(base, &off, T * 4);
    cb->pool_end = (int32_t *)carve(base, &off, T * 4);
    cb->inv_freq = (float *)carve(base, &off, T * (D / 2) * 4);
    return off;
}

/* Arena bytes for T tokens, measured on a copy: layout_arena with a NULL
 * base sets the pointers it carves to NULL. */
static size_t arena_bytes(const cuda_backend *cb, size_t T) {
    cuda_backend probe = *cb;
    return layout_arena(&probe, T, NULL);
}

static size_t cuda_activation_bytes(const llmbed_backend *backend, int64_t max_tokens) {
    const llmbed_config *c = &backend->model->config;
    const size_t T = (size_t)max_tokens;
    return arena_bytes((const cuda_backend *)backend, T) + staging_in_bytes(c, T) + T * (size_t)c->hidden_size * 4;
}

/* Grows arena and staging to `max_tokens` tokens: the new buffers are
 * allocated first, so a failure leaves the old ones (and the capacity) in place. */
static llmbed_status cuda_reserve(llmbed_backend *backend, int64_t max_tokens, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (max_tokens <= backend->max_tokens) return LLMBED_OK;
    if (max_tokens > INT32_MAX)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch_tokens: %lld outside [1, %d]",
                           (long long)max_tokens, INT32_MAX);
    const llmbed_config *c = &backend->model->config;
    const size_t T = (size_t)max_tokens;
    const size_t arena_size = arena_bytes(cb, T), in_bytes = staging_in_bytes(c, T);
    const size_t out_bytes = T * (size_t)c->hidden_size * 4;
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    void *arena = NULL, *staging_in = NULL, *staging_out = NULL;
    cudaError_t rc = cudaMalloc(&arena, arena_size);
    if (rc == cudaSuccess) rc = cudaMallocHost(&staging_in, in_bytes);
    if (rc == cudaSuccess) rc = cudaMallocHost(&staging_out, out_bytes);
    if (rc != cudaSuccess) {
        if (arena) cudaFree(arena);
        if (staging_in) cudaFreeHost(staging_in);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "device cuda:%d: cannot allocate %zu MiB of activations and %zu MiB of pinned staging "
                           "for %lld tokens: %s",
                           cb->device, arena_size >> 20, (in_bytes + out_bytes) >> 20, (long long)max_tokens,
                           cudaGetErrorString(rc));
    }
    if (cb->stream) LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream)); /* nothing still reads the old buffers */
    if (cb->arena) cudaFree(cb->arena);
    if (cb->staging_in) cudaFreeHost(cb->staging_in);
    if (cb->staging_out) cudaFreeHost(cb->staging_out);
    cb->arena = arena;
    cb->staging_in = staging_in;
    cb->staging_out = (float *)staging_out;
    layout_arena(cb, T, (uint8_t *)arena);
    backend->max_tokens = max_tokens;
    return LLMBED_OK;
}

/* ---------------------------------------------------------------- ops */

/* Host array -> pinned staging at *cursor -> device, on the stream. */
static llmbed_status stage(cuda_backend *cb, size_t *cursor, void *device, const void *host, size_t bytes,
                           llmbed_error *error) {
    if (bytes == 0 || host == NULL) return LLMBED_OK;
    uint8_t *pinned = (uint8_t *)cb->staging_in + *cursor;
    memcpy(pinned, host, bytes);
    *cursor += bytes;
    LLMBED_CUDA_TRY(cudaMemcpyAsync(device, pinned, bytes, cudaMemcpyHostToDevice, cb->stream));
    return LLMBED_OK;
}

static llmbed_status cuda_begin_forward(llmbed_backend *backend, const llmbed_forward_inputs *host,
                                        llmbed_forward_inputs *view, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_config *c = &backend->model->config;
    const int T = host->n_tokens, n = host->n_seqs, half = c->head_dim / 2;
    if (host->n_pools > backend->max_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: %d pooled rows above the capacity of %lld",
                           host->n_pools, (long long)backend->max_tokens);
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    /* the previous forward's downloads are done (pool/read_hidden synchronise), so staging is free */
    size_t cursor = 0;
    LLMBED_TRY(stage(cb, &cursor, cb->tokens, host->tokens, (size_t)T * 4, error));
    LLMBED_TRY(stage(cb, &cursor, cb->offsets, host->seq_offsets, (size_t)(n + 1) * 4, error));
    LLMBED_TRY(stage(cb, &cursor, cb->position_offsets, host->position_offsets, (size_t)n * 4, error));
    LLMBED_TRY(stage(cb, &cursor, cb->pool_begin, host->pool_begin, (size_t)host->n_pools * 4, error));
    LLMBED_TRY(stage(cb, &cursor, cb->pool_end, host->pool_end, (size_t)host->n_pools * 4, error));
    LLMBED_TRY(stage(cb, &cursor, cb->inv_freq, host->inv_freq, (size_t)n * half * 4, error));
    cb->n_tokens = T;
    cb->max_seq_len = 0;
    for (int s = 0; s < n; s++) {
        const int len = host->seq_offsets[s + 1] - host->seq_offsets[s];
        cb->max_seq_len = len > cb->max_seq_len ? len : cb->max_seq_len;
    }
    *view = *host;
    view->tokens = cb->tokens;
    view->seq_offsets = cb->offsets;
    view->position_offsets = host->position_offsets ? cb->position_offsets : NULL;
    view->inv_freq = cb->inv_freq;
    view->pool_begin = host->pool_begin ? cb->pool_begin : NULL;
    view->pool_end = host->pool_end ? cb->pool_end : NULL;
    return LLMBED_OK;
}

static void cuda_end_forward(llmbed_backend *backend) { (void)backend; }

static llmbed_status cuda_embedding(llmbed_backend *backend, const llmbed_embedding_params *p,
                                    const int32_t *tokens, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_KERNEL_TRY(llmbed_cuda_embedding(p, tokens, cb->token_embedding, cb->x, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_rmsnorm(llmbed_backend *backend, const llmbed_rmsnorm_params *p, int layer,
                                  llmbed_weight_kind weight, llmbed_act out, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const float *w = weight == LLMBED_W_FINAL_NORM ? cb->final_norm
                     : weight == LLMBED_W_ATTN_NORM ? cb->layers[layer].attn_norm
                                                     : cb->layers[layer].ffn_norm;
    if (out == LLMBED_ACT_HIDDEN)
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(p, cb->x, LLMBED_CUDA_F32, w, cb->hidden, LLMBED_CUDA_F32, cb->stream, error));
    else
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(p, cb->x, LLMBED_CUDA_F32, w, cb->xn, LLMBED_CUDA_BF16, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_linear(llmbed_backend *backend, const llmbed_linear_op *op, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_config *c = &backend->model->config;
    const cuda_layer *w = &cb->layers[op->layer];
    const int T = op->n_tokens, C = c->hidden_size, I = c->intermediate_size;
    const int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    llmbed_gemm *g = &cb->gemm;
    cudaStream_t s = cb->stream;
    switch (op->weight) {
    case LLMBED_W_QKV:
        LLMBED_TRY(llmbed_gemm_run(g, "gemm q", T, C, qd, cb->xn, w->wq, cb->q, 0, 1.0f, 0.0f, s, error));
        LLMBED_TRY(llmbed_gemm_run(g, "gemm k", T, C, kvd, cb->xn, w->wk, cb->k, 0, 1.0f, 0.0f, s, error));
        LLMBED_TRY(llmbed_gemm_run(g, "gemm v", T, C, kvd, cb->xn, w->wv, cb->v, 0, 1.0f, 0.0f, s, error));
        if (w->bq) LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, qd, cb->q, w->bq, s, error));
        if (w->bk) LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, kvd, cb->k, w->bk, s, error));
        if (w->bv) LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, kvd, cb->v, w->bv, s, error));
        return LLMBED_OK;
    case LLMBED_W_O:
        return llmbed_gemm_run(g, "gemm o", T, qd, C, cb->attn, w->wo, cb->x, 1, op->residual_scale, 1.0f, s, error);
    case LLMBED_W_GATE_UP:
        return llmbed_gemm_run(g, "gemm gate_up", T, C, 2 * I, cb->xn, w->w_gate_up, cb->gate_up, 0, 1.0f, 0.0f, s,
                               error);
    case LLMBED_W_DOWN:
        return llmbed_gemm_run(g, "gemm down", T, I, C, cb->mlp, w->w_down, cb->x, 1, op->residual_scale, 1.0f, s,
                               error);
    default:
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cuda backend: weight %d is not a projection", (int)op->weight);
    }
}

static llmbed_status cuda_qk_rope(llmbed_backend *backend, int layer, const llmbed_rmsnorm_params *q_norm,
                                  const llmbed_rmsnorm_params *k_norm, const llmbed_rope_params *q,
                                  const llmbed_rope_params *k, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const cuda_layer *w = &cb->layers[layer];
    cudaStream_t s = cb->stream;
    if (q_norm != NULL)
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(q_norm, cb->q, LLMBED_CUDA_BF16, w->q_norm, cb->q, LLMBED_CUDA_BF16, s, error));
    if (k_norm != NULL)
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(k_norm, cb->k, LLMBED_CUDA_BF16, w->k_norm, cb->k, LLMBED_CUDA_BF16, s, error));
    LLMBED_KERNEL_TRY(llmbed_cuda_rope(q, cb->n_tokens, cb->q, s, error));
    LLMBED_KERNEL_TRY(llmbed_cuda_rope(k, cb->n_tokens, cb->k, s, error));
    return LLMBED_OK;
}

static llmbed_status cuda_attention(llmbed_backend *backend, int layer, const llmbed_attention_params *p,
                                    llmbed_error *error) {
    (void)layer;
    cuda_backend *cb = (cuda_backend *)backend;
    if (p->cache != NULL)
        LLMBED_KERNEL_TRY(llmbed_cuda_attention_cache(p, cb->max_seq_len, cb->q, cb->k, cb->v, cb->attn, cb->stream, error));
    else
        LLMBED_KERNEL_TRY(llmbed_cuda_attention(p, cb->max_seq_len, cb->q, cb->k, cb->v, cb->attn, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_swiglu(llmbed_backend *backend, const llmbed_swiglu_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    /* out of place: the kernel's inputs and output are __restrict__ */
    LLMBED_KERNEL_TRY(llmbed_cuda_swiglu(p, cb->gate_up, cb->gate_up + p->intermediate, 2 * p->intermediate, cb->mlp,
                                         cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_latent(llmbed_backend *backend, const llmbed_latent_attention_params *p,
                                 llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (cb->latent_scratch == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "cuda backend: the model has no latent pooling block");
    /* pooled (T x hidden fp32) holds the block's output, copied back into hidden */
    LLMBED_TRY(llmbed_cuda_latent_run(&cb->gemm, &cb->latent, p->n_tokens, cb->hidden, cb->pooled, cb->latent_scratch,
                                      p->chunk_tokens, cb->stream, error));
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->hidden, cb->pooled, (size_t)p->n_tokens * (size_t)p->hidden * 4,
                                    cudaMemcpyDeviceToDevice, cb->stream));
    return LLMBED_OK;
}

/* Device rows -> pinned staging -> out, then the one synchronise of a forward. */
static llmbed_status download(cuda_backend *cb, const float *rows, size_t n_floats, float *out, llmbed_error *error) {
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->staging_out, rows, n_floats * 4, cudaMemcpyDeviceToHost, cb->stream));
    const cudaError_t rc = cudaStreamSynchronize(cb->stream);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_CUDA,
                           "device cuda:%d: a kernel or copy of this forward failed: %s (LLMBED_CUDA_SYNC=1 "
                           "synchronises after every launch and names the op)",
                           cb->device, cudaGetErrorString(rc));
    memcpy(out, cb->staging_out, n_floats * 4);
    return LLMBED_OK;
}

static llmbed_status cuda_pool(llmbed_backend *backend, const llmbed_pooling_params *p, float *out,
                               llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_KERNEL_TRY(llmbed_cuda_pooling(p, cb->hidden, cb->pooled, cb->stream, error));
    return download(cb, cb->pooled, (size_t)p->n_rows * (size_t)p->hidden, out, error);
}

static llmbed_status cuda_read_hidden(llmbed_backend *backend, int n_rows, float *out, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    return download(cb, cb->hidden, (size_t)n_rows * (size_t)backend->model->config.hidden_size, out, error);
}

/* --------------------------------------------------------------- cache */

/* Bytes of one layer's bf16 cache arrays and of its kept channels. */
static size_t layer_cache_bytes(const llmbed_config *c, const llmbed_cache_shape *shape) {
    const size_t kv = (size_t)c->n_kv_heads, D = (size_t)c->head_dim;
    return align_up(kv * ((size_t)shape->capacity * ((size_t)shape->kept + D) + (size_t)shape->full_capacity * D) * 2);
}

static size_t layer_channel_bytes(const llmbed_config *c, const llmbed_cache_shape *shape) {
    return align_up((size_t)c->n_kv_heads * (size_t)shape->chunk_capacity * (size_t)shape->kept * 4);
}

static size_t cuda_cache_bytes(const llmbed_backend *backend, const llmbed_cache_shape *shape) {
    const llmbed_config *c = &backend->model->config;
    return (size_t)c->n_layers * (layer_cache_bytes(c, shape) + layer_channel_bytes(c, shape)) +
           align_up(((size_t)shape->chunk_capacity + 1) * 4);
}

static llmbed_status cuda_cache_reserve(llmbed_backend *backend, const llmbed_cache_shape *shape,
                                        llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_cache_shape *have = &cb->cache_shape;
    if (cb->cache != NULL && have->capacity >= shape->capacity && have->full_capacity >= shape->full_capacity &&
        have->kept == shape->kept && have->chunk_capacity >= shape->chunk_capacity)
        return LLMBED_OK;
    const size_t bytes = cuda_cache_bytes(backend, shape);
    void *cache = NULL;
    cudaError_t rc = cudaMalloc(&cache, bytes);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "device cuda:%d: cannot allocate %zu MiB of key/value cache for %d positions: %s", cb->device,
                           bytes >> 20, shape->capacity, cudaGetErrorString(rc));
    if (cb->cache != NULL) {
        LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream));
        cudaFree(cb->cache);
    }
    cb->cache = cache;
    cb->cache_shape = *shape;
    cb->chunk_starts = (int32_t *)((uint8_t *)cache + bytes - align_up(((size_t)shape->chunk_capacity + 1) * 4));
    return LLMBED_OK;
}

static llmbed_status cuda_cache_set_chunks(llmbed_backend *backend, const llmbed_cache_state *state,
                                           llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (state->n_chunks > cb->cache_shape.chunk_capacity)
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cuda backend: %d chunks in a cache made for %d",
                           state->n_chunks, cb->cache_shape.chunk_capacity);
    /* pageable source: the runtime stages it before the call returns, so the
     * host array may change for the next chunk right away */
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->chunk_starts, state->chunk_starts, ((size_t)state->n_chunks + 1) * 4,
                                    cudaMemcpyHostToDevice, cb->stream));
    return LLMBED_OK;
}

static void cuda_cache_view(llmbed_backend *backend, int layer, const llmbed_cache_state *state,
                            llmbed_kv_cache_view *view) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_config *c = &backend->model->config;
    const llmbed_cache_shape *shape = &cb->cache_shape;
    const size_t kv = (size_t)c->n_kv_heads, D = (size_t)c->head_dim;
    const size_t per_layer = layer_cache_bytes(c, shape) + layer_channel_bytes(c, shape);
    uint8_t *base = (uint8_t *)cb->cache + (size_t)layer * per_layer;
    view->length = state->length;
    view->n_pruned = state->n_pruned;
    view->kept = shape->kept;
    view->n_chunks = state->n_chunks;
    view->chunk_capacity = shape->chunk_capacity;
    view->chunk_starts = cb->chunk_starts;
    view->k_pruned = base;
    view->k_full = base + kv * (size_t)shape->capacity * (size_t)shape->kept * 2;
    view->v = (uint8_t *)view->k_full + kv * (size_t)shape->full_capacity * D * 2;
    view->kept_channels = (int32_t *)(base + layer_cache_bytes(c, shape));
    view->capacity = shape->capacity;
    view->full_capacity = shape->full_capacity;
}

static llmbed_status cuda_cache_append(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                       const llmbed_cache_append_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_KERNEL_TRY(llmbed_cuda_cache_append(p, cb->k, cb->v, view, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_think_select(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                       const llmbed_think_select_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_KERNEL_TRY(llmbed_cuda_think_select(p, cb->q, cb->k, view, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_cache_compact(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                        const llmbed_cache_compact_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_KERNEL_TRY(llmbed_cuda_cache_compact(p, view, cb->stream, error));
    return LLMBED_OK;
}

static const llmbed_backend_ops cuda_ops = {
    .name = "cuda",
    .reserve = cuda_reserve,
    .activation_bytes = cuda_activation_bytes,
    .begin_forward = cuda_begin_forward,
    .end_forward = cuda_end_forward,
    .embedding = cuda_embedding,
    .rmsnorm = cuda_rmsnorm,
    .linear = cuda_linear,
    .qk_rope = cuda_qk_rope,
    .attention = cuda_attention,
    .swiglu = cuda_swiglu,
    .latent = cuda_latent,
    .pool = cuda_pool,
    .read_hidden = cuda_read_hidden,
    .cache_reserve = cuda_cache_reserve,
    .cache_bytes = cuda_cache_bytes,
    .cache_set_chunks = cuda_cache_set_chunks,
    .cache_view = cuda_cache_view,
    .cache_append = cuda_cache_append,
    .think_select = cuda_think_select,
    .cache_compact = cuda_cache_compact,
    .destroy = cuda_destroy,
};

static llmbed_status setup(cuda_backend *cb, int64_t max_tokens, llmbed_error *error) {
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    LLMBED_CUDA_TRY(cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
    LLMBED_TRY(llmbed_gemm_init(&cb->gemm, GEMM_WORKSPACE_BYTES, error));
    LLMBED_TRY(cuda_reserve(&cb->base, max_tokens, error));
    LLMBED_TRY(upload_weights(cb, error));
    if (cb->base.model->weights.latent.q_logits == NULL) return LLMBED_OK;
    LLMBED_TRY(llmbed_cuda_latent_upload(&cb->latent, cb->base.model, cb->stream, error));
    const size_t bytes = llmbed_cuda_latent_scratch_bytes(&cb->latent, LATENT_ROWS_PER_PASS);
    const cudaError_t rc = cudaMalloc(&cb->latent_scratch, bytes);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "device cuda:%d: cannot allocate %zu MiB for latent pooling: %s",
                           cb->device, bytes >> 20, cudaGetErrorString(rc));
    return LLMBED_OK;
}

llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index, int64_t max_tokens,
                                         llmbed_backend **out, llmbed_error *error) {
    if (out == NULL || model == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: model and out are required");
    *out = NULL;
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess || count == 0)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE, "device cuda:%d: no usable GPU (%s); use --device cpu",
                           device_index, rc != cudaSuccess ? cudaGetErrorString(rc) : "no CUDA device found");
    if (device_index < 0 || device_index >= count)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE, "device cuda:%d: only %d CUDA device(s) (cuda:0..cuda:%d)",
                           device_index, count, count - 1);
    if (max_tokens < 1 || max_tokens > INT32_MAX)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch_tokens: %lld outside [1, %d]",
                           (long long)max_tokens, INT32_MAX);
    const llmbed_config *c = &model->config;
    if (!llmbed_cuda_attention_supports_head_dim(c->head_dim))
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "head_dim: %d has no CUDA attention kernel (supported: 64, 80, 96, 128); use --device cpu",
                           c->head_dim);
    if (c->head_dim > LLMBED_CPU_MAX_HEAD_DIM)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "head_dim: %d above %d", c->head_dim, LLMBED_CPU_MAX_HEAD_DIM);
    cuda_backend *cb = (cuda_backend *)calloc(1, sizeof *cb);
    cuda_layer *layers = (cuda_layer *)calloc((size_t)(c->n_layers > 0 ? c->n_layers : 1), sizeof *layers);
    if (cb == NULL || layers == NULL) {
        free(cb);
        free(layers);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "cuda backend: out of host memory");
    }
    cb->base.ops = &cuda_ops;
    cb->base.model = model;
    cb->base.max_tokens = 0; /* setup's reserve sets the capacity */
    cb->device = device_index;
    cb->layers = layers;
    llmbed_status st = setup(cb, max_tokens, error);
    if (st != LLMBED_OK) {
        cuda_destroy(&cb->base);
        return st;
    }
    *out = &cb->base;
    return LLMBED_OK;
}
