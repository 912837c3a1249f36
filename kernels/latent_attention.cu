#include "kernels/latent_attention.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

constexpr int kRowsPerBlock = 4; /* one warp per row */

/* Two passes over the row (mean, then the centred sum of squares) as
 * torch.nn.LayerNorm; fp32 statistics. */
__global__ void layernorm_kernel(const float *x, const float *__restrict__ weight, const float *__restrict__ bias,
                                 __nv_bfloat16 *__restrict__ out, const float *__restrict__ residual_bias,
                                 float *residual_out, int n_rows, int dim, float eps) {
    int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= n_rows) return;
    const float *xr = x + row * dim;
    float sum = 0.0f;
    for (int i = lane; i < dim; i += 32) sum += xr[i];
    const float mean = warp_sum(sum) / (float)dim;
    float sq = 0.0f;
    for (int i = lane; i < dim; i += 32) {
        const float c = xr[i] - mean;
        sq += c * c;
    }
    const float inv_std = rsqrtf(warp_sum(sq) / (float)dim + eps);
    __nv_bfloat16 *o = out + row * dim;
    float *ro = residual_out != nullptr ? residual_out + row * dim : nullptr;
    for (int i = lane; i < dim; i += 32) {
        const float v = xr[i]; /* read before residual_out (which may alias x) is written */
        o[i] = __float2bfloat16_rn((v - mean) * inv_std * weight[i] + bias[i]);
        if (ro != nullptr) ro[i] = v + residual_bias[i];
    }
}

__global__ void softmax_kernel(const float *__restrict__ logits, __nv_bfloat16 *__restrict__ out, int n_rows,
                               int row_len) {
    int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= n_rows) return;
    const float *l = logits + row * row_len;
    float max = -INFINITY;
    for (int j = lane; j < row_len; j += 32) max = fmaxf(max, l[j]);
    max = warp_max(max);
    float sum = 0.0f;
    for (int j = lane; j < row_len; j += 32) sum += expf(l[j] - max);
    const float inv = 1.0f / warp_sum(sum);
    __nv_bfloat16 *o = out + row * row_len;
    for (int j = lane; j < row_len; j += 32) o[j] = __float2bfloat16_rn(expf(l[j] - max) * inv);
}

__global__ void geglu_kernel(const float *__restrict__ y, const float *__restrict__ bias,
                             __nv_bfloat16 *__restrict__ out, int64_t n, int inner) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = j / inner, i = j % inner;
        const float a = y[t * 2 * inner + i] + bias[i];
        const float g = y[t * 2 * inner + inner + i] + bias[inner + i];
        out[j] = __float2bfloat16_rn(a * 0.5f * g * (1.0f + erff(g * 0.70710678118654752f)));
    }
}

int64_t row_blocks(int n_rows) { return (n_rows + kRowsPerBlock - 1) / kRowsPerBlock; }

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_layernorm(const llmbed_layernorm_params *p, const float *x,
                                                      const float *weight, const float *bias, uint16_t *out,
                                                      const float *residual_bias, float *residual_out,
                                                      cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dim <= 0 || !(p->eps >= 0.0f) || (residual_out != nullptr && residual_bias == nullptr))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "layernorm: %d rows of %d, eps %g%s", p->n_rows,
                           p->dim, (double)p->eps, residual_out != nullptr && residual_bias == nullptr
                                                       ? ", a residual output without its bias" : "");
    if (p->n_rows == 0) return LLMBED_OK;
    const double n = (double)p->n_rows * p->dim;
    const llmbed::Launch l = {{"layernorm", 8 * n, n * (4 + 2) + (residual_out != nullptr ? 4 * n : 0.0)},
                              row_blocks(p->n_rows), 1, 1, 32 * kRowsPerBlock, 0};
    return llmbed::launch(l, layernorm_kernel, stream, error, x, weight, bias, reinterpret_cast<__nv_bfloat16 *>(out),
                          residual_bias, residual_out, p->n_rows, p->dim, p->eps);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_softmax_rows(const llmbed_softmax_params *p, const float *logits,
                                                         uint16_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->row_len <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "softmax: %d rows of %d", p->n_rows, p->row_len);
    if (p->n_rows == 0) return LLMBED_OK;
    const double n = (double)p->n_rows * p->row_len;
    const llmbed::Launch l = {{"softmax", 5 * n, 6 * n}, row_blocks(p->n_rows), 1, 1, 32 * kRowsPerBlock, 0};
    return llmbed::launch(l, softmax_kernel, stream, error, logits, reinterpret_cast<__nv_bfloat16 *>(out), p->n_rows,
                          p->row_len);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_geglu(const llmbed_geglu_params *p, const float *y, const float *bias,
                                                  uint16_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_tokens < 0 || p->inner <= 0 || bias == nullptr)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "geglu: %d tokens, inner %d%s", p->n_tokens, p->inner,
                           bias == nullptr ? ", no bias" : "");
    const int64_t n = (int64_t)p->n_tokens * p->inner;
    if (n == 0) return LLMBED_OK;
    const llmbed::Launch l = {{"geglu", 12.0 * n, 10.0 * n}, llmbed::blocks_for(n, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, geglu_kernel, stream, error, y, bias, reinterpret_cast<__nv_bfloat16 *>(out), n,
                          p->inner);
}
