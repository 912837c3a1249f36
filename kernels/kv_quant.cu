#include "kernels/kv_quant.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

__device__ __forceinline__ int row_bytes(int bits, int channels) { return bits == 4 ? (channels + 1) / 2 : channels; }

__device__ __forceinline__ int quantize_one(float x, float scale, float zero, int levels) {
    if (scale == 0.0f) return 0;
    const double q = rint(((double)x - (double)zero) / (double)scale);
    return q < 0 ? 0 : q > levels ? levels : (int)q;
}

__device__ __forceinline__ int code_at(const uint8_t *row, int bits, int c) {
    return bits == 8 ? row[c] : (c % 2 == 0 ? row[c / 2] & 0x0F : row[c / 2] >> 4);
}

/* One thread per code byte column: the channel (int8) or channel pair (int4)
 * whose codes share that byte in every row; ranges over the n rows. */
__global__ void quantize_keys_kernel(const float *__restrict__ k, uint8_t *__restrict__ codes,
                                     float *__restrict__ scale, float *__restrict__ zero, int bits, int n, int C) {
    const int byte = blockIdx.x * blockDim.x + threadIdx.x, stride = row_bytes(bits, C);
    if (byte >= stride) return;
    const int per_byte = bits == 4 ? 2 : 1, levels = (1 << bits) - 1;
    for (int c = byte * per_byte; c < C && c < (byte + 1) * per_byte; c++) {
        float lo = k[c], hi = k[c];
        for (int t = 1; t < n; t++) {
            lo = fminf(lo, k[(int64_t)t * C + c]);
            hi = fmaxf(hi, k[(int64_t)t * C + c]);
        }
        zero[c] = lo;
        scale[c] = (float)(((double)hi - (double)lo) / levels);
    }
    for (int t = 0; t < n; t++) {
        unsigned packed = 0;
        for (int i = 0; i < per_byte; i++) {
            const int c = byte * per_byte + i;
            if (c < C) packed |= (unsigned)quantize_one(k[(int64_t)t * C + c], scale[c], zero[c], levels) << (4 * i);
        }
        codes[(int64_t)t * stride + byte] = (uint8_t)packed;
    }
}

/* One thread per (token, group): the group's range, then its codes (a group starts on an even channel). */
__global__ void quantize_values_kernel(const float *__restrict__ v, uint8_t *__restrict__ codes,
                                       float *__restrict__ scale, float *__restrict__ zero, int bits, int n, int C,
                                       int group) {
    const int n_groups = (C + group - 1) / group;
    const int64_t id = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (int64_t)n * n_groups) return;
    const int64_t t = id / n_groups;
    const int c0 = (int)(id % n_groups) * group, c1 = C < c0 + group ? C : c0 + group, levels = (1 << bits) - 1;
    const float *x = v + t * C;
    float lo = x[c0], hi = x[c0];
    for (int c = c0 + 1; c < c1; c++) lo = fminf(lo, x[c]), hi = fmaxf(hi, x[c]);
    const float s = (float)(((double)hi - (double)lo) / levels);
    scale[id] = s;
    zero[id] = lo;
    uint8_t *row = codes + t * row_bytes(bits, C);
    if (bits == 8) {
        for (int c = c0; c < c1; c++) row[c] = (uint8_t)quantize_one(x[c], s, lo, levels);
    } else {
        for (int c = c0; c < c1; c += 2) {
            unsigned packed = (unsigned)quantize_one(x[c], s, lo, levels);
            if (c + 1 < c1) packed |= (unsigned)quantize_one(x[c + 1], s, lo, levels) << 4;
            row[c / 2] = (uint8_t)packed;
        }
    }
}

/* One thread per output element; range r of element (t, c) = keys: c, values: t * n_groups + c / group. */
__global__ void dequantize_kernel(const uint8_t *__restrict__ codes, const float *__restrict__ scale,
                                  const float *__restrict__ zero, float *__restrict__ out, int bits, int n, int C,
                                  int group) {
    const int64_t total = (int64_t)n * C;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / C;
        const int c = (int)(i % C);
        const int64_t r = group > 0 ? t * ((C + group - 1) / group) + c / group : c;
        const int q = code_at(codes + t * row_bytes(bits, C), bits, c);
        out[i] = (float)((double)q * scale[r] + zero[r]);
    }
}

llmbed_status check(const llmbed_kv_quant_params *p, int values, llmbed_error *error) {
    if ((p->bits != 8 && p->bits != 4) || p->n < 0 || p->channels < 1 ||
        (values && (p->group < 1 || (p->bits == 4 && p->group % 2 != 0))))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "kv quant: bits %d (8 or 4), %d tokens of %d channels, group %d (values: >= 1, even for "
                           "int4)",
                           p->bits, p->n, p->channels, p->group);
    return LLMBED_OK;
}

double code_bytes(const llmbed_kv_quant_params *p) {
    return (double)p->n * (p->bits == 4 ? (p->channels + 1) / 2 : p->channels);
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_quantize_keys(const llmbed_kv_quant_params *p, const float *k,
                                                             uint8_t *codes, float *scale, float *zero,
                                                             cudaStream_t stream, llmbed_error *error) {
    const llmbed_status st = check(p, 0, error);
    if (st != LLMBED_OK) return st;
    if (p->n == 0) return LLMBED_OK;
    const int columns = p->bits == 4 ? (p->channels + 1) / 2 : p->channels;
    const double elements = (double)p->n * p->channels;
    const llmbed::Launch l = {{"kv quantize keys", 6 * elements, 8 * elements + code_bytes(p) + 8.0 * p->channels},
                              (columns + 127) / 128, 1, 1, 128, 0};
    return llmbed::launch(l, quantize_keys_kernel, stream, error, k, codes, scale, zero, p->bits, p->n, p->channels);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_dequantize_keys(const llmbed_kv_quant_params *p, const uint8_t *codes,
                                                               const float *scale, const float *zero, float *out,
                                                               cudaStream_t stream, llmbed_error *error) {
    const llmbed_status st = check(p, 0, error);
    if (st != LLMBED_OK) return st;
    const int64_t total = (int64_t)p->n * p->channels;
    if (total == 0) return LLMBED_OK;
    const llmbed::Launch l = {{"kv dequantize keys", 2.0 * total, 4.0 * total + code_bytes(p) + 8.0 * p->channels},
                              llmbed::blocks_for(total, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, dequantize_kernel, stream, error, codes, scale, zero, out, p->bits, p->n, p->channels, 0);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_quantize_values(const llmbed_kv_quant_params *p, const float *v,
                                                               uint8_t *codes, float *scale, float *zero,
                                                               cudaStream_t stream, llmbed_error *error) {
    const llmbed_status st = check(p, 1, error);
    if (st != LLMBED_OK) return st;
    const int64_t ranges = (int64_t)p->n * ((p->channels + p->group - 1) / p->group);
    if (ranges == 0) return LLMBED_OK;
    const double elements = (double)p->n * p->channels;
    const llmbed::Launch l = {{"kv quantize values", 6 * elements, 4 * elements + code_bytes(p) + 8.0 * ranges},
                              (ranges + 127) / 128, 1, 1, 128, 0};
    return llmbed::launch(l, quantize_values_kernel, stream, error, v, codes, scale, zero, p->bits, p->n, p->channels,
                          p->group);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_dequantize_values(const llmbed_kv_quant_params *p,
                                                                 const uint8_t *codes, const float *scale,
                                                                 const float *zero, float *out, cudaStream_t stream,
                                                                 llmbed_error *error) {
    const llmbed_status st = check(p, 1, error);
    if (st != LLMBED_OK) return st;
    const int64_t total = (int64_t)p->n * p->channels;
    if (total == 0) return LLMBED_OK;
    const double ranges = (double)p->n * ((p->channels + p->group - 1) / p->group);
    const llmbed::Launch l = {{"kv dequantize values", 2.0 * total, 4.0 * total + code_bytes(p) + 8.0 * ranges},
                              llmbed::blocks_for(total, 256, 65535), 1, 1, 256, 0};
    return llmbed::launch(l, dequantize_kernel, stream, error, codes, scale, zero, out, p->bits, p->n, p->channels,
                          p->group);
}
