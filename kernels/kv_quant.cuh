/* Quantised key/value cache blocks on the GPU (issue 25 item 4), the same
 * KIVI layout and arithmetic as the CPU reference host/cpu/kv_quant.h: keys
 * per channel over a block of n tokens, values per token in groups of
 * `group` channels; asymmetric min/max with 2^bits - 1 steps, rounding in
 * double; int4 codes two per byte, low nibble first. Dequantisation writes a
 * dense float [n, C] matrix: the layout the cached attention reads its old
 * keys from ([n, kept] after ThinK's gather), so attention needs no
 * quantisation-specific path. bits is 8 or 4. */
#ifndef LLMBED_KERNELS_KV_QUANT_CUH
#define LLMBED_KERNELS_KV_QUANT_CUH

#include "kernels/common/kernel_api.h"

typedef struct llmbed_kv_quant_params {
    int bits;     /* 8 or 4 */
    int n;        /* tokens of the block */
    int channels; /* C: stored channels per token (head_dim, or the kept channels) */
    int group;    /* values: channels per range (keys: unused) */
} llmbed_kv_quant_params;

/* k [n, C] -> codes [n, row bytes], scale[C], zero[C]. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_quantize_keys(const llmbed_kv_quant_params *p, const float *k,
                                                             uint8_t *codes, float *scale, float *zero,
                                                             cudaStream_t stream, llmbed_error *error);
/* codes, scale[C], zero[C] -> out [n, C] dense floats. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_dequantize_keys(const llmbed_kv_quant_params *p, const uint8_t *codes,
                                                               const float *scale, const float *zero, float *out,
                                                               cudaStream_t stream, llmbed_error *error);
/* v [n, C] -> codes, scale/zero [n, ceil(C / group)]. group must be even for int4. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_quantize_values(const llmbed_kv_quant_params *p, const float *v,
                                                               uint8_t *codes, float *scale, float *zero,
                                                               cudaStream_t stream, llmbed_error *error);
LLMBED_KERNEL_API llmbed_status llmbed_cuda_kv_dequantize_values(const llmbed_kv_quant_params *p,
                                                                 const uint8_t *codes, const float *scale,
                                                                 const float *zero, float *out, cudaStream_t stream,
                                                                 llmbed_error *error);

#endif
