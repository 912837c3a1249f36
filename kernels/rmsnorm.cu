#include "kernels/rmsnorm.cuh"

#include "kernels/common/convert.cuh"
#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

constexpr int kRowsPerBlock = 4; /* one warp per row */

template <typename Out>
__global__ void rmsnorm_kernel(const float *__restrict__ x, const float *__restrict__ weight, Out *__restrict__ out,
                               int n_rows, int dim, float eps) {
    const int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= n_rows) return;
    const float *xr = x + row * dim;
    float sum_sq = 0.0f;
    for (int i = lane; i < dim; i += 32) sum_sq += xr[i] * xr[i];
    const float inv_rms = rsqrtf(warp_sum(sum_sq) / (float)dim + eps);
    Out *orow = out + row * dim;
    for (int i = lane; i < dim; i += 32) orow[i] = from_float<Out>(xr[i] * inv_rms * weight[i]);
}

template <typename Out>
llmbed_status launch(const llmbed_rmsnorm_params *p, const float *x, const float *weight, void *out,
                     cudaStream_t stream, llmbed_error *error) {
    const double n = (double)p->n_rows * p->dim;
    /* x read, out written, the weight once; ~4 flops per element */
    const llmbed::Launch l = {{"rmsnorm", 4 * n, n * (4 + sizeof(Out)) + p->dim * 4.0},
                              (p->n_rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, 1, 32 * kRowsPerBlock, 0};
    return llmbed::launch(l, rmsnorm_kernel<Out>, stream, error, x, weight, static_cast<Out *>(out), p->n_rows, p->dim,
                          p->eps);
}

/* Gemma's post-branch norm: residual += rmsnorm(x) * weight, x a branch output. */
template <typename In>
__global__ void rmsnorm_into_residual_kernel(const In *__restrict__ x, const float *__restrict__ weight,
                                             float *__restrict__ residual, int n_rows, int dim, float eps) {
    const int64_t row = (int64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= n_rows) return;
    const In *xr = x + row * dim;
    float sum_sq = 0.0f;
    for (int i = lane; i < dim; i += 32) {
        const float v = to_float(xr[i]);
        sum_sq += v * v;
    }
    const float inv_rms = rsqrtf(warp_sum(sum_sq) / (float)dim + eps);
    float *rrow = residual + row * dim;
    for (int i = lane; i < dim; i += 32) rrow[i] += to_float(xr[i]) * inv_rms * weight[i];
}

template <typename In>
llmbed_status launch_into_residual(const llmbed_rmsnorm_params *p, const void *x, const float *weight, float *residual,
                                   cudaStream_t stream, llmbed_error *error) {
    const double n = (double)p->n_rows * p->dim;
    /* x read, residual read and written, the weight once; ~5 flops per element */
    const llmbed::Launch l = {{"rmsnorm into residual", 5 * n, n * (8 + sizeof(In)) + p->dim * 4.0},
                              (p->n_rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, 1, 32 * kRowsPerBlock, 0};
    return llmbed::launch(l, rmsnorm_into_residual_kernel<In>, stream, error, static_cast<const In *>(x), weight,
                          residual, p->n_rows, p->dim, p->eps);
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm(const llmbed_rmsnorm_params *p, const float *x, const float *weight,
                                                    void *out, llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                    llmbed_error *error) {
    if (p->n_rows < 0 || p->dim <= 0 || !(p->eps >= 0.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "rmsnorm: %d rows of %d, eps %g", p->n_rows, p->dim,
                           (double)p->eps);
    if (p->n_rows == 0) return LLMBED_OK;
    if (out_dtype == LLMBED_CUDA_F32) return launch<float>(p, x, weight, out, stream, error);
    if (out_dtype == LLMBED_CUDA_BF16) return launch<__nv_bfloat16>(p, x, weight, out, stream, error);
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "rmsnorm: no kernel for output dtype %d", (int)out_dtype);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm_into_residual(const llmbed_rmsnorm_params *p, const void *x,
                                                                  llmbed_cuda_dtype x_dtype, const float *weight,
                                                                  float *residual, cudaStream_t stream,
                                                                  llmbed_error *error) {
    if (p->n_rows < 0 || p->dim <= 0 || !(p->eps >= 0.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "rmsnorm into residual: %d rows of %d, eps %g",
                           p->n_rows, p->dim, (double)p->eps);
    if (p->n_rows == 0) return LLMBED_OK;
    if (x_dtype == LLMBED_CUDA_BF16) return launch_into_residual<__nv_bfloat16>(p, x, weight, residual, stream, error);
    if (x_dtype == LLMBED_CUDA_F32) return launch_into_residual<float>(p, x, weight, residual, stream, error);
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "rmsnorm into residual: no kernel for input dtype %d",
                       (int)x_dtype);
}
