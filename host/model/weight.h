/* A weight matrix as the model holds it: dtype + data + shape. Projections
 * and the token embedding are stored in the representation chosen at load
 * (llmbed_weights_mode): fp32, bf16, or the file's own blocks (Q8_0, Q4_*,
 * F16, BF16, ...). Consumers read rows through the helpers below, which
 * produce exactly the fp32 values the fp32 path holds (the same per-dtype
 * conversion, tensor.c), so every representation feeds the same arithmetic.
 * Vectors (norms, biases) stay plain fp32 arrays in llmbed_layer_weights. */
#ifndef LLMBED_MODEL_WEIGHT_H
#define LLMBED_MODEL_WEIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "container/tensor.h"
#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

/* [rows, cols] row-major; each row is row_bytes bytes (whole quantisation
 * blocks: cols is a multiple of the dtype's block size). data NULL: absent. */
typedef struct llmbed_weight {
    llmbed_dtype dtype;
    int64_t rows, cols;
    size_t row_bytes;
    void *data;
} llmbed_weight;

/* A view of an fp32 array [rows, cols] (not owned). */
llmbed_weight llmbed_weight_of_f32(const float *data, int64_t rows, int64_t cols);

/* The fp32 array of an F32 weight; NULL for any other dtype or when absent. */
const float *llmbed_weight_f32(const llmbed_weight *w);

/* Start of row `row`'s bytes. */
const void *llmbed_weight_row(const llmbed_weight *w, int64_t row);

/* out[n_rows, cols] = rows [row, row + n_rows) converted to fp32, bit-equal
 * to llmbed_tensor_to_f32 of the same data. */
void llmbed_weight_rows_to_f32(const llmbed_weight *w, int64_t row, int64_t n_rows, float *out);

/* Elements [col, col + n) of row `row` to fp32; col and n are multiples of
 * the dtype's block size (n may end at cols). */
void llmbed_weight_slice_to_f32(const llmbed_weight *w, int64_t row, int64_t col, int64_t n, float *out);

/* out[n_rows, cols] = the same rows as bf16 bits, rounded to nearest even
 * from their fp32 values (common/fp16.h), as __float2bfloat16_rn. */
void llmbed_weight_rows_to_bf16(const llmbed_weight *w, int64_t row, int64_t n_rows, uint16_t *out);

/* "f32", "bf16", "native" ("default" for LLMBED_WEIGHTS_DEFAULT). */
const char *llmbed_weights_name(llmbed_weights_mode mode);

/* The mode a name of llmbed_weights_name stands for; -1 when none does. */
int llmbed_weights_parse(const char *name, llmbed_weights_mode *mode);

/* The dtype a matrix stored as `stored` with rows of `cols` elements is held
 * in under `mode` (native keeps the stored dtype when every row is whole
 * blocks, else fp32; bf16 rounds; f32 and default expand). */
llmbed_dtype llmbed_weights_held_dtype(llmbed_weights_mode mode, llmbed_dtype stored, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif
