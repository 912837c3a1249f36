#include "model/weight.h"

#include <string.h>

#include "common/fp16.h"

llmbed_weight llmbed_weight_of_f32(const float *data, int64_t rows, int64_t cols) {
    const llmbed_weight w = {LLMBED_DTYPE_F32, rows, cols, (size_t)cols * sizeof(float), (void *)data};
    return w;
}

const float *llmbed_weight_f32(const llmbed_weight *w) {
    return w->dtype == LLMBED_DTYPE_F32 ? (const float *)w->data : NULL;
}

const void *llmbed_weight_row(const llmbed_weight *w, int64_t row) {
    return (const uint8_t *)w->data + (size_t)row * w->row_bytes;
}

void llmbed_weight_slice_to_f32(const llmbed_weight *w, int64_t row, int64_t col, int64_t n, float *out) {
    const size_t block = llmbed_dtype_block_elements(w->dtype);
    const size_t block_bytes = llmbed_dtype_bytes(w->dtype, (int64_t)block);
    const uint8_t *src = (const uint8_t *)llmbed_weight_row(w, row) + (size_t)col / block * block_bytes;
    llmbed_dtype_to_f32(w->dtype, src, out, n);
}

void llmbed_weight_rows_to_f32(const llmbed_weight *w, int64_t row, int64_t n_rows, float *out) {
    for (int64_t r = 0; r < n_rows; r++)
        llmbed_dtype_to_f32(w->dtype, llmbed_weight_row(w, row + r), out + (size_t)r * (size_t)w->cols, w->cols);
}

void llmbed_weight_rows_to_bf16(const llmbed_weight *w, int64_t row, int64_t n_rows, uint16_t *out) {
    enum { CHUNK = 256 }; /* a multiple of every block size */
    float tmp[CHUNK];
    for (int64_t r = 0; r < n_rows; r++) {
        uint16_t *o = out + (size_t)r * (size_t)w->cols;
        for (int64_t c = 0; c < w->cols; c += CHUNK) {
            const int64_t n = w->cols - c < CHUNK ? w->cols - c : CHUNK;
            llmbed_weight_slice_to_f32(w, row + r, c, n, tmp);
            for (int64_t i = 0; i < n; i++) o[c + i] = llmbed_f32_to_bf16(tmp[i]);
        }
    }
}

static const char *const MODE_NAMES[] = {"default", "f32", "bf16", "native"};

const char *llmbed_weights_name(llmbed_weights_mode mode) {
    return (unsigned)mode <= LLMBED_WEIGHTS_NATIVE ? MODE_NAMES[mode] : "unknown";
}

int llmbed_weights_parse(const char *name, llmbed_weights_mode *mode) {
    for (int i = LLMBED_WEIGHTS_F32; i <= LLMBED_WEIGHTS_NATIVE; i++)
        if (strcmp(name, MODE_NAMES[i]) == 0) {
            *mode = (llmbed_weights_mode)i;
            return 0;
        }
    return -1;
}

llmbed_dtype llmbed_weights_held_dtype(llmbed_weights_mode mode, llmbed_dtype stored, int64_t cols) {
    if (mode == LLMBED_WEIGHTS_BF16) return LLMBED_DTYPE_BF16;
    if (mode == LLMBED_WEIGHTS_NATIVE && llmbed_dtype_bytes(stored, cols) != 0) return stored;
    return LLMBED_DTYPE_F32;
}
