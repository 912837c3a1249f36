#include "kernels/qk_norm_rope.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

constexpr int kWarps = 4;

/* One warp per (token, head) row of q or k: the row's sum of squares (fp32,
 * warp reduction), then each lane rotates pairs (i, i + D/2) of the
 * normalised row: HF Qwen3 q_norm/k_norm (x * rsqrt(mean x^2 + eps) * w)
 * then apply_rotary_pos_emb (rotate_half layout). */
__global__ void qk_norm_rope_kernel(__nv_bfloat16 *q, int64_t q_stride, __nv_bfloat16 *k, int64_t k_stride,
                                    int n_tokens, int n_heads, int n_kv_heads, int head_dim, float eps,
                                    const float *__restrict__ q_norm, const float *__restrict__ k_norm,
                                    const float2 *__restrict__ cos_sin, const int32_t *__restrict__ rope_rows) {
    const int heads = n_heads + n_kv_heads, lane = (int)threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (row >= (int64_t)n_tokens * heads) return;
    const int t = (int)(row / heads), h = (int)(row % heads);
    const bool is_q = h < n_heads; /* n_heads 0: k only */
    __nv_bfloat16 *x = is_q ? q + t * q_stride + (int64_t)h * head_dim : k + t * k_stride + (int64_t)(h - n_heads) * head_dim;
    const float *w = is_q ? q_norm : k_norm;
    float scale = 1.0f;
    if (w != nullptr) {
        float sum_sq = 0.0f;
        for (int i = lane; i < head_dim; i += 32) {
            const float v = __bfloat162float(x[i]);
            sum_sq += v * v;
        }
        scale = rsqrtf(warp_sum(sum_sq) / (float)head_dim + eps);
    }
    const int half = head_dim / 2;
    const float2 *cs = cos_sin + (int64_t)rope_rows[t] * half;
    for (int i = lane; i < half; i += 32) {
        float x1 = __bfloat162float(x[i]) * scale, x2 = __bfloat162float(x[i + half]) * scale;
        if (w != nullptr) x1 *= w[i], x2 *= w[i + half];
        const float2 c = cs[i];
        x[i] = __float2bfloat16_rn(x1 * c.x - x2 * c.y);
        x[i + half] = __float2bfloat16_rn(x2 * c.x + x1 * c.y);
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_qk_norm_rope(const llmbed_qk_norm_rope_params *p, const llmbed_cuda_qkv *qkv,
                                                         const float *q_norm, const float *k_norm, const float *cos_sin,
                                                         const int32_t *rope_rows, cudaStream_t stream,
                                                         llmbed_error *error) {
    if (p->n_tokens < 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 || p->head_dim <= 0 || p->head_dim % 2 != 0 ||
        !(p->eps >= 0.0f) || (q_norm == nullptr) != (k_norm == nullptr))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "qk_norm_rope: %d tokens, heads %d/%d of %d (even), eps %g, %s", p->n_tokens, p->n_heads,
                           p->n_kv_heads, p->head_dim, (double)p->eps,
                           (q_norm == nullptr) != (k_norm == nullptr) ? "one of q_norm/k_norm missing" : "norms ok");
    if (p->n_tokens == 0) return LLMBED_OK;
    const int q_heads = p->rotate_q ? p->n_heads : 0;
    const int64_t rows = (int64_t)p->n_tokens * (q_heads + p->n_kv_heads);
    const double n = (double)rows * p->head_dim;
    /* bf16 read and written once; one table row (fp32 pairs) read per token; ~8 flops per element */
    const llmbed::Launch l = {{"qk_norm_rope", 8 * n, 4 * n + (double)p->n_tokens * (p->head_dim / 2) * 8},
                              (rows + kWarps - 1) / kWarps, 1, 1, 32 * kWarps, 0};
    return llmbed::launch(l, qk_norm_rope_kernel, stream, error, reinterpret_cast<__nv_bfloat16 *>(qkv->q),
                          qkv->q_stride, reinterpret_cast<__nv_bfloat16 *>(qkv->k), qkv->kv_stride, p->n_tokens,
                          q_heads, p->n_kv_heads, p->head_dim, p->eps, q_norm, k_norm,
                          reinterpret_cast<const float2 *>(cos_sin), rope_rows);
}
