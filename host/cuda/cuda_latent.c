#include "cuda/cuda_latent.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fp16.h"
#include "cuda/cuda_check.h"
#include "kernels/latent_attention.cuh"

#define LATENT_ALIGN ((size_t)256)

static size_t latent_align(size_t n) { return (n + LATENT_ALIGN - 1) / LATENT_ALIGN * LATENT_ALIGN; }

/* On the backend's stream (a non-blocking stream does not wait for the
 * legacy default stream that plain cudaMemcpy uses); the host copy is freed
 * once the stream has consumed it. */
static llmbed_status put_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream, llmbed_error *error) {
    uint16_t *host = (uint16_t *)malloc(n * sizeof *host);
    if (host == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "latent upload: out of host memory");
    for (size_t i = 0; i < n; i++) host[i] = llmbed_f32_to_bf16(src[i]);
    cudaError_t rc = cudaMemcpyAsync(dst, host, n * 2, cudaMemcpyHostToDevice, stream);
    if (rc == cudaSuccess) rc = cudaStreamSynchronize(stream);
    free(host);
    LLMBED_CUDA_TRY(rc);
    return LLMBED_OK;
}

static llmbed_status put_f32(float *dst, const float *src, size_t n, cudaStream_t stream, llmbed_error *error) {
    LLMBED_CUDA_TRY(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyHostToDevice, stream));
    return LLMBED_OK;
}

llmbed_status llmbed_cuda_latent_upload(llmbed_cuda_latent *l, const llmbed_model *model, cudaStream_t stream,
                                        llmbed_error *error) {
    memset(l, 0, sizeof *l);
    const llmbed_latent_weights *w = &model->weights.latent;
    if (w->q_logits == NULL) return LLMBED_OK;
    const llmbed_latent_config *c = &model->config.latent;
    l->hidden = c->latent_dim, l->n_heads = c->n_heads, l->n_latents = c->n_latents, l->ff_inner = c->ff_inner;
    l->eps = c->eps;
    const size_t d = (size_t)l->hidden, hr = (size_t)l->n_heads * l->n_latents, F = (size_t)l->ff_inner;
    const size_t sizes[] = {hr * d * 2, d * hr * 2, 2 * F * d * 2, d * F * 2, d * 4, d * 4, d * 4, d * 4, 2 * F * 4, d * 4};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += latent_align(sizes[i]);
    cudaError_t rc = cudaMalloc(&l->storage, total);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "latent pooling: cannot allocate %zu MiB on the device: %s",
                           total >> 20, cudaGetErrorString(rc));
    uint8_t *p = (uint8_t *)l->storage;
    size_t at = 0;
#define LATENT_CARVE(field, type, index) (l->field = (type *)(p + at), at += latent_align(sizes[index]))
    LATENT_CARVE(q_logits, uint16_t, 0);
    LATENT_CARVE(v_out, uint16_t, 1);
    LATENT_CARVE(w1, uint16_t, 2);
    LATENT_CARVE(w2, uint16_t, 3);
    LATENT_CARVE(norm_w, float, 4);
    LATENT_CARVE(norm_b, float, 5);
    LATENT_CARVE(ff_norm_w, float, 6);
    LATENT_CARVE(ff_norm_b, float, 7);
    LATENT_CARVE(b1, float, 8);
    LATENT_CARVE(b2, float, 9);
#undef LATENT_CARVE
    LLMBED_TRY(put_bf16(l->q_logits, w->q_logits, hr * d, stream, error));
    LLMBED_TRY(put_bf16(l->v_out, w->v_out, d * hr, stream, error));
    LLMBED_TRY(put_bf16(l->w1, w->w1, 2 * F * d, stream, error));
    LLMBED_TRY(put_bf16(l->w2, w->w2, d * F, stream, error));
    LLMBED_TRY(put_f32(l->norm_w, w->norm_w, d, stream, error));
    LLMBED_TRY(put_f32(l->norm_b, w->norm_b, d, stream, error));
    LLMBED_TRY(put_f32(l->ff_norm_w, w->ff_norm_w, d, stream, error));
    LLMBED_TRY(put_f32(l->ff_norm_b, w->ff_norm_b, d, stream, error));
    LLMBED_TRY(put_f32(l->b1, w->b1, 2 * F, stream, error));
    LLMBED_TRY(put_f32(l->b2, w->b2, d, stream, error));
    LLMBED_CUDA_TRY(cudaStreamSynchronize(stream));
    return LLMBED_OK;
}

void llmbed_cuda_latent_free(llmbed_cuda_latent *l) {
    if (l == NULL) return;
    if (l->storage != NULL) cudaFree(l->storage);
    memset(l, 0, sizeof *l);
}

/* Per chunk row: xn bf16 [d], logits fp32 [hr], P bf16 [hr], y fp32 [2F], g bf16 [F]. */
size_t llmbed_cuda_latent_scratch_bytes(const llmbed_cuda_latent *l, int chunk) {
    const size_t n = (size_t)(chunk > 0 ? chunk : 1), d = (size_t)l->hidden, F = (size_t)l->ff_inner;
    const size_t hr = (size_t)l->n_heads * l->n_latents;
    return latent_align(n * d * 2) + latent_align(n * hr * 4) + latent_align(n * hr * 2) + latent_align(n * 2 * F * 4) +
           latent_align(n * F * 2);
}

llmbed_status llmbed_cuda_latent_run(llmbed_gemm *gemm, const llmbed_cuda_latent *l, int n_tokens,
                                     const float *hidden, float *out, void *scratch, int chunk, cudaStream_t s,
                                     llmbed_error *error) {
    if (l->storage == NULL || chunk < 1 || n_tokens < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "latent pooling: no latent block or bad chunk %d", chunk);
    const int d = l->hidden, hr = l->n_heads * l->n_latents, F = l->ff_inner;
    uint8_t *p = (uint8_t *)scratch;
    uint16_t *xn = (uint16_t *)p;
    p += latent_align((size_t)chunk * d * 2);
    float *logits = (float *)p;
    p += latent_align((size_t)chunk * hr * 4);
    uint16_t *prob = (uint16_t *)p;
    p += latent_align((size_t)chunk * hr * 2);
    float *y = (float *)p;
    p += latent_align((size_t)chunk * 2 * F * 4);
    uint16_t *g = (uint16_t *)p;
    for (int t0 = 0; t0 < n_tokens; t0 += chunk) {
        const int n = n_tokens - t0 < chunk ? n_tokens - t0 : chunk;
        const float *H = hidden + (size_t)t0 * d;
        float *H1 = out + (size_t)t0 * d;
        const llmbed_layernorm_params ln = {n, d, l->eps};
        const llmbed_softmax_params sm = {n * l->n_heads, l->n_latents};
        const llmbed_geglu_params gp = {n, F};
        LLMBED_KERNEL_TRY(llmbed_cuda_layernorm(&ln, H, l->norm_w, l->norm_b, xn, NULL, NULL, s, error));
        LLMBED_TRY(llmbed_gemm_run(gemm, "gemm latent q", n, d, hr, xn, l->q_logits, NULL, logits, 1, 1.0f, 0.0f, s, error));
        LLMBED_KERNEL_TRY(llmbed_cuda_softmax_rows(&sm, logits, prob, s, error));
        LLMBED_CUDA_TRY(cudaMemcpyAsync(H1, H, (size_t)n * d * 4, cudaMemcpyDeviceToDevice, s));
        LLMBED_TRY(llmbed_gemm_run(gemm, "gemm latent v", n, hr, d, prob, l->v_out, NULL, H1, 1, 1.0f, 1.0f, s, error));
        LLMBED_KERNEL_TRY(llmbed_cuda_layernorm(&ln, H1, l->ff_norm_w, l->ff_norm_b, xn, l->b2, H1, s, error));
        LLMBED_TRY(llmbed_gemm_run(gemm, "gemm latent w1", n, d, 2 * F, xn, l->w1, NULL, y, 1, 1.0f, 0.0f, s, error));
        LLMBED_KERNEL_TRY(llmbed_cuda_geglu(&gp, y, l->b1, g, s, error));
        LLMBED_TRY(llmbed_gemm_run(gemm, "gemm latent w2", n, F, d, g, l->w2, NULL, H1, 1, 1.0f, 1.0f, s, error));
    }
    return LLMBED_OK;
}
