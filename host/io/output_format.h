/* Byte layouts of the output formats, as pure functions (the writer in
 * output_writer.c does the file I/O):
 *   .npy          NumPy format v1.0: magic, little-endian uint16 header
 *                 length, a Python dict literal padded with spaces to a fixed
 *                 128-byte header so the row count can be rewritten at the end;
 *   .safetensors  8-byte little-endian header length + JSON + data; the JSON
 *                 is space-padded to a reserved size (the format allows
 *                 trailing spaces) for the same reason;
 *   .jsonl        one {"id": ..., "embedding": [...]} object per row. */
#ifndef LLMBED_IO_OUTPUT_FORMAT_H
#define LLMBED_IO_OUTPUT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "io/row_encode.h"

typedef enum llmbed_output_format {
    LLMBED_FORMAT_NPY = 0,
    LLMBED_FORMAT_SAFETENSORS,
    LLMBED_FORMAT_JSONL
} llmbed_output_format;

#define LLMBED_NPY_HEADER_BYTES 128
#define LLMBED_SAFETENSORS_HEADER_BYTES 512 /* 8-byte length + JSON, keeps the data 8-aligned */

/* "npy", "safetensors", "jsonl". */
const char *llmbed_output_format_name(llmbed_output_format format);
/* Returns 0 and sets *format for a name above, else -1. */
int llmbed_output_format_parse(const char *name, llmbed_output_format *format);
/* From the file extension (.npy/.safetensors/.jsonl); -1 when none matches. */
int llmbed_output_format_from_path(const char *path, llmbed_output_format *format);

/* numpy's dtype string of a stored dtype: "<f4", "<f2", "|i1", "|u1". */
const char *llmbed_npy_descr(llmbed_output_dtype dtype);

/* Writes the 128-byte npy header for shape (rows, cols), or (rows,) when
 * cols < 0. */
void llmbed_npy_header(unsigned char out[LLMBED_NPY_HEADER_BYTES], const char *descr, int64_t rows,
                       int64_t cols);

/* Writes the LLMBED_SAFETENSORS_HEADER_BYTES header describing "embeddings"
 * [rows, width] of `dtype` followed (int8 only) by "scales" F32 [rows]. */
void llmbed_safetensors_header(unsigned char out[LLMBED_SAFETENSORS_HEADER_BYTES],
                               llmbed_output_dtype dtype, int64_t rows, int64_t width);

/* Formats one JSONL line (with the trailing newline) into out[capacity];
 * returns its length, or the length needed when it exceeds capacity.
 * `id_json` is the record's id as JSON text, or NULL to use `index`. */
size_t llmbed_jsonl_format_row(char *out, size_t capacity, const char *id_json, int64_t index,
                               llmbed_output_dtype dtype, const void *values, size_t width, float scale);

#endif
