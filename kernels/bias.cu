#include "kernels/bias.cuh"

#include "kernels/common/cuda_compat.cuh"

namespace {

__global__ void add_bias_kernel(__nv_bfloat16 *x, const float *__restrict__ bias, int64_t n, int n_cols) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        x[j] = __float2bfloat16_rn(__bfloat162float(x[j]) + bias[j % n_cols]);
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_add_bias(int n_rows, int n_cols, uint16_t *x, const float *bias,
                                                     cudaStream_t stream) {
    if (n_rows < 0 || n_cols <= 0) return LLMBED_ERR_INVALID_ARGUMENT;
    int64_t n = (int64_t)n_rows * n_cols;
    if (n == 0) return LLMBED_OK;
    int64_t blocks = (n + 255) / 256;
    if (blocks > 65535) blocks = 65535;
    auto kernel = add_bias_kernel;
    LLMBED_LAUNCH(kernel, dim3((unsigned)blocks), dim3(256), stream, reinterpret_cast<__nv_bfloat16 *>(x), bias, n,
                  n_cols);
    return llmbed_cuda_launch_status();
}
