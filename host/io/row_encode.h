/* Float32 embedding rows -> the stored dtype (SPEC §4 "Output dtypes"), the
 * host's definition of the rules (the CPU backend's postprocess op calls it;
 * the CUDA kernel, kernels/postprocess.cu, is tested bit-equal to it):
 *   float32  as is;
 *   float16  IEEE binary16, round to nearest even (numpy's astype(float16));
 *   int8     per-vector symmetric: scale = max|x| / 127, q = round(x / scale),
 *            the scale stored beside the row (x ~= q * scale);
 *   ubinary  sign bits x > 0 packed 8 per byte, first value in the most
 *            significant bit, as sentence-transformers' quantize_embeddings
 *            (np.packbits(emb > 0)), last byte zero-padded. */
#ifndef LLMBED_IO_ROW_ENCODE_H
#define LLMBED_IO_ROW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum llmbed_output_dtype {
    LLMBED_DTYPE_FLOAT32 = 0,
    LLMBED_DTYPE_FLOAT16,
    LLMBED_DTYPE_INT8,
    LLMBED_DTYPE_UBINARY
} llmbed_output_dtype;

/* "float32", "float16", "int8", "ubinary". */
const char *llmbed_output_dtype_name(llmbed_output_dtype dtype);
/* Returns 0 and sets *dtype when `name` is one of the names above, else -1. */
int llmbed_output_dtype_parse(const char *name, llmbed_output_dtype *dtype);

/* Stored values per row for `dims` floats (ceil(dims / 8) for ubinary). */
size_t llmbed_row_width(llmbed_output_dtype dtype, int dims);
/* Bytes per stored value (1 for int8 and ubinary). */
size_t llmbed_dtype_size(llmbed_output_dtype dtype);

/* Encodes one row of `dims` floats into out[llmbed_row_width * dtype size]
 * bytes; *scale receives the int8 scale (1 for the other dtypes). */
void llmbed_row_encode(llmbed_output_dtype dtype, const float *row, int dims, void *out, float *scale);

#endif
