#include "kernels/postprocess.cuh"

#include "common/fp16.h"
#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"

namespace {

constexpr int kWarps = 4; /* rows per block, one warp each */

/* One warp per row, bit for bit the CPU backend's rules (host/cpu/postprocess.c):
 * the sum of squares of the kept dims in double, lane j summing columns
 * j, j + 32, ... in order, then a butterfly over the lanes (addition is
 * commutative, so every lane holds the same total); products and sums are
 * rounded separately (no fused multiply-add, which the CPU does not use). */
__global__ void postprocess_kernel(const float *__restrict__ in, int in_dims, int dims, int normalize, int precision,
                                   int n_rows, void *__restrict__ out, float *__restrict__ scales) {
    const int64_t r = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    const int lane = (int)threadIdx.x & 31;
    if (r >= n_rows) return;
    const float *x = in + r * in_dims;
    double norm = 1.0;
    if (normalize) {
        double sum_sq = 0.0;
        for (int c = lane; c < dims; c += 32) sum_sq = __dadd_rn(sum_sq, __dmul_rn((double)x[c], (double)x[c]));
        for (int offset = 16; offset > 0; offset >>= 1)
            sum_sq = __dadd_rn(sum_sq, __shfl_xor_sync(0xffffffffu, sum_sq, offset));
        norm = sqrt(sum_sq) > 1e-12 ? sqrt(sum_sq) : 1e-12;
    }
    switch (precision) {
    case LLMBED_PRECISION_FLOAT32:
        for (int c = lane; c < dims; c += 32) static_cast<float *>(out)[r * dims + c] = (float)((double)x[c] / norm);
        break;
    case LLMBED_PRECISION_FLOAT16:
        for (int c = lane; c < dims; c += 32)
            static_cast<uint16_t *>(out)[r * dims + c] = llmbed_f32_to_fp16((float)((double)x[c] / norm));
        break;
    case LLMBED_PRECISION_INT8: {
        float max_abs = 0.0f;
        for (int c = lane; c < dims; c += 32) max_abs = fmaxf(max_abs, fabsf((float)((double)x[c] / norm)));
        max_abs = warp_max(max_abs);
        const float s = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
        for (int c = lane; c < dims; c += 32) {
            const float v = rintf((float)((double)x[c] / norm) / s);
            static_cast<int8_t *>(out)[r * dims + c] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
        }
        if (lane == 0) scales[r] = s;
        break;
    }
    default: { /* ubinary: byte b holds columns 8b..8b+7, the first in the most significant bit */
        const int bytes = (dims + 7) / 8;
        for (int b = lane; b < bytes; b += 32) {
            unsigned bits = 0;
            for (int j = 0; j < 8 && 8 * b + j < dims; j++)
                if ((float)((double)x[8 * b + j] / norm) > 0.0f) bits |= 0x80u >> j;
            static_cast<uint8_t *>(out)[r * bytes + b] = (uint8_t)bits;
        }
    }
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_postprocess(const llmbed_postprocess_params *p, const float *in, void *out,
                                                        float *scales, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dims <= 0 || p->dims > p->in_dims || p->precision < LLMBED_PRECISION_FLOAT32 ||
        p->precision > LLMBED_PRECISION_UBINARY || (p->precision == LLMBED_PRECISION_INT8 && scales == nullptr))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "postprocess: %d rows of %d to %d dims, precision %d%s", p->n_rows, p->in_dims, p->dims,
                           p->precision, p->precision == LLMBED_PRECISION_INT8 && scales == nullptr ? " without scales" : "");
    if (p->n_rows == 0) return LLMBED_OK;
    const double n = (double)p->n_rows * p->dims;
    const double row_bytes = p->precision == LLMBED_PRECISION_FLOAT32   ? 4.0 * p->dims
                             : p->precision == LLMBED_PRECISION_FLOAT16 ? 2.0 * p->dims
                             : p->precision == LLMBED_PRECISION_INT8    ? (double)p->dims
                                                                        : (double)((p->dims + 7) / 8);
    const double out_bytes = row_bytes * p->n_rows;
    const llmbed::Launch l = {{"postprocess", 4 * n, 4 * n + out_bytes + 4.0 * p->n_rows},
                              (p->n_rows + kWarps - 1) / kWarps, 1, 1, 32 * kWarps, 0};
    return llmbed::launch(l, postprocess_kernel, stream, error, in, p->in_dims, p->dims, p->normalize, p->precision,
                          p->n_rows, out, scales);
}
