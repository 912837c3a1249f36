#include "kernels/swiglu.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

__global__ void swiglu_kernel(const __nv_bfloat16 *__restrict__ gate, const __nv_bfloat16 *__restrict__ up,
                              int in_row_stride, __nv_bfloat16 *__restrict__ out, int64_t n, int intermediate) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = j / intermediate, i = j % intermediate;
        float g = __bfloat162float(gate[t * in_row_stride + i]);
        float u = __bfloat162float(up[t * in_row_stride + i]);
        out[j] = __float2bfloat16_rn(g / (1.0f + expf(-g)) * u);
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_swiglu(const llmbed_swiglu_params *p, const uint16_t *gate,
                                                   const uint16_t *up, int in_row_stride, uint16_t *out,
                                                   cudaStream_t stream, llmbed_error *error) {
    if (p->n_tokens < 0 || p->intermediate <= 0 || in_row_stride < p->intermediate)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "swiglu: %d tokens, intermediate %d, row stride %d",
                           p->n_tokens, p->intermediate, in_row_stride);
    const int64_t n = (int64_t)p->n_tokens * p->intermediate;
    if (n == 0) return LLMBED_OK;
    /* gate and up read, out written (bf16); silu + product ~5 flops */
    const llmbed::Launch l = {{"swiglu", 5.0 * n, 6.0 * n}, llmbed::blocks_for(n, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, swiglu_kernel, stream, error, reinterpret_cast<const __nv_bfloat16 *>(gate),
                          reinterpret_cast<const __nv_bfloat16 *>(up), in_row_stride,
                          reinterpret_cast<__nv_bfloat16 *>(out), n, p->intermediate);
}
