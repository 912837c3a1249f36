#include "kernels/rmsnorm.cuh"

#include "kernels/common/convert.cuh"
#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

constexpr int kRowsPerBlock = 4; /* one warp per row */

/* ADD: x is the fp32 residual, updated in place with delta * delta_scale first. */
template <typename In, typename Out, bool ADD>
__global__ void rmsnorm_kernel(In *x, const float *__restrict__ delta, float delta_scale,
                               const float *__restrict__ weight, Out *out, int n_rows, int dim, float eps) {
    int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= n_rows) return;
    In *xr = x + row * dim;
    float sum_sq = 0.0f;
    for (int i = lane; i < dim; i += 32) {
        float v;
        if (ADD) {
            v = to_float(xr[i]) + delta[row * dim + i] * delta_scale;
            xr[i] = from_float<In>(v);
        } else {
            v = to_float(xr[i]);
        }
        sum_sq += v * v;
    }
    float inv_rms = rsqrtf(warp_sum(sum_sq) / (float)dim + eps);
    Out *orow = out + row * dim;
    for (int i = lane; i < dim; i += 32) orow[i] = from_float<Out>(to_float(xr[i]) * inv_rms * weight[i]);
}

template <typename In, typename Out, bool ADD>
llmbed_status launch(const llmbed_rmsnorm_params *p, const void *x, const float *delta, float delta_scale,
                     const float *weight, void *out, cudaStream_t stream, llmbed_error *error) {
    const double n = (double)p->n_rows * p->dim;
    /* x read (and with ADD: delta read, x written), out written; ~4 flops per element */
    const double bytes = n * (sizeof(In) + sizeof(Out)) + (ADD ? n * 8 : 0.0) + p->dim * 4.0;
    const llmbed::Launch l = {{ADD ? "add + rmsnorm" : "rmsnorm", 4 * n, bytes},
                              (p->n_rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, 1, 32 * kRowsPerBlock, 0};
    In *xi = const_cast<In *>(static_cast<const In *>(x));
    return llmbed::launch(l, rmsnorm_kernel<In, Out, ADD>, stream, error, xi, delta, delta_scale, weight,
                          static_cast<Out *>(out), p->n_rows, p->dim, p->eps);
}

llmbed_status bad_params(const llmbed_rmsnorm_params *p, llmbed_error *error) {
    if (p->n_rows < 0 || p->dim <= 0 || !(p->eps >= 0.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "rmsnorm: %d rows of %d, eps %g", p->n_rows, p->dim,
                           (double)p->eps);
    return LLMBED_OK;
}

llmbed_status unsupported(llmbed_cuda_dtype x, llmbed_cuda_dtype out, llmbed_error *error) {
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "rmsnorm: no kernel for dtypes %d -> %d", (int)x, (int)out);
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm(const llmbed_rmsnorm_params *p, const void *x,
                                                    llmbed_cuda_dtype x_dtype, const float *weight, void *out,
                                                    llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                    llmbed_error *error) {
    LLMBED_TRY(bad_params(p, error));
    if (p->n_rows == 0) return LLMBED_OK;
    if (x_dtype == LLMBED_CUDA_F32 && out_dtype == LLMBED_CUDA_F32)
        return launch<float, float, false>(p, x, nullptr, 1.0f, weight, out, stream, error);
    if (x_dtype == LLMBED_CUDA_F32 && out_dtype == LLMBED_CUDA_BF16)
        return launch<float, __nv_bfloat16, false>(p, x, nullptr, 1.0f, weight, out, stream, error);
    if (x_dtype == LLMBED_CUDA_BF16 && out_dtype == LLMBED_CUDA_BF16)
        return launch<__nv_bfloat16, __nv_bfloat16, false>(p, x, nullptr, 1.0f, weight, out, stream, error);
    if (x_dtype == LLMBED_CUDA_BF16 && out_dtype == LLMBED_CUDA_F32)
        return launch<__nv_bfloat16, float, false>(p, x, nullptr, 1.0f, weight, out, stream, error);
    return unsupported(x_dtype, out_dtype, error);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_add_rmsnorm(const llmbed_rmsnorm_params *p, float *residual,
                                                        const float *delta, float delta_scale, const float *weight,
                                                        void *out, llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                        llmbed_error *error) {
    LLMBED_TRY(bad_params(p, error));
    if (p->n_rows == 0) return LLMBED_OK;
    if (out_dtype == LLMBED_CUDA_F32)
        return launch<float, float, true>(p, residual, delta, delta_scale, weight, out, stream, error);
    if (out_dtype == LLMBED_CUDA_BF16)
        return launch<float, __nv_bfloat16, true>(p, residual, delta, delta_scale, weight, out, stream, error);
    return unsupported(LLMBED_CUDA_F32, out_dtype, error);
}
