/* Quantised key/value cache blocks, KIVI's layout (Liu et al. 2024, "KIVI: A
 * Tuning-Free Asymmetric 2bit Quantization for KV Cache"): keys per channel
 * over a block of tokens (the channel outliers of keys stay within one
 * channel's range), values per token in groups of channels. Asymmetric
 * min/max quantisation with b bits:
 *   scale = (max - min) / (2^b - 1), zero = min, q = round((x - min) / scale),
 *   x' = q * scale + zero   (scale 0 when max == min: every q = 0, x' = min).
 * Codes are stored as bytes (int8) or two per byte, low nibble first (int4);
 * scale and zero are kept as float32 beside the block. The rounding is done in
 * double so a float64 reference of the same definition gives identical codes.
 * bf16 rounds to nearest even (host/common/fp16.h). These are the CPU
 * reference of the cache dtype: the same numbers a dense dequantised key
 * matrix holds on the CUDA path. */
#ifndef LLMBED_CPU_KV_QUANT_H
#define LLMBED_CPU_KV_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmbed_kv_dtype {
    LLMBED_KV_F32 = 0,
    LLMBED_KV_BF16 = 1,
    LLMBED_KV_INT8 = 2,
    LLMBED_KV_INT4 = 3,
} llmbed_kv_dtype;

/* Channels per value quantisation group (KIVI uses 32..128). */
#define LLMBED_KV_VALUE_GROUP 32

/* "f32", "bf16", "int8", "int4" -> dtype; -1 when unknown. */
int llmbed_kv_dtype_parse(const char *name);
const char *llmbed_kv_dtype_name(llmbed_kv_dtype dtype);
/* Bits per code: 32, 16, 8, 4. */
int llmbed_kv_dtype_bits(llmbed_kv_dtype dtype);

/* Bytes of codes for n values (int4: two per byte, rounded up). */
size_t llmbed_kv_code_bytes(llmbed_kv_dtype dtype, size_t n);

/* keys [n, C] row-major (C stored channels: D, or the kept channels after
 * ThinK's gather) -> codes of each row (llmbed_kv_code_bytes(dtype, C) bytes
 * per row), scale[C], zero[C]: one range per channel over the n rows.
 * dtype must be INT8 or INT4. */
void llmbed_kv_quantize_keys(llmbed_kv_dtype dtype, const float *k, int n, int C, uint8_t *codes, float *scale,
                             float *zero);
void llmbed_kv_dequantize_keys(llmbed_kv_dtype dtype, const uint8_t *codes, const float *scale, const float *zero,
                               int n, int C, float *out);

/* values [n, D] -> codes per row, scale/zero [n, ceil(D / group)]: one range
 * per token and group of `group` channels (the last group may be shorter). */
void llmbed_kv_quantize_values(llmbed_kv_dtype dtype, const float *v, int n, int D, int group, uint8_t *codes,
                               float *scale, float *zero);
void llmbed_kv_dequantize_values(llmbed_kv_dtype dtype, const uint8_t *codes, const float *scale, const float *zero,
                                 int n, int D, int group, float *out);

/* Bytes one token of one layer takes in a long cache (older than the recent
 * window and the current chunk): keys of `kept` channels per KV head with
 * per-channel scale/zero amortised over a block of `block` tokens, values of
 * head_dim channels with a scale/zero per group; float32 scale and zero. */
double llmbed_kv_key_bytes_per_token(llmbed_kv_dtype dtype, int n_kv_heads, int kept, int block);
double llmbed_kv_value_bytes_per_token(llmbed_kv_dtype dtype, int n_kv_heads, int head_dim);

#ifdef __cplusplus
}
#endif

#endif
