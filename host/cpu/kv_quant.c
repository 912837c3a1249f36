/* KIVI-layout cache quantisation of kv_quant.h. */
#include "cpu/kv_quant.h"

#include <math.h>
#include <string.h>

#include "common/fp16.h"

static const char *const NAMES[] = {"f32", "bf16", "int8", "int4"};

int llmbed_kv_dtype_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (name != NULL && strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

const char *llmbed_kv_dtype_name(llmbed_kv_dtype dtype) { return dtype >= 0 && dtype < 4 ? NAMES[dtype] : "?"; }

int llmbed_kv_dtype_bits(llmbed_kv_dtype dtype) {
    static const int bits[] = {32, 16, 8, 4};
    return bits[dtype];
}

size_t llmbed_kv_code_bytes(llmbed_kv_dtype dtype, size_t n) {
    return dtype == LLMBED_KV_INT4 ? (n + 1) / 2 : n * (size_t)llmbed_kv_dtype_bits(dtype) / 8;
}

static int levels(llmbed_kv_dtype dtype) { return dtype == LLMBED_KV_INT4 ? 15 : 255; }

static void put_code(llmbed_kv_dtype dtype, uint8_t *row, int i, int q) {
    if (dtype == LLMBED_KV_INT8) {
        row[i] = (uint8_t)q;
    } else if (i % 2 == 0) {
        row[i / 2] = (uint8_t)((row[i / 2] & 0xF0) | q);
    } else {
        row[i / 2] = (uint8_t)((row[i / 2] & 0x0F) | (q << 4));
    }
}

static int get_code(llmbed_kv_dtype dtype, const uint8_t *row, int i) {
    if (dtype == LLMBED_KV_INT8) return row[i];
    return i % 2 == 0 ? row[i / 2] & 0x0F : row[i / 2] >> 4;
}

/* Range of x[i * stride] for i < n -> scale, zero. */
static void range(const float *x, int n, size_t stride, int n_levels, float *scale, float *zero) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        const float v = x[(size_t)i * stride];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *zero = lo;
    *scale = (float)(((double)hi - (double)lo) / n_levels);
}

static int quantize_one(float x, float scale, float zero, int n_levels) {
    if (scale == 0.0f) return 0;
    const double q = nearbyint(((double)x - (double)zero) / (double)scale);
    return q < 0 ? 0 : q > n_levels ? n_levels : (int)q;
}

static float dequantize_one(int q, float scale, float zero) { return (float)((double)q * scale + zero); }

void llmbed_kv_quantize_keys(llmbed_kv_dtype dtype, const float *k, int n, int C, uint8_t *codes, float *scale,
                             float *zero) {
    const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)C);
    memset(codes, 0, row_bytes * (size_t)n);
    for (int c = 0; c < C; c++) {
        if (n > 0) range(k + c, n, (size_t)C, levels(dtype), &scale[c], &zero[c]);
        for (int t = 0; t < n; t++)
            put_code(dtype, codes + (size_t)t * row_bytes, c,
                     quantize_one(k[(size_t)t * C + c], scale[c], zero[c], levels(dtype)));
    }
}

void llmbed_kv_dequantize_keys(llmbed_kv_dtype dtype, const uint8_t *codes, const float *scale, const float *zero,
                               int n, int C, float *out) {
    const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)C);
    for (int t = 0; t < n; t++)
        for (int c = 0; c < C; c++)
            out[(size_t)t * C + c] = dequantize_one(get_code(dtype, codes + (size_t)t * row_bytes, c), scale[c], zero[c]);
}

void llmbed_kv_quantize_values(llmbed_kv_dtype dtype, const float *v, int n, int D, int group, uint8_t *codes,
                               float *scale, float *zero) {
    const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)D);
    const int n_groups = (D + group - 1) / group;
    memset(codes, 0, row_bytes * (size_t)n);
    for (int t = 0; t < n; t++) {
        for (int g = 0; g < n_groups; g++) {
            const int c0 = g * group, width = D - c0 < group ? D - c0 : group;
            float *s = &scale[(size_t)t * n_groups + g], *z = &zero[(size_t)t * n_groups + g];
            range(v + (size_t)t * D + c0, width, 1, levels(dtype), s, z);
            for (int c = c0; c < c0 + width; c++)
                put_code(dtype, codes + (size_t)t * row_bytes, c, quantize_one(v[(size_t)t * D + c], *s, *z, levels(dtype)));
        }
    }
}

void llmbed_kv_dequantize_values(llmbed_kv_dtype dtype, const uint8_t *codes, const float *scale, const float *zero,
                                 int n, int D, int group, float *out) {
    const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)D);
    const int n_groups = (D + group - 1) / group;
    for (int t = 0; t < n; t++)
        for (int c = 0; c < D; c++) {
            const size_t g = (size_t)t * n_groups + (size_t)(c / group);
            out[(size_t)t * D + c] = dequantize_one(get_code(dtype, codes + (size_t)t * row_bytes, c), scale[g], zero[g]);
        }
}

double llmbed_kv_key_bytes_per_token(llmbed_kv_dtype dtype, int n_kv_heads, int kept, int block) {
    const double codes = (double)llmbed_kv_dtype_bits(dtype) / 8.0 * kept;
    const double ranges = dtype >= LLMBED_KV_INT8 ? 2.0 * sizeof(float) * kept / (block > 0 ? block : 1) : 0.0;
    return n_kv_heads * (codes + ranges);
}

double llmbed_kv_value_bytes_per_token(llmbed_kv_dtype dtype, int n_kv_heads, int head_dim) {
    const double codes = (double)llmbed_kv_dtype_bits(dtype) / 8.0 * head_dim;
    const int groups = (head_dim + LLMBED_KV_VALUE_GROUP - 1) / LLMBED_KV_VALUE_GROUP;
    const double ranges = dtype >= LLMBED_KV_INT8 ? 2.0 * sizeof(float) * groups : 0.0;
    return n_kv_heads * (codes + ranges);
}
