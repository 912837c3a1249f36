#include "kernels/bias.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

__global__ void add_bias_kernel(__nv_bfloat16 *x, const float *__restrict__ bias, int64_t n, int n_cols) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        x[j] = __float2bfloat16_rn(__bfloat162float(x[j]) + bias[j % n_cols]);
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_add_bias(int n_rows, int n_cols, uint16_t *x, const float *bias,
                                                     cudaStream_t stream, llmbed_error *error) {
    if (n_rows < 0 || n_cols <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "bias: %d rows of %d", n_rows, n_cols);
    const int64_t n = (int64_t)n_rows * n_cols;
    if (n == 0) return LLMBED_OK;
    const llmbed::Launch l = {{"bias", (double)n, 4.0 * n + 4.0 * n_cols}, llmbed::blocks_for(n, 256, 65535), 1, 1,
                              256, 0};
    return llmbed::launch(l, add_bias_kernel, stream, error, reinterpret_cast<__nv_bfloat16 *>(x), bias, n, n_cols);
}
