#include "io/row_encode.h"

#include "common/fp16.h"

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

void llmbed_row_encode(llmbed_output_dtype dtype, const float *row, int dims, void *out, float *scale) {
    *scale = 1.0f;
    switch (dtype) {
    case LLMBED_DTYPE_FLOAT32:
        memcpy(out, row, (size_t)dims * sizeof(float));
        break;
    case LLMBED_DTYPE_FLOAT16: {
        uint16_t *h = out;
        for (int i = 0; i < dims; i++) h[i] = llmbed_f32_to_fp16(row[i]);
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
