/* CUDA backend: the decoder on one GPU. Weights are uploaded once as bf16
 * (norm weights and biases stay fp32); every activation lives in one device
 * arena sized from the token budget at creation, so forward() allocates
 * nothing. One explicit stream carries the input upload (from pinned
 * staging), the kernels and cuBLASLt GEMMs, and the output download.
 *
 * Per layer (HF LlamaDecoderLayer; the residual stream x stays fp32):
 *   xn = rmsnorm(x += rs * delta)         fused add (delta = previous sublayer's output)
 *   q, k, v = xn Wq^T, xn Wk^T, xn Wv^T   bf16 out (+ Qwen2 bias), Qwen3 q/k norm, RoPE
 *   delta = attention(q, k, v) Wo^T       fp32 out
 *   xn = rmsnorm(x += rs * delta)
 *   delta = swiglu(xn Wg^T, xn Wu^T) Wd^T
 * then the final norm (fused with the last residual add) and pooling. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_gemm.h"
#include "kernels/attention.cuh"
#include "kernels/bias.cuh"
#include "kernels/embedding.cuh"
#include "kernels/pooling.cuh"
#include "kernels/rmsnorm.cuh"
#include "kernels/rope.cuh"
#include "kernels/swiglu.cuh"

#define GEMM_WORKSPACE_BYTES ((size_t)32 << 20)
#define ARENA_ALIGN ((size_t)256)
#define STAGING_ELEMENTS ((size_t)1 << 22) /* bf16 weight elements converted per upload chunk */

typedef struct cuda_layer {
    uint16_t *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down; /* bf16 */
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
    float *x, *delta, *hidden_out, *pooled;
    uint16_t *xn, *q, *k, *v, *attn, *gate, *up;
    int32_t *tokens, *offsets, *instruction_lens;
    float *inv_freq;
    /* Pinned staging: inputs up ([tokens | offsets | instruction lens | inv_freq]), outputs down. */
    void *staging_in;
    float *staging_out;
    size_t staging_in_bytes;
} cuda_backend;

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

/* fp32 -> bf16 bits, round to nearest even (NaN -> 0x7fff), as __float2bfloat16_rn. */
static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void cuda_destroy(llmbed_backend *backend) {
    cuda_backend *cb = (cuda_backend *)backend;
    if (cb == NULL) return;
    if (cb->stream) cudaStreamSynchronize(cb->stream);
    llmbed_gemm_free(&cb->gemm);
    if (cb->weights) cudaFree(cb->weights);
    if (cb->arena) cudaFree(cb->arena);
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
        d->w_gate = (uint16_t *)carve(base, &off, I * C * 2);
        d->w_up = (uint16_t *)carve(base, &off, I * C * 2);
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
        for (size_t i = 0; i < count; i++) staging[i] = f32_to_bf16(src[done + i]);
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
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_gate, w->w_gate, I * C, error);
        if (st == LLMBED_OK) st = upload_bf16(cb, d->w_up, w->w_up, I * C, error);
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

static size_t layout_arena(cuda_backend *cb, uint8_t *base) {
    const llmbed_config *c = &cb->base.model->config;
    const size_t T = (size_t)cb->base.max_tokens, C = (size_t)c->hidden_size, D = (size_t)c->head_dim;
    const size_t qd = (size_t)c->n_heads * D, kvd = (size_t)c->n_kv_heads * D, I = (size_t)c->intermediate_size;
    size_t off = 0;
    cb->x = (float *)carve(base, &off, T * C * 4);
    cb->delta = (float *)carve(base, &off, T * C * 4);
    cb->hidden_out = (float *)carve(base, &off, T * C * 4);
    cb->pooled = (float *)carve(base, &off, T * C * 4);
    cb->xn = (uint16_t *)carve(base, &off, T * C * 2);
    cb->q = (uint16_t *)carve(base, &off, T * qd * 2);
    cb->k = (uint16_t *)carve(base, &off, T * kvd * 2);
    cb->v = (uint16_t *)carve(base, &off, T * kvd * 2);
    cb->attn = (uint16_t *)carve(base, &off, T * qd * 2);
    cb->gate = (uint16_t *)carve(base, &off, T * I * 2);
    cb->up = (uint16_t *)carve(base, &off, T * I * 2);
    cb->tokens = (int32_t *)carve(base, &off, T * 4);
    cb->offsets = (int32_t *)carve(base, &off, (T + 1) * 4);
    cb->instruction_lens = (int32_t *)carve(base, &off, T * 4);
    cb->inv_freq = (float *)carve(base, &off, T * (D / 2) * 4);
    return off;
}

/* ------------------------------------------------------------ forward */

static llmbed_status run_layer(cuda_backend *cb, const cuda_layer *w, const llmbed_forward_request *req,
                               int pending_delta, int max_len, const llmbed_attention_params *attn,
                               const llmbed_rope_params *rope_q, const llmbed_rope_params *rope_k,
                               llmbed_error *error) {
    const llmbed_config *c = &cb->base.model->config;
    const int T = req->n_tokens, C = c->hidden_size, D = c->head_dim, I = c->intermediate_size;
    const int qd = c->n_heads * D, kvd = c->n_kv_heads * D;
    const float rs = c->residual_scale;
    cudaStream_t s = cb->stream;
    const llmbed_rmsnorm_params norm = {T, C, c->rms_norm_eps};

    if (pending_delta)
        LLMBED_KERNEL_TRY(llmbed_cuda_add_rmsnorm(&norm, cb->x, cb->delta, rs, w->attn_norm, cb->xn, LLMBED_CUDA_BF16, s));
    else
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(&norm, cb->x, LLMBED_CUDA_F32, w->attn_norm, cb->xn, LLMBED_CUDA_BF16, s));
    llmbed_status st = llmbed_gemm_run(&cb->gemm, T, C, qd, cb->xn, w->wq, cb->q, 0, 1.0f, 0.0f, s, error);
    if (st == LLMBED_OK) st = llmbed_gemm_run(&cb->gemm, T, C, kvd, cb->xn, w->wk, cb->k, 0, 1.0f, 0.0f, s, error);
    if (st == LLMBED_OK) st = llmbed_gemm_run(&cb->gemm, T, C, kvd, cb->xn, w->wv, cb->v, 0, 1.0f, 0.0f, s, error);
    if (st != LLMBED_OK) return st;
    if (w->bq) {
        LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, qd, cb->q, w->bq, s));
        LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, kvd, cb->k, w->bk, s));
        LLMBED_KERNEL_TRY(llmbed_cuda_add_bias(T, kvd, cb->v, w->bv, s));
    }
    if (w->q_norm) { /* Qwen3: per-head RMSNorm over head_dim, before RoPE */
        const llmbed_rmsnorm_params qn = {T * c->n_heads, D, c->rms_norm_eps};
        const llmbed_rmsnorm_params kn = {T * c->n_kv_heads, D, c->rms_norm_eps};
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(&qn, cb->q, LLMBED_CUDA_BF16, w->q_norm, cb->q, LLMBED_CUDA_BF16, s));
        LLMBED_KERNEL_TRY(llmbed_cuda_rmsnorm(&kn, cb->k, LLMBED_CUDA_BF16, w->k_norm, cb->k, LLMBED_CUDA_BF16, s));
    }
    LLMBED_KERNEL_TRY(llmbed_cuda_rope(rope_q, T, cb->q, s));
    LLMBED_KERNEL_TRY(llmbed_cuda_rope(rope_k, T, cb->k, s));
    LLMBED_KERNEL_TRY(llmbed_cuda_attention(attn, max_len, cb->q, cb->k, cb->v, cb->attn, s));
    st = llmbed_gemm_run(&cb->gemm, T, qd, C, cb->attn, w->wo, cb->delta, 1, 1.0f, 0.0f, s, error);
    if (st != LLMBED_OK) return st;

    LLMBED_KERNEL_TRY(llmbed_cuda_add_rmsnorm(&norm, cb->x, cb->delta, rs, w->ffn_norm, cb->xn, LLMBED_CUDA_BF16, s));
    st = llmbed_gemm_run(&cb->gemm, T, C, I, cb->xn, w->w_gate, cb->gate, 0, 1.0f, 0.0f, s, error);
    if (st == LLMBED_OK) st = llmbed_gemm_run(&cb->gemm, T, C, I, cb->xn, w->w_up, cb->up, 0, 1.0f, 0.0f, s, error);
    if (st != LLMBED_OK) return st;
    const llmbed_swiglu_params mlp = {T, I};
    LLMBED_KERNEL_TRY(llmbed_cuda_swiglu(&mlp, cb->gate, cb->up, I, cb->gate, s));
    return llmbed_gemm_run(&cb->gemm, T, I, C, cb->gate, w->w_down, cb->delta, 1, 1.0f, 0.0f, s, error);
}

static llmbed_status run_forward(cuda_backend *cb, const llmbed_forward_request *req, float *out,
                                 llmbed_error *error) {
    const llmbed_model *m = cb->base.model;
    const llmbed_config *c = &m->config;
    const int T = req->n_tokens, n = req->n_seqs, C = c->hidden_size, D = c->head_dim, half = D / 2;
    cudaStream_t s = cb->stream;

    /* Inputs -> pinned staging -> device, in one copy each. */
    uint8_t *stage = (uint8_t *)cb->staging_in;
    int32_t *h_tokens = (int32_t *)stage;
    int32_t *h_offsets = h_tokens + T;
    int32_t *h_instr = h_offsets + n + 1;
    float *h_freq = (float *)(h_instr + n);
    memcpy(h_tokens, req->tokens, (size_t)T * 4);
    memcpy(h_offsets, req->seq_offsets, (size_t)(n + 1) * 4);
    if (req->instruction_lens) memcpy(h_instr, req->instruction_lens, (size_t)n * 4);
    float attention_scaling = 1.0f;
    int max_len = 0;
    for (int i = 0; i < n; i++) {
        const int len = req->seq_offsets[i + 1] - req->seq_offsets[i];
        max_len = len > max_len ? len : max_len;
        llmbed_status st = llmbed_cpu_rope_frequencies(c, len, h_freq + (size_t)i * half, &attention_scaling, error);
        if (st != LLMBED_OK) return st;
    }
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->tokens, h_tokens, (size_t)T * 4, cudaMemcpyHostToDevice, s));
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->offsets, h_offsets, (size_t)(n + 1) * 4, cudaMemcpyHostToDevice, s));
    if (req->instruction_lens)
        LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->instruction_lens, h_instr, (size_t)n * 4, cudaMemcpyHostToDevice, s));
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->inv_freq, h_freq, (size_t)n * half * 4, cudaMemcpyHostToDevice, s));

    const llmbed_rope_params rope_q = {n, cb->offsets, c->n_heads, D, c->n_heads * D, cb->inv_freq, attention_scaling};
    const llmbed_rope_params rope_k = {n, cb->offsets, c->n_kv_heads, D, c->n_kv_heads * D, cb->inv_freq,
                                       attention_scaling};
    const llmbed_attention_params attn = {n, cb->offsets, c->n_heads, c->n_kv_heads, D, req->causal,
                                          (float)(1.0 / sqrt((double)D))};
    const llmbed_embedding_params emb = {T, C, c->vocab_size, c->scale_emb};
    LLMBED_KERNEL_TRY(llmbed_cuda_embedding(&emb, cb->tokens, cb->token_embedding, cb->x, s));
    for (int l = 0; l < req->n_layers; l++) {
        llmbed_status st = run_layer(cb, &cb->layers[l], req, l > 0, max_len, &attn, &rope_q, &rope_k, error);
        if (st != LLMBED_OK) return st;
    }
    const llmbed_rmsnorm_params final_norm = {T, C, c->rms_norm_eps};
    if (req->n_layers > 0)
        LLMBED_KERNEL_TRY(llmbed_cuda_add_rmsnorm(&final_norm, cb->x, cb->delta, c->residual_scale, cb->final_norm,
                                                  cb->hidden_out, LLMBED_CUDA_F32, s));
    else
        LLMBED_KERNEL_TRY(
            llmbed_cuda_rmsnorm(&final_norm, cb->x, LLMBED_CUDA_F32, cb->final_norm, cb->hidden_out, LLMBED_CUDA_F32, s));

    const float *result = cb->hidden_out;
    size_t rows = (size_t)T;
    if (req->pool_kind != 0) {
        const llmbed_pooling_params pool = {(llmbed_pool_kind)req->pool_kind, n, cb->offsets,
                                            req->instruction_lens ? cb->instruction_lens : NULL, C};
        LLMBED_KERNEL_TRY(llmbed_cuda_pooling(&pool, cb->hidden_out, cb->pooled, s));
        result = cb->pooled;
        rows = (size_t)n;
    }
    LLMBED_CUDA_TRY(cudaMemcpyAsync(cb->staging_out, result, rows * C * 4, cudaMemcpyDeviceToHost, s));
    LLMBED_CUDA_TRY(cudaStreamSynchronize(s));
    memcpy(out, cb->staging_out, rows * C * 4);
    return LLMBED_OK;
}

static llmbed_status cuda_forward(llmbed_backend *backend, const llmbed_forward_request *req, float *out,
                                  llmbed_error *error) {
    cuda_backend *cb = (cuda_backend *)backend;
    const llmbed_config *c = &backend->model->config;
    if (req->n_tokens < 1 || req->n_tokens > backend->max_tokens || req->n_seqs < 1 ||
        req->seq_offsets[req->n_seqs] != req->n_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: request of %d tokens in %d sequences (budget %lld)",
                           req->n_tokens, req->n_seqs, (long long)backend->max_tokens);
    if (req->n_layers < 0 || req->n_layers > c->n_layers)
        return llmbed_fail(error, LLMBED_ERR_LAYER_OUT_OF_RANGE, "cuda backend: n_layers %d outside [0, %d]",
                           req->n_layers, c->n_layers);
    if (req->pool_kind < 0 || req->pool_kind > LLMBED_POOL_WEIGHTED_MEAN)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cuda backend: pool_kind %d", req->pool_kind);
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    return run_forward(cb, req, out, error);
}

static const llmbed_backend_ops cuda_ops = {"cuda", cuda_forward, cuda_destroy};

static llmbed_status setup(cuda_backend *cb, llmbed_error *error) {
    const llmbed_config *c = &cb->base.model->config;
    const size_t T = (size_t)cb->base.max_tokens, C = (size_t)c->hidden_size;
    LLMBED_CUDA_TRY(cudaSetDevice(cb->device));
    LLMBED_CUDA_TRY(cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
    llmbed_status st = llmbed_gemm_init(&cb->gemm, GEMM_WORKSPACE_BYTES, error);
    if (st != LLMBED_OK) return st;
    /* staging in: tokens, offsets, instruction lens, inv_freq; also the bf16 weight chunks */
    size_t in_bytes = (T + (T + 1) + T) * 4 + T * (size_t)(c->head_dim / 2) * 4;
    if (in_bytes < (size_t)STAGING_ELEMENTS * 2) in_bytes = (size_t)STAGING_ELEMENTS * 2;
    LLMBED_CUDA_TRY(cudaMallocHost(&cb->staging_in, in_bytes));
    cb->staging_in_bytes = in_bytes;
    LLMBED_CUDA_TRY(cudaMallocHost((void **)&cb->staging_out, T * C * 4));
    size_t arena_bytes = layout_arena(cb, NULL);
    cudaError_t rc = cudaMalloc(&cb->arena, arena_bytes);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "device cuda:%d: cannot allocate a %zu MiB activation arena for %lld tokens: %s", cb->device,
                           arena_bytes >> 20, (long long)cb->base.max_tokens, cudaGetErrorString(rc));
    layout_arena(cb, (uint8_t *)cb->arena);
    return upload_weights(cb, error);
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
    cb->base.max_tokens = max_tokens;
    cb->device = device_index;
    cb->layers = layers;
    llmbed_status st = setup(cb, error);
    if (st != LLMBED_OK) {
        cuda_destroy(&cb->base);
        return st;
    }
    *out = &cb->base;
    return LLMBED_OK;
}
