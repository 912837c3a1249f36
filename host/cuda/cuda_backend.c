/* CUDA backend: the ops of host/backend.h on one GPU; the decoder loop
 * (host/decoder/) orders them. Weights are uploaded once as bf16 (norm
 * weights stay fp32), fused at load: q, k and v into one [q | k | v]
 * projection (Qwen2's biases into one bf16 vector, added in the cuBLASLt
 * epilogue) and gate/up into one [gate | up]; activations live in one device
 * arena sized from the token capacity, grown in place by reserve() (weights
 * stay), so no op allocates. One explicit stream carries the input upload
 * (from pinned staging), the kernels and cuBLASLt GEMMs, and the download of
 * the final rows (pooled and post-processed on the device).
 *
 * Per layer: rmsnorm -> QKV GEMM (+bias) -> q/k norm + RoPE (one kernel, in
 * place) -> attention -> o GEMM accumulating into x -> rmsnorm -> gate_up
 * GEMM -> SwiGLU -> down GEMM accumulating into x. Dtypes: the residual
 * stream x and the final hidden states are fp32; xn, qkv, the attention
 * output and the MLP activations are bf16. The o and down projections
 * accumulate into x in the GEMM (beta = 1, fp32 C/D): the residual add costs
 * no pass of its own, and the residual is never rounded to bf16. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_gemm.h"
#include "cuda/cuda_graph.h"
#include "cuda/cuda_latent.h"
#include "cuda/cuda_rope.h"
#include "kernels/attention.cuh"
#include "kernels/attention_cache.cuh"
#include "kernels/embedding.cuh"
#include "kernels/kv_cache.cuh"
#include "kernels/pooling.cuh"
#include "kernels/postprocess.cuh"
#include "kernels/qk_norm_rope.cuh"
#include "kernels/rmsnorm.cuh"
#include "kernels/swiglu.cuh"
#include "kernels/think_select.cuh"

#define GEMM_WORKSPACE_BYTES ((size_t)32 << 20)
#define ARENA_ALIGN ((size_t)256)
#define STAGING_ELEMENTS ((size_t)1 << 22) /* bf16 weight elements converted per upload chunk */

typedef struct cuda_layer {
    /* bf16: w_qkv [qd + 2 kvd, C] (q rows, k rows, v rows), w_gate_up [2I, C] (gate rows, up rows) */
    uint16_t *w_qkv, *wo, *w_gate_up, *w_down;
    uint16_t *b_qkv; /* [qd + 2 kvd] bf16 (Qwen2), or NULL */
    float *attn_norm, *ffn_norm, *q_norm, *k_norm;
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
    float *x, *hidden, *pooled, *scales;
    uint16_t *xn, *qkv, *attn, *gate_up, *mlp; /* qkv [T, qd + 2 kvd], gate_up [T, 2I] (gate | up), mlp [T, I] */
    int32_t *tokens, *offsets, *position_offsets, *pool_begin, *pool_end, *rope_rows;
    llmbed_cuda_rope rope;
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
    /* The forward in progress. An uncached forward is deferred: its ops are
     * recorded and run as a CUDA graph (cuda_graph.h) on a padded shape, the
     * tokens rounded up to a bucket, the sequences and pooled rows to powers
     * of two (empty ones after the real), the longest sequence to a tile. */
    int n_tokens;     /* rows the kernels run: the bucket when deferred */
    int real_tokens;  /* the decoder's */
    int padded_seqs, padded_pools;
    int cached;       /* the forward continues a cache: q is rotated by qk_rope, else by the attention kernel */
    int max_seq_len;  /* longest sequence (sizes the attention grid; a multiple of 64 when deferred) */
    int deferred;
    llmbed_cuda_graphs graphs;
    const float *graph_table; /* the RoPE table the cached graphs read */
} cuda_backend;

/* Where the kernels find q, k and v: heads packed in the fused QKV output. */
static llmbed_cuda_qkv qkv_view(const cuda_backend *cb) {
    const llmbed_config *c = &cb->base.model->config;
    const int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    const llmbed_cuda_qkv view = {cb->qkv, cb->qkv + qd, cb->qkv + qd + kvd, qd + 2 * kvd, qd + 2 * kvd};
    return view;
}

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
    llmbed_cuda_rope_free(&cb->rope);
    llmbed_cuda_graphs_free(&cb->graphs);
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
        d->w_qkv = (uint16_t *)carve(base, &off, (qd + 2 * kvd) * C * 2);
        d->wo = (uint16_t *)carve(base, &off, C * qd * 2);
        d->w_gate_up = (uint16_t *)carve(base, &off, 2 * I * C * 2);
        d->w_down = (uint16_t *)carve(base, &off, C * I * 2);
        d->attn_norm = (float *)carve(base, &off, C * 4);
        d->ffn_norm = (float *)carve(base, &off, C * 4);
        d->q_norm = w->q_norm ? (float *)carve(base, &off, D * 4) : NULL;
        d->k_norm = w->k_norm ? (float *)carve(base, &off, D * 4) : NULL;
        d->b_qkv = w->bq ? (uint16_t *)carve(base, &off, (qd + 2 * kvd) * 2) : NULL;
    }
    return off;
}

/* Converts a weight of any stored representation to bf16 (round to nearest
 * even from its fp32 values, as __float2bfloat16_rn) through the pinned
 * staging buffer, whole rows at a time. */
static llmbed_status upload_bf16(cuda_backend *cb, uint16_t *dst, const llmbed_weight *src, llmbed_error *error) {
    uint16_t *staging = (uint16_t *)cb->staging_in;
    const size_t cols = (size_t)src->cols;
    const int64_t chunk_rows = (int64_t)(STAGING_ELEMENTS / cols > 0 ? STAGING_ELEMENTS / cols : 1);
    for (int64_t row = 0; row < src->rows; row += chunk_rows) {
        const int64_t n_rows = src->rows - row < chunk_rows ? src->rows - row : chunk_rows;
        LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream)); /* staging is free again */
        llmbed_weight_rows_to_bf16(src, row, n_rows, staging);
        LLMBED_CUDA_TRY(cudaMemcpyAsync(dst + (size_t)row * cols, staging, (size_t)n_rows * cols * 2,
                                        cudaMemcpyHostToDevice, cb->stream));
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
    llmbed_status st = upload_bf16(cb, cb->token_embedding, &m->weights.token_embedding, error);
    if (st == LLMBED_OK) st = upload_f32(cb, cb->final_norm, m->weights.final_norm, C, error);
    for (int l = 0; l < c->n_layers && st == LLMBED_OK; l++) {
        const llmbed_layer_weights *w = &m->weights.layers[l];
        cuda_layer *d = &cb->layers[l];
        st = upload_bf16(cb, d->w_qkv, &w->wq, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_qkv + qd * C, &w->wk, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_qkv + (qd + kvd) * C, &w->wv, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->wo, &w->wo, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_gate_up, &w->w_gate, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_gate_up + I * C, &w->w_up, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_down, &w->w_down, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->attn_norm, w->attn_norm, C, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->ffn_norm, w->ffn_norm, C, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->q_norm, w->q_norm, D, error);
        if (st == LLMBED_OK) st = upload_f32(cb, d->k_norm, w->k_norm, D, error);
        /* the fused QKV bias, bf16 for the GEMM epilogue: the fp32 vectors viewed as one-row weights */
        if (d->b_qkv != NULL) {
            const llmbed_weight bq = llmbed_weight_of_f32(w->bq, 1, (int64_t)qd);
            const llmbed_weight bk = llmbed_weight_of_f32(w->bk, 1, (int64_t)kvd);
            const llmbed_weight bv = llmbed_weight_of_f32(w->bv, 1, (int64_t)kvd);
            if (st == LLMBED_OK) st = upload_bf16(cb, d->b_qkv, &bq, error);
            if (st == LLMBED_OK) st = upload_bf16(cb, d->b_qkv + qd, &bk, error);
            if (st == LLMBED_OK) st = upload_bf16(cb, d->b_qkv + qd + kvd, &bv, error);
        }
    }
    if (st != LLMBED_OK) return st;
    LLMBED_CUDA_TRY(cudaStreamSynchronize(cb->stream));
    return LLMBED_OK;
}

/* -------------------------------------------------------------- arena */

/* Bytes of pinned input staging for `tokens` tokens: tokens, offsets,
 * position offsets, pool ranges (n_seqs, n_pools <= tokens), RoPE rows and
 * at most one extra RoPE table row per token; at least one
 * weight-conversion chunk. */
static size_t staging_in_bytes(const llmbed_config *c, size_t tokens) {
    size_t bytes = (tokens + (tokens + 1) + 4 * tokens) * 4 + tokens * (size_t)c->head_dim * 4;
    return bytes < (size_t)STAGING_ELEMENTS * 2 ? (size_t)STAGING_ELEMENTS * 2 : bytes;
}

/* Bytes of pinned output staging: fp32 rows of hidden values (the widest a
 * row gets) and the int8 scales, or post-processing's host rows going up. */
static size_t staging_out_bytes(const llmbed_config *c, size_t tokens) {
    return tokens * ((size_t)c->hidden_size + 1) * 4;
}

static size_t layout_arena(cuda_backend *cb, size_t T, uint8_t *base) {
    const llmbed_config *c = &cb->base.model->config;
    const size_t C = (size_t)c->hidden_size, D = (size_t)c->head_dim;
    const size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D, I = (size_t)c->intermediate_size;
    size_t off = 0;
    cb->x = (float *)carve(base, &off, T * C * 4);
    cb->hidden = (float *)carve(base, &off, T * C * 4);
    cb->pooled = (float *)carve(base, &off, T * C * 4);
    cb->scales = (float *)carve(base, &off, T * 4);
    cb->xn = (uint16_t *)carve(base, &off, T * C * 2);
    cb->qkv = (uint16_t *)carve(base, &off, T * (qd + 2 * kvd) * 2);
    cb->attn = (uint16_t *)carve(base, &off, T * qd * 2);
    cb->gate_up = (uint16_t *)carve(base, &off, T * 2 * I * 2);
    cb->mlp = (uint16_t *)carve(base, &off, T * I * 2);
    cb->tokens = (int32_t *)carve(base, &off, T * 4);
    cb->offsets = (int32_t *)carve(base, &off, (T + 1) * 4);
    cb->position_offsets = (int32_t *)carve(base, &off, T * 4);
    cb->pool_begin = (int32_t *)carve(base, &off, T * 4);
    cb->pool_end = (int32_t *)carve(base, &off, T * 4);
    cb->rope_rows = (int32_t *)carve(base, &off, T * 4);
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
    /* + the RoPE table: positions up to the budget and as many extra rows (head_dim floats a row) */
    return arena_bytes((const cuda_backend *)backend, T) + staging_in_bytes(c, T) + staging_out_bytes(c, T) +
           2 * T * (size_t)c->head_dim * 4;
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
    const size_t out_bytes = staging_out_bytes(c, T);
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
    llmbed_cuda_graphs_clear(&cb->graphs); /* they point into the old arena */
    if (cb->arena) cudaFree(cb->arena);
    if (cb->staging_in) cudaFreeHost(cb->staging_in);
    if (cb->staging_out) cudaFreeHost(cb->staging_out);
    cb->arena = arena;
    cb->staging_in = staging_in;
    cb->staging_out = (float *)staging_out;
    layout_arena(cb, T, (uint8_t *)arena);
    backend->max_tokens = max_tokens;
    /* one extra RoPE row per token at most; the table exists once setup made it */
    if (cb->rope.table != NULL) LLMBED_TRY(llmbed_cuda_rope_reserve_extra(&cb->rope, (int)max_tokens, cb->stream, error));
    return LLMBED_OK;
}

/* ---------------------------------------------------------------- ops */

/* Tokens a deferred forward runs: T rounded up to a multiple of the power of
 * two q with T / 16 < q <= T / 8 (at least 64): under 1/8 more rows, a few
 * buckets per doubling of T, never above the capacity. */
static int token_bucket(int T, int64_t capacity) {
    int64_t q = 64;
    while (q * 16 <= T) q *= 2;
    const int64_t bucket = ((int64_t)T + q - 1) / q * q;
    return bucket > capacity ? (int)capacity : (int)bucket;
}

static int pow2_at_least(int n, int64_t capacity) {
    int64_t p = 1;
    while (p < n) p *= 2;
    return p > capacity ? (int)capacity : (int)p;
}

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

/* n int32 values of host then `fill` up to padded, staged as one copy. */
static llmbed_status stage_padded(cuda_backend *cb, size_t *cursor, int32_t *device, const int32_t *host, int n,
                                  int padded, int32_t fill, llmbed_error *error) {
    if (padded == 0 || host == NULL) return LLMBED_OK;
    int32_t *pinned = (int32_t *)((uint8_t *)cb->staging_in + *cursor);
    memcpy(pinned, host, (size_t)n * 4);
    for (int i = n; i < padded; i++) pinned[i] = fill;
    *cursor += (size_t)padded * 4;
    LLMBED_CUDA_TRY(cudaMemcpyAsync(device, pinned, (size_t)padded * 4, cudaMemcpyHostToDevice, cb->stream));
    return LLMBED_OK;
}

static llmbed_status cuda_begin_forward(llmbed_backend *backend, const llmbed_forward_inputs *host,
                                        llmbed_forward_inputs *view, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_config *c = &backend->model->config;
    const int T = host->n_tokens, n = host->n_seqs;
    if (host->n_pools > backend->max_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: %d pooled rows above the capacity of %lld",
                           host->n_pools, (long long)backend->max_tokens);
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    llmbed_cuda_graphs_discard(&cb->graphs);
    cb->cached = host->position_offsets != NULL;
    cb->deferred = !cb->cached;
    cb->real_tokens = T;
    cb->n_tokens = cb->deferred ? token_bucket(T, backend->max_tokens) : T;
    cb->padded_seqs = cb->deferred ? pow2_at_least(n, backend->max_tokens) : n;
    cb->padded_pools = cb->deferred ? pow2_at_least(host->n_pools, backend->max_tokens) : host->n_pools;
    cb->max_seq_len = 0;
    for (int s = 0; s < n; s++) {
        const int len = host->seq_offsets[s + 1] - host->seq_offsets[s];
        cb->max_seq_len = len > cb->max_seq_len ? len : cb->max_seq_len;
    }
    if (cb->deferred) cb->max_seq_len = (cb->max_seq_len + 63) / 64 * 64;
    /* the previous forward's downloads are done (pool/read_hidden synchronise), so staging is free;
     * padded tokens are token 0 in no sequence, padded sequences empty, padded pools empty ranges */
    size_t cursor = 0;
    LLMBED_TRY(stage_padded(cb, &cursor, cb->tokens, host->tokens, T, cb->n_tokens, 0, error));
    LLMBED_TRY(stage_padded(cb, &cursor, cb->offsets, host->seq_offsets, n + 1, cb->padded_seqs + 1, T, error));
    LLMBED_TRY(stage(cb, &cursor, cb->position_offsets, host->position_offsets, (size_t)n * 4, error));
    LLMBED_TRY(stage_padded(cb, &cursor, cb->pool_begin, host->pool_begin, host->n_pools, cb->padded_pools, 0, error));
    LLMBED_TRY(stage_padded(cb, &cursor, cb->pool_end, host->pool_end, host->n_pools, cb->padded_pools, 0, error));
    /* each token's RoPE table row (and the rows of sequences with frequencies of their own), host-built */
    int32_t *rows = (int32_t *)((uint8_t *)cb->staging_in + cursor);
    float *extra = (float *)(rows + cb->n_tokens);
    int n_extra = 0;
    LLMBED_TRY(llmbed_cuda_rope_prepare(&cb->rope, host, rows, extra, &n_extra, cb->stream, error));
    for (int t = T; t < cb->n_tokens; t++) rows[t] = 0;
    LLMBED_CUDA_TRY(
        cudaMemcpyAsync(cb->rope_rows, rows, (size_t)cb->n_tokens * 4, cudaMemcpyHostToDevice, cb->stream));
    if (n_extra > 0)
        LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->rope.table + (size_t)cb->rope.base_capacity * (size_t)c->head_dim, extra,
                                        (size_t)n_extra * (size_t)c->head_dim * 4, cudaMemcpyHostToDevice, cb->stream));
    *view = *host;
    view->tokens = cb->tokens;
    view->seq_offsets = cb->offsets;
    view->position_offsets = host->position_offsets ? cb->position_offsets : NULL;
    view->inv_freq = NULL; /* the kernels read the RoPE table instead */
    view->pool_begin = host->pool_begin ? cb->pool_begin : NULL;
    view->pool_end = host->pool_end ? cb->pool_end : NULL;
    return LLMBED_OK;
}

static void cuda_end_forward(llmbed_backend *backend) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_graphs_discard(&cb->graphs); /* a forward that failed before its rows were read */
    cb->deferred = 0;
}

/* ---------------------------------------------- ops: eager implementations */

static llmbed_status run_embedding(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    LLMBED_KERNEL_TRY(llmbed_cuda_embedding(&op->p.embedding, op->tokens, cb->token_embedding, cb->x, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_rmsnorm(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    const float *w = op->weight == LLMBED_W_FINAL_NORM  ? cb->final_norm
                     : op->weight == LLMBED_W_ATTN_NORM ? cb->layers[op->layer].attn_norm
                                                        : cb->layers[op->layer].ffn_norm;
    const llmbed_rmsnorm_params *p = &op->p.rmsnorm;
    if (op->out == LLMBED_ACT_HIDDEN)
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(p, cb->x, w, cb->hidden, LLMBED_CUDA_F32, cb->stream, error));
    else
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(p, cb->x, w, cb->xn, LLMBED_CUDA_BF16, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_linear(cuda_backend *cb, const llmbed_cuda_op *o, llmbed_error *error) {
    const llmbed_config *c = &cb->base.model->config;
    const llmbed_linear_op *op = &o->p.linear;
    const cuda_layer *w = &cb->layers[op->layer];
    const int T = op->n_tokens, C = c->hidden_size, I = c->intermediate_size;
    const int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    llmbed_gemm *g = &cb->gemm;
    cudaStream_t s = cb->stream;
    switch (op->weight) {
    case LLMBED_W_QKV:
        return llmbed_gemm_run(g, "gemm qkv", T, C, qd + 2 * kvd, cb->xn, w->w_qkv, w->b_qkv, cb->qkv, 0, 1.0f, 0.0f,
                               s, error);
    case LLMBED_W_O:
        return llmbed_gemm_run(g, "gemm o", T, qd, C, cb->attn, w->wo, NULL, cb->x, 1, op->residual_scale, 1.0f, s,
                               error);
    case LLMBED_W_GATE_UP:
        return llmbed_gemm_run(g, "gemm gate_up", T, C, 2 * I, cb->xn, w->w_gate_up, NULL, cb->gate_up, 0, 1.0f, 0.0f,
                               s, error);
    case LLMBED_W_DOWN:
        return llmbed_gemm_run(g, "gemm down", T, I, C, cb->mlp, w->w_down, NULL, cb->x, 1, op->residual_scale, 1.0f,
                               s, error);
    default:
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cuda backend: weight %d is not a projection", (int)op->weight);
    }
}

/* One kernel: q/k norm (when the model has it) and RoPE from the table, in
 * place in qkv; only k without a cache, as the attention kernel normalises
 * and rotates q while it holds the query tile (q then never makes a pass of
 * its own through memory). */
static llmbed_status run_qk_rope(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    const cuda_layer *w = &cb->layers[op->layer];
    const llmbed_qk_norm_rope_params p = {cb->n_tokens, op->p.rope.q.n_heads, op->p.rope.k.n_heads,
                                          op->p.rope.q.head_dim, op->qk_norm ? op->p.rope.q_norm.eps : 0.0f,
                                          cb->cached};
    const llmbed_cuda_qkv view = qkv_view(cb);
    LLMBED_KERNEL_TRY(llmbed_cuda_qk_norm_rope(&p, &view, op->qk_norm ? w->q_norm : NULL,
                                               op->qk_norm ? w->k_norm : NULL, cb->rope.table, cb->rope_rows,
                                               cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_attention(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    const llmbed_attention_params *p = &op->p.attention;
    const llmbed_cuda_qkv view = qkv_view(cb);
    if (p->cache != NULL) {
        LLMBED_KERNEL_TRY(llmbed_cuda_attention_cache(p, cb->max_seq_len, &view, cb->attn, cb->stream, error));
        return LLMBED_OK;
    }
    const cuda_layer *w = &cb->layers[op->layer];
    const llmbed_cuda_q_rope q_rope = {w->q_norm, cb->base.model->config.rms_norm_eps, cb->rope.table,
                                       cb->rope_rows};
    LLMBED_KERNEL_TRY(llmbed_cuda_attention(p, cb->max_seq_len, &view, &q_rope, cb->attn, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_swiglu(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    const llmbed_swiglu_params *p = &op->p.swiglu;
    /* out of place: the kernel's inputs and output are __restrict__ */
    LLMBED_KERNEL_TRY(llmbed_cuda_swiglu(p, cb->gate_up, cb->gate_up + p->intermediate, 2 * p->intermediate, cb->mlp,
                                         cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_latent(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    const llmbed_latent_attention_params *p = &op->p.latent;
    if (cb->latent_scratch == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "cuda backend: the model has no latent pooling block");
    /* pooled (T x hidden fp32) holds the block's output, copied back into hidden */
    LLMBED_TRY(llmbed_cuda_latent_run(&cb->gemm, &cb->latent, p->n_tokens, cb->hidden, cb->pooled, cb->latent_scratch,
                                      p->chunk_tokens, cb->stream, error));
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->hidden, cb->pooled, (size_t)p->n_tokens * (size_t)p->hidden * 4,
                                    cudaMemcpyDeviceToDevice, cb->stream));
    return LLMBED_OK;
}

static llmbed_status run_pool(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    LLMBED_KERNEL_TRY(llmbed_cuda_pooling(&op->p.pool, cb->hidden, cb->pooled, cb->n_tokens, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status run_op(llmbed_backend *backend, const llmbed_cuda_op *op, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    switch (op->kind) {
    case LLMBED_CUDA_OP_EMBEDDING: return run_embedding(cb, op, error);
    case LLMBED_CUDA_OP_RMSNORM: return run_rmsnorm(cb, op, error);
    case LLMBED_CUDA_OP_LINEAR: return run_linear(cb, op, error);
    case LLMBED_CUDA_OP_QK_ROPE: return run_qk_rope(cb, op, error);
    case LLMBED_CUDA_OP_ATTENTION: return run_attention(cb, op, error);
    case LLMBED_CUDA_OP_SWIGLU: return run_swiglu(cb, op, error);
    case LLMBED_CUDA_OP_LATENT: return run_latent(cb, op, error);
    case LLMBED_CUDA_OP_POOL: return run_pool(cb, op, error);
    }
    return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cuda backend: op %d", (int)op->kind);
}

/* ------------------------------------------- ops: recorded or run at once */

/* An uncached forward's ops are recorded for its graph (cuda_graph.h), with
 * the token count of the padded bucket; others run at once. */
static llmbed_status dispatch(cuda_backend *cb, const llmbed_cuda_op *op, llmbed_error *error) {
    if (cb->deferred) return llmbed_cuda_graphs_record(&cb->graphs, op, error);
    return run_op(&cb->base, op, error);
}

/* n_tokens of a decoder op -> the rows the backend runs (the bucket when padded). */
static int rows_of(const cuda_backend *cb, int n_tokens) {
    return cb->deferred && n_tokens == cb->real_tokens ? cb->n_tokens : n_tokens;
}

/* Ops are zeroed, then filled field by field: a struct copied whole may
 * bring the caller's uninitialised padding bytes, and the record is hashed. */
static void new_op(llmbed_cuda_op *op, llmbed_cuda_op_kind kind) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
}

static void copy_rope(llmbed_rope_params *to, const llmbed_rope_params *from) {
    to->n_seqs = from->n_seqs;
    to->seq_offsets = from->seq_offsets;
    to->n_heads = from->n_heads;
    to->head_dim = from->head_dim;
    to->row_stride = from->row_stride;
    to->inv_freq = from->inv_freq;
    to->attention_scaling = from->attention_scaling;
    to->position_offsets = from->position_offsets;
}

static llmbed_status cuda_embedding(llmbed_backend *backend, const llmbed_embedding_params *p,
                                    const int32_t *tokens, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_EMBEDDING);
    op.p.embedding = *p;
    op.p.embedding.n_tokens = rows_of(cb, p->n_tokens);
    op.tokens = tokens;
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_rmsnorm(llmbed_backend *backend, const llmbed_rmsnorm_params *p, int layer,
                                  llmbed_weight_kind weight, llmbed_act out, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_RMSNORM);
    op.p.rmsnorm = *p;
    op.p.rmsnorm.n_rows = rows_of(cb, p->n_rows);
    op.layer = layer, op.weight = (int)weight, op.out = (int)out;
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_linear(llmbed_backend *backend, const llmbed_linear_op *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_LINEAR);
    op.p.linear = *p;
    op.p.linear.n_tokens = rows_of(cb, p->n_tokens);
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_qk_rope(llmbed_backend *backend, int layer, const llmbed_rmsnorm_params *q_norm,
                                  const llmbed_rmsnorm_params *k_norm, const llmbed_rope_params *q,
                                  const llmbed_rope_params *k, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_QK_ROPE);
    op.layer = layer;
    op.qk_norm = q_norm != NULL && k_norm != NULL;
    if (op.qk_norm) op.p.rope.q_norm = *q_norm, op.p.rope.k_norm = *k_norm;
    copy_rope(&op.p.rope.q, q);
    copy_rope(&op.p.rope.k, k);
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_attention(llmbed_backend *backend, int layer, const llmbed_attention_params *p,
                                    llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_ATTENTION);
    op.layer = layer;
    llmbed_attention_params *a = &op.p.attention;
    a->n_seqs = cb->deferred ? cb->padded_seqs : p->n_seqs; /* empty sequences after the real ones */
    a->seq_offsets = p->seq_offsets;
    a->n_heads = p->n_heads;
    a->n_kv_heads = p->n_kv_heads;
    a->head_dim = p->head_dim;
    a->causal = p->causal;
    a->scale = p->scale;
    a->cache_lens = p->cache_lens;
    a->cache = p->cache;
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_swiglu(llmbed_backend *backend, const llmbed_swiglu_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_SWIGLU);
    op.p.swiglu = *p;
    op.p.swiglu.n_tokens = rows_of(cb, p->n_tokens);
    return dispatch(cb, &op, error);
}

static llmbed_status cuda_latent(llmbed_backend *backend, const llmbed_latent_attention_params *p,
                                 llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_LATENT);
    op.p.latent = *p;
    op.p.latent.n_tokens = rows_of(cb, p->n_tokens);
    return dispatch(cb, &op, error);
}

/* Device bytes (and, when scales is not NULL, n_scales floats of cb->scales)
 * -> pinned staging -> out, then the one synchronise of a forward. */
static llmbed_status download(cuda_backend *cb, const void *rows, size_t bytes, void *out, float *scales,
                              size_t n_scales, llmbed_error *error) {
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->staging_out, rows, bytes, cudaMemcpyDeviceToHost, cb->stream));
    float *staged_scales = (float *)((uint8_t *)cb->staging_out + (bytes + 3) / 4 * 4);
    if (scales != NULL)
        LLMBED_CUDA_TRY(
            cudaMemcpyAsync(staged_scales, cb->scales, n_scales * 4, cudaMemcpyDeviceToHost, cb->stream));
    const cudaError_t rc = cudaStreamSynchronize(cb->stream);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_CUDA,
                           "device cuda:%d: a kernel or copy of this forward failed: %s (LLMBED_CUDA_SYNC=1 "
                           "synchronises after every launch and names the op)",
                           cb->device, cudaGetErrorString(rc));
    memcpy(out, cb->staging_out, bytes);
    if (scales != NULL) memcpy(scales, staged_scales, n_scales * 4);
    return LLMBED_OK;
}

static llmbed_status cuda_pool(llmbed_backend *backend, const llmbed_pooling_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    llmbed_cuda_op op;
    new_op(&op, LLMBED_CUDA_OP_POOL);
    op.p.pool.kind = p->kind;
    op.p.pool.n_rows = cb->deferred ? cb->padded_pools : p->n_rows; /* empty ranges after the real ones */
    op.p.pool.begin = p->begin;
    op.p.pool.end = p->end;
    op.p.pool.hidden = p->hidden;
    return dispatch(cb, &op, error);
}

/* The forward's recorded ops, as its graph (uncached forwards), before rows are read. */
static llmbed_status flush(cuda_backend *cb, llmbed_error *error) {
    if (!cb->deferred) return LLMBED_OK;
    cb->deferred = 0;
    if (cb->graph_table != cb->rope.table) { /* the RoPE table moved: graphs hold its old address */
        llmbed_cuda_graphs_clear(&cb->graphs);
        cb->graph_table = cb->rope.table;
    }
    const uint64_t shape = (uint64_t)cb->n_tokens | (uint64_t)cb->padded_seqs << 32;
    return llmbed_cuda_graphs_flush(&cb->graphs, shape ^ ((uint64_t)cb->max_seq_len << 20), &cb->base, run_op,
                                    cb->stream, error);
}

/* Bytes of one stored row (llmbed_postprocess_params.precision). */
static size_t row_bytes(const llmbed_postprocess_params *p) {
    switch (p->precision) {
    case LLMBED_PRECISION_FLOAT32: return (size_t)p->dims * 4;
    case LLMBED_PRECISION_FLOAT16: return (size_t)p->dims * 2;
    case LLMBED_PRECISION_INT8: return (size_t)p->dims;
    default: return ((size_t)p->dims + 7) / 8;
    }
}

/* Pooled rows (or host_rows, uploaded into `pooled` first) -> final rows in
 * x (free once the final norm has run) -> out: only final rows come back. */
static llmbed_status cuda_postprocess(llmbed_backend *backend, const llmbed_postprocess_params *p,
                                      const float *host_rows, void *out, float *scales, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (p->n_rows > backend->max_tokens || p->in_dims != backend->model->config.hidden_size)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: postprocess of %d rows of %d (capacity %lld)",
                           p->n_rows, p->in_dims, (long long)backend->max_tokens);
    LLMBED_TRY(flush(cb, error));
    if (host_rows != NULL) {
        const size_t bytes = (size_t)p->n_rows * (size_t)p->in_dims * 4;
        memcpy(cb->staging_out, host_rows, bytes);
        LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->pooled, cb->staging_out, bytes, cudaMemcpyHostToDevice, cb->stream));
    }
    /* every pooled row the graph made (the padded ones are empty ranges), only the real ones come back */
    llmbed_postprocess_params padded = *p;
    if (host_rows == NULL && cb->padded_pools > p->n_rows) padded.n_rows = cb->padded_pools;
    LLMBED_KERNEL_TRY(
        llmbed_cuda_postprocess(&padded, cb->pooled, cb->x, scales != NULL ? cb->scales : NULL, cb->stream, error));
    return download(cb, cb->x, (size_t)p->n_rows * row_bytes(p), out, scales, (size_t)p->n_rows, error);
}

static llmbed_status cuda_read_hidden(llmbed_backend *backend, int n_rows, float *out, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    LLMBED_TRY(flush(cb, error));
    return download(cb, cb->hidden, (size_t)n_rows * (size_t)backend->model->config.hidden_size * 4, out, NULL, 0,
                    error);
}

/* --------------------------------------------------------------- cache */

/* Bytes of one layer's three bf16 cache arrays: pruned keys [kv, capacity,
 * kept], full keys [kv, full_capacity, D], values [kv, capacity, D]. Each
 * starts on an arena boundary: the attention kernel loads full keys and
 * values with 16-byte cp.async, and an odd `kept` would otherwise leave them
 * misaligned. */
static size_t pruned_keys_bytes(const llmbed_config *c, const llmbed_cache_shape *shape) {
    return align_up((size_t)c->n_kv_heads * (size_t)shape->capacity * (size_t)shape->kept * 2);
}

static size_t full_keys_bytes(const llmbed_config *c, const llmbed_cache_shape *shape) {
    return align_up((size_t)c->n_kv_heads * (size_t)shape->full_capacity * (size_t)c->head_dim * 2);
}

static size_t layer_cache_bytes(const llmbed_config *c, const llmbed_cache_shape *shape) {
    return pruned_keys_bytes(c, shape) + full_keys_bytes(c, shape) +
           align_up((size_t)c->n_kv_heads * (size_t)shape->capacity * (size_t)c->head_dim * 2);
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
    const size_t per_layer = layer_cache_bytes(c, shape) + layer_channel_bytes(c, shape);
    uint8_t *base = (uint8_t *)cb->cache + (size_t)layer * per_layer;
    view->length = state->length;
    view->n_pruned = state->n_pruned;
    view->kept = shape->kept;
    view->n_chunks = state->n_chunks;
    view->chunk_capacity = shape->chunk_capacity;
    view->chunk_starts = cb->chunk_starts;
    view->k_pruned = base;
    view->k_full = base + pruned_keys_bytes(c, shape);
    view->v = base + pruned_keys_bytes(c, shape) + full_keys_bytes(c, shape);
    view->kept_channels = (int32_t *)(base + layer_cache_bytes(c, shape));
    view->capacity = shape->capacity;
    view->full_capacity = shape->full_capacity;
}

static llmbed_status cuda_cache_append(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                       const llmbed_cache_append_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_cuda_qkv qkv = qkv_view(cb);
    LLMBED_KERNEL_TRY(llmbed_cuda_cache_append(p, &qkv, view, cb->stream, error));
    return LLMBED_OK;
}

static llmbed_status cuda_think_select(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                       const llmbed_think_select_params *p, llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_cuda_qkv qkv = qkv_view(cb);
    LLMBED_KERNEL_TRY(llmbed_cuda_think_select(p, &qkv, view, cb->stream, error));
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
    .postprocess = cuda_postprocess,
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
    llmbed_cuda_graphs_init(&cb->graphs);
    LLMBED_TRY(cuda_reserve(&cb->base, max_tokens, error));
    LLMBED_TRY(upload_weights(cb, error));
    /* RoPE rows for positions up to the budget (grown when a forward reaches further) */
    LLMBED_TRY(llmbed_cuda_rope_init(&cb->rope, &cb->base.model->config, (int)max_tokens, (int)max_tokens, cb->stream,
                                     error));
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
