/* ggml block formats to fp32. Each function names the ggml struct it reads
 * (ggml-common.h) and computes as gguf-py's quants.py does, one float32
 * rounding per operation in the same order: products and differences are
 * separate statements, and the library is built as ISO C11 (CMake
 * C_EXTENSIONS OFF), where GCC does not contract them into FMAs. */
#include "container/dequant.h"

#include <string.h>

#include "common/error.h"
#include "common/fp16.h"

#define QK 32   /* elements of a legacy block (QK8_0 = QK4_0 = QK4_1 = QK5_0 = QK5_1) */
#define QK_K 256 /* elements of a K-quant super-block */

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float load_half(const uint8_t *p) { return llmbed_fp16_to_f32(load_u16(p)); }

/* ---------------------------------------------------- blocks of 32 */

/* block_q8_0 (34 bytes): half d; int8 qs[32]. x = q * d. */
void llmbed_dequant_q8_0(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 2 + QK, out += QK) {
        const float d = load_half(b);
        for (int j = 0; j < QK; j++) out[j] = (float)(int8_t)b[2 + j] * d;
    }
}

/* block_q4_0 (18 bytes): half d; qs[16]. Element j < 16 is the low nibble of
 * byte j, element j + 16 its high nibble; x = d * (q - 8). */
void llmbed_dequant_q4_0(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 2 + QK / 2, out += QK) {
        const float d = load_half(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < QK / 2; j++) {
            out[j] = d * (float)((qs[j] & 0x0F) - 8);
            out[j + QK / 2] = d * (float)((qs[j] >> 4) - 8);
        }
    }
}

/* block_q4_1 (20 bytes): half d, half m; qs[16]. x = (d * q) + m. */
void llmbed_dequant_q4_1(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 4 + QK / 2, out += QK) {
        const float d = load_half(b), m = load_half(b + 2);
        const uint8_t *qs = b + 4;
        for (int j = 0; j < QK / 2; j++) {
            const float lo = d * (float)(qs[j] & 0x0F);
            const float hi = d * (float)(qs[j] >> 4);
            out[j] = lo + m;
            out[j + QK / 2] = hi + m;
        }
    }
}

/* block_q5_0 (22 bytes): half d; uint32 qh (little-endian, bit j = fifth bit
 * of element j); qs[16] nibbles as Q4_0. x = d * (q - 16). */
void llmbed_dequant_q5_0(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 6 + QK / 2, out += QK) {
        const float d = load_half(b);
        const uint32_t qh = load_u32(b + 2);
        const uint8_t *qs = b + 6;
        for (int j = 0; j < QK / 2; j++) {
            const int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1u) << 4;
            const int hi = (qs[j] >> 4) | (int)((qh >> (j + QK / 2)) & 1u) << 4;
            out[j] = d * (float)(lo - 16);
            out[j + QK / 2] = d * (float)(hi - 16);
        }
    }
}

/* block_q5_1 (24 bytes): half d, half m; uint32 qh; qs[16]. x = (d * q) + m. */
void llmbed_dequant_q5_1(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 8 + QK / 2, out += QK) {
        const float d = load_half(b), m = load_half(b + 2);
        const uint32_t qh = load_u32(b + 4);
        const uint8_t *qs = b + 8;
        for (int j = 0; j < QK / 2; j++) {
            const int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1u) << 4;
            const int hi = (qs[j] >> 4) | (int)((qh >> (j + QK / 2)) & 1u) << 4;
            const float dlo = d * (float)lo;
            const float dhi = d * (float)hi;
            out[j] = dlo + m;
            out[j + QK / 2] = dhi + m;
        }
    }
}

/* ------------------------------------------- super-blocks of 256 */

/* block_q2_K (84 bytes): scales[16] (low nibble: scale, high nibble: min of
 * each 16-element group), qs[64] (2-bit), half d, half dmin. Element
 * e = 128 h + 32 s + l (h < 2, s < 4, l < 32) is bits 2s..2s+1 of
 * qs[32 h + l]; group e / 16. x = (d * sc) * q - (dmin * m). */
void llmbed_dequant_q2_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 84, out += QK_K) {
        const uint8_t *scales = b, *qs = b + 16;
        const float d = load_half(b + 80), dmin = load_half(b + 82);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, s = (e % 128) / 32, l = e % 32;
            const uint8_t sc = scales[e / 16];
            const float dl = d * (float)(sc & 0x0F);
            const float ml = dmin * (float)(sc >> 4);
            const float dq = dl * (float)((qs[32 * h + l] >> (2 * s)) & 3);
            out[e] = dq - ml;
        }
    }
}

/* The 16 six-bit scales of a Q3_K super-block, unpacked from 12 bytes: scale
 * i takes its low four bits from byte i % 8 (low nibble for i < 8, high
 * nibble after) and its high two bits from byte 8 + i % 4 (bits 2 (i / 4)),
 * then is offset by -32. */
static int q3_k_scale(const uint8_t *packed, int i) {
    const int low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4;
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (low | high << 4) - 32;
}

/* block_q3_K (110 bytes): hmask[32], qs[64] (low 2 bits), scales[12], half d.
 * Element e = 128 h + 32 s + l: low bits 2s..2s+1 of qs[32 h + l]; high bit
 * (e / 32) of hmask[l], which SUBTRACTS 4 when it is clear (ggml stores the
 * complement). x = (d * scale[e / 16]) * q. */
void llmbed_dequant_q3_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 110, out += QK_K) {
        const uint8_t *hmask = b, *qs = b + 32, *scales = b + 96;
        const float d = load_half(b + 108);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, s = (e % 128) / 32, l = e % 32;
            const int low = (qs[32 * h + l] >> (2 * s)) & 3;
            const int q = low - (((hmask[l] >> (e / 32)) & 1) ? 0 : 4);
            const float dl = d * (float)q3_k_scale(scales, e / 16);
            out[e] = dl * (float)q;
        }
    }
}

/* The 8 six-bit scales and mins of a Q4_K/Q5_K super-block, from 12 bytes
 * (ggml's get_scale_min_k4): for j < 4, scale = b[j] & 63 and
 * min = b[j + 4] & 63; for j >= 4, scale = (b[j + 4] & 15) | (b[j - 4] >> 6) << 4
 * and min = (b[j + 4] >> 4) | (b[j] >> 6) << 4. */
static void k4_scale_min(const uint8_t *b, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = b[j] & 63;
        *min = b[j + 4] & 63;
    } else {
        *scale = (b[j + 4] & 0x0F) | (b[j - 4] >> 6) << 4;
        *min = (b[j + 4] >> 4) | (b[j] >> 6) << 4;
    }
}

/* block_q4_K (144 bytes): half d, half dmin, scales[12], qs[128]. Sub-block
 * j < 8 of 32 elements: element l is nibble (j % 2) of qs[32 (j / 2) + l].
 * x = (d * scale_j) * q - (dmin * min_j). */
void llmbed_dequant_q4_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 144, out += QK_K) {
        const float d = load_half(b), dmin = load_half(b + 2);
        const uint8_t *scales = b + 4, *qs = b + 16;
        for (int j = 0; j < 8; j++) {
            int sc, mn;
            k4_scale_min(scales, j, &sc, &mn);
            const float dl = d * (float)sc;
            const float ml = dmin * (float)mn;
            for (int l = 0; l < 32; l++) {
                const float dq = dl * (float)((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F);
                out[32 * j + l] = dq - ml;
            }
        }
    }
}

/* block_q5_K (176 bytes): half d, half dmin, scales[12], qh[32], qs[128].
 * As Q4_K, with bit j of qh[l] as the fifth bit of element l of sub-block j. */
void llmbed_dequant_q5_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 176, out += QK_K) {
        const float d = load_half(b), dmin = load_half(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
        for (int j = 0; j < 8; j++) {
            int sc, mn;
            k4_scale_min(scales, j, &sc, &mn);
            const float dl = d * (float)sc;
            const float ml = dmin * (float)mn;
            for (int l = 0; l < 32; l++) {
                const int q = ((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F) | ((qh[l] >> j) & 1) << 4;
                const float dq = dl * (float)q;
                out[32 * j + l] = dq - ml;
            }
        }
    }
}

/* block_q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits),
 * int8 scales[16], half d. Element e = 128 h + r (h < 2, r < 128): low
 * nibble (r / 64) of ql[64 h + r % 64], high bits 2 (r / 32)..+1 of
 * qh[32 h + r % 32]; q = that 6-bit value - 32; x = (d * scales[e / 16]) * q. */
void llmbed_dequant_q6_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 210, out += QK_K) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *scales = (const int8_t *)(b + 192);
        const float d = load_half(b + 208);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, r = e % 128;
            const int low = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0F;
            const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
            const float dl = d * (float)scales[e / 16];
            out[e] = dl * (float)((low | high << 4) - 32);
        }
    }
}

/* block_q8_K (292 bytes): float d; int8 qs[256]; int16 bsums[16] (sums of
 * groups of 16, used only by ggml's dot products). x = d * q, as ggml's
 * dequantize_row_q8_K (gguf-py has no Q8_K dequantiser). */
void llmbed_dequant_q8_k(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++, b += 292, out += QK_K) {
        const float d = llmbed_bits_to_f32(load_u32(b));
        for (int e = 0; e < QK_K; e++) out[e] = d * (float)(int8_t)b[4 + e];
    }
}

/* ------------------------------------------------ unquantised types */

void llmbed_dequant_f32(const void *blocks, float *out, int64_t n_blocks) {
    memcpy(out, blocks, (size_t)n_blocks * sizeof(float));
}

void llmbed_dequant_f16(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++) out[i] = llmbed_fp16_to_f32(load_u16(b + 2 * i));
}

void llmbed_dequant_bf16(const void *blocks, float *out, int64_t n_blocks) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n_blocks; i++) out[i] = llmbed_bf16_to_f32(load_u16(b + 2 * i));
}

/* ---------------------------------------------------------- lookup */

llmbed_dequant_fn llmbed_dequant_fn_for(llmbed_dtype dtype) {
    switch (dtype) {
    case LLMBED_DTYPE_F32: return llmbed_dequant_f32;
    case LLMBED_DTYPE_F16: return llmbed_dequant_f16;
    case LLMBED_DTYPE_BF16: return llmbed_dequant_bf16;
    case LLMBED_DTYPE_Q8_0: return llmbed_dequant_q8_0;
    case LLMBED_DTYPE_Q4_0: return llmbed_dequant_q4_0;
    case LLMBED_DTYPE_Q4_1: return llmbed_dequant_q4_1;
    case LLMBED_DTYPE_Q5_0: return llmbed_dequant_q5_0;
    case LLMBED_DTYPE_Q5_1: return llmbed_dequant_q5_1;
    case LLMBED_DTYPE_Q2_K: return llmbed_dequant_q2_k;
    case LLMBED_DTYPE_Q3_K: return llmbed_dequant_q3_k;
    case LLMBED_DTYPE_Q4_K: return llmbed_dequant_q4_k;
    case LLMBED_DTYPE_Q5_K: return llmbed_dequant_q5_k;
    case LLMBED_DTYPE_Q6_K: return llmbed_dequant_q6_k;
    case LLMBED_DTYPE_Q8_K: return llmbed_dequant_q8_k;
    case LLMBED_DTYPE_COUNT: break;
    }
    return NULL;
}

llmbed_status llmbed_dequant_row_range(llmbed_dtype dtype, const void *row, int64_t row_elements, int64_t begin,
                                       int64_t end, float *out, llmbed_error *error) {
    const llmbed_dequant_fn fn = llmbed_dequant_fn_for(dtype);
    if (fn == NULL)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_DTYPE, "dequantise: unknown dtype %d", (int)dtype);
    const int64_t block = (int64_t)llmbed_dtype_block_elements(dtype);
    if (row_elements < 0 || row_elements % block != 0 || begin < 0 || begin > end || end > row_elements ||
        begin % block != 0 || end % block != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "dequantise %s: range [%lld, %lld) of a %lld-element row is not whole blocks of %lld",
                           llmbed_dtype_name(dtype), (long long)begin, (long long)end, (long long)row_elements,
                           (long long)block);
    const size_t block_bytes = llmbed_dtype_block_bytes(dtype);
    fn((const uint8_t *)row + (size_t)(begin / block) * block_bytes, out, (end - begin) / block);
    return LLMBED_OK;
}
