#include "kernels/quantize.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

__global__ void quantize_f16_kernel(const float *__restrict__ in, __half *__restrict__ out, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(in[i]);
}

/* One block per row: block-wide max |x|, then each thread quantises its columns. */
__global__ void quantize_int8_kernel(const float *__restrict__ in, int8_t *__restrict__ out,
                                     float *__restrict__ scales, int dims) {
    const float *x = in + (int64_t)blockIdx.x * dims;
    int8_t *o = out + (int64_t)blockIdx.x * dims;
    float max_abs = 0.0f;
    for (int i = threadIdx.x; i < dims; i += blockDim.x) max_abs = fmaxf(max_abs, fabsf(x[i]));
    max_abs = block_max(max_abs);
    float scale = max_abs / 127.0f;
    float inv = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
    for (int i = threadIdx.x; i < dims; i += blockDim.x) {
        float q = rintf(x[i] * inv);
        o[i] = (int8_t)fmaxf(-127.0f, fminf(127.0f, q));
    }
    if (threadIdx.x == 0) scales[blockIdx.x] = scale;
}

/* One thread per output byte. */
__global__ void quantize_ubinary_kernel(const float *__restrict__ in, uint8_t *__restrict__ out, int n_rows,
                                        int dims) {
    int bytes_per_row = (dims + 7) / 8;
    int64_t n = (int64_t)n_rows * bytes_per_row;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = j / bytes_per_row;
        int byte = (int)(j % bytes_per_row);
        unsigned bits = 0;
        for (int b = 0; b < 8; b++) {
            int i = byte * 8 + b;
            if (i < dims && in[r * dims + i] > 0.0f) bits |= 0x80u >> b;
        }
        out[j] = (uint8_t)bits;
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_f16(const llmbed_quantize_params *p, const float *in, uint16_t *out,
                                                         cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dims <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize: %d rows of %d", p->n_rows, p->dims);
    const int64_t n = (int64_t)p->n_rows * p->dims;
    if (n == 0) return LLMBED_OK;
    const llmbed::Launch l = {{"quantize f16", 0.0, 6.0 * n}, llmbed::blocks_for(n, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, quantize_f16_kernel, stream, error, in, reinterpret_cast<__half *>(out), n);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_int8(const llmbed_quantize_params *p, const float *in, int8_t *out,
                                                          float *scales, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dims <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize: %d rows of %d", p->n_rows, p->dims);
    if (p->n_rows == 0) return LLMBED_OK;
    const double n = (double)p->n_rows * p->dims;
    const llmbed::Launch l = {{"quantize int8", 2 * n, 5 * n + 4.0 * p->n_rows}, p->n_rows, 1, 1, 128, 0};
    return llmbed::launch(l, quantize_int8_kernel, stream, error, in, out, scales, p->dims);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_ubinary(const llmbed_quantize_params *p, const float *in,
                                                             uint8_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dims <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize: %d rows of %d", p->n_rows, p->dims);
    const int64_t n = (int64_t)p->n_rows * ((p->dims + 7) / 8);
    if (n == 0) return LLMBED_OK;
    const llmbed::Launch l = {{"quantize ubinary", 0.0, 4.0 * p->n_rows * p->dims + (double)n},
                              llmbed::blocks_for(n, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, quantize_ubinary_kernel, stream, error, in, out, p->n_rows, p->dims);
}
