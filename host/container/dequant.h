/* Dequantisation of ggml's quantised block formats to fp32, one function per
 * type, for the whole-tensor conversion at load (model/tensor.c) and for
 * GEMM tiles over native weights (the CPU backend's --weights native).
 *
 * A block holds `llmbed_dtype_block_elements(dtype)` consecutive elements of
 * one row (32 for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, 256 for the K-quant super-blocks)
 * in `llmbed_dtype_block_bytes(dtype)` bytes; blocks never straddle rows
 * because GGUF rows are whole numbers of blocks (checked at open). Layouts and
 * arithmetic follow ggml (ggml-common.h block_* structs, ggml-quants.c
 * dequantize_row_*) as gguf-py's quants.py transcribes them, rounding after
 * every float32 operation in the same order (no fused multiply-add), so the
 * results are bit-identical to gguf-py's `dequantize`.
 *
 * Stable signature for every type (the CPU GEMM calls these per tile):
 *   void llmbed_dequant_<type>(const void *blocks, float *out, int64_t n_blocks)
 * reads n_blocks * block_bytes bytes at `blocks` (any alignment) and writes
 * n_blocks * block_elements floats to `out`. No checks: callers hold a view
 * that llmbed_gguf_open validated, or use llmbed_dequant_row_range. */
#ifndef LLMBED_CONTAINER_DEQUANT_H
#define LLMBED_CONTAINER_DEQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "container/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*llmbed_dequant_fn)(const void *blocks, float *out, int64_t n_blocks);

/* Blocks of 32. */
void llmbed_dequant_q8_0(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q4_0(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q4_1(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q5_0(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q5_1(const void *blocks, float *out, int64_t n_blocks);
/* Super-blocks of 256 (QK_K). */
void llmbed_dequant_q2_k(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q3_k(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q4_k(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q5_k(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q6_k(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_q8_k(const void *blocks, float *out, int64_t n_blocks);
/* "Blocks" of one element, so every dtype has a function. */
void llmbed_dequant_f32(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_f16(const void *blocks, float *out, int64_t n_blocks);
void llmbed_dequant_bf16(const void *blocks, float *out, int64_t n_blocks);

/* The function of `dtype`; NULL for an unknown dtype. */
llmbed_dequant_fn llmbed_dequant_fn_for(llmbed_dtype dtype);

/* Elements [begin, end) of one row (`row` points at the row's first byte,
 * the row holds `row_elements` elements) into out[end - begin]. begin and end
 * must be multiples of the block size, or end == row_elements for rows whose
 * length is a whole number of blocks; anything else is
 * LLMBED_ERR_INVALID_ARGUMENT naming the values. */
llmbed_status llmbed_dequant_row_range(llmbed_dtype dtype, const void *row, int64_t row_elements, int64_t begin,
                                       int64_t end, float *out, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
