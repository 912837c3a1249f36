#include "io/row_encode.h"

#include <math.h>
#include <string.h>

static const char *const dtype_names[] = {"float32", "float16", "int8", "ubinary"};

const char *llmbed_output_dtype_name(llmbed_output_dtype dtype) { return dtype_names[dtype]; }

int llmbed_output_dtype_parse(const char *name, llmbed_output_dtype *dtype) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, dtype_names[i]) == 0) {
            *dtype = (llmbed_output_dtype)i;
            return 0;
        }
    }
    return -1;
}

size_t llmbed_row_width(llmbed_output_dtype dtype, int dims) {
    return dtype == LLMBED_DTYPE_UBINARY ? ((size_t)dims + 7) / 8 : (size_t)dims;
}

size_t llmbed_dtype_size(llmbed_output_dtype dtype) {
    switch (dtype) {
    case LLMBED_DTYPE_FLOAT32: return 4;
    case LLMBED_DTYPE_FLOAT16: return 2;
    default: return 1;
    }
}

/* binary32 -> binary16 with round-to-nearest-even on the dropped bits; NaN
 * stays a quiet NaN, overflow goes to infinity, tiny values to subnormals. */
uint16_t llmbed_f32_to_f16(float value) {
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    int exponent = (int)((x >> 23) & 0xffu);
    uint32_t mantissa = x & 0x7fffffu;
    if (exponent == 0xff) return (uint16_t)(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
    int e = exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mantissa |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* a carry rounds up into the exponent */
    return (uint16_t)h;
}

float llmbed_f16_to_f32(uint16_t bits) {
    uint32_t sign = ((uint32_t)bits & 0x8000u) << 16;
    int exponent = (bits >> 10) & 0x1f;
    uint32_t mantissa = bits & 0x3ffu;
    uint32_t x;
    if (exponent == 0x1f) {
        x = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent == 0) {
        float v = ldexpf((float)mantissa, -24);
        return sign ? -v : v;
    } else {
        x = sign | ((uint32_t)(exponent - 15 + 127) << 23) | (mantissa << 13);
    }
    float value;
    memcpy(&value, &x, sizeof value);
    return value;
}

void llmbed_row_encode(llmbed_output_dtype dtype, const float *row, int dims, void *out, float *scale) {
    *scale = 1.0f;
    switch (dtype) {
    case LLMBED_DTYPE_FLOAT32:
        memcpy(out, row, (size_t)dims * sizeof(float));
        break;
    case LLMBED_DTYPE_FLOAT16: {
        uint16_t *h = out;
        for (int i = 0; i < dims; i++) h[i] = llmbed_f32_to_f16(row[i]);
        break;
    }
    case LLMBED_DTYPE_INT8: {
        float amax = 0.0f;
        for (int i = 0; i < dims; i++) amax = fmaxf(amax, fabsf(row[i]));
        float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        int8_t *q = out;
        for (int i = 0; i < dims; i++) {
            float v = rintf(row[i] / s);
            q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
        }
        *scale = s;
        break;
    }
    case LLMBED_DTYPE_UBINARY: {
        uint8_t *b = out;
        memset(b, 0, llmbed_row_width(dtype, dims));
        for (int i = 0; i < dims; i++) {
            if (row[i] > 0.0f) b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
        }
        break;
    }
    }
}
