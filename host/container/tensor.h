/* A view of one tensor inside a mapped weight file (safetensors or GGUF).
 * Shapes use the row-major Hugging Face convention: shape[0] is the
 * outermost dimension, so a projection weight is [out_features, in_features]
 * whichever file it came from (GGUF's ne[] order is reversed at load). */
#ifndef LLMBED_CONTAINER_TENSOR_H
#define LLMBED_CONTAINER_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmbed_dtype {
    LLMBED_DTYPE_F32,
    LLMBED_DTYPE_F16,
    LLMBED_DTYPE_BF16,
    LLMBED_DTYPE_Q8_0, /* GGUF blocks of 32: fp16 scale + 32 int8 */
    LLMBED_DTYPE_Q4_0, /* GGUF blocks of 32: fp16 scale + 16 bytes of nibbles, offset 8 */
    LLMBED_DTYPE_Q4_1, /* GGUF blocks of 32: fp16 scale, fp16 min + 16 bytes of nibbles */
    LLMBED_DTYPE_Q5_0, /* GGUF blocks of 32: fp16 scale, 32 fifth bits, 16 bytes of nibbles, offset 16 */
    LLMBED_DTYPE_Q5_1, /* GGUF blocks of 32: fp16 scale, fp16 min, 32 fifth bits, 16 bytes of nibbles */
    LLMBED_DTYPE_Q2_K, /* GGUF K-quant super-blocks of 256 (layouts: container/dequant.c) */
    LLMBED_DTYPE_Q3_K,
    LLMBED_DTYPE_Q4_K,
    LLMBED_DTYPE_Q5_K,
    LLMBED_DTYPE_Q6_K,
    LLMBED_DTYPE_Q8_K,
    LLMBED_DTYPE_COUNT
} llmbed_dtype;

#define LLMBED_TENSOR_MAX_DIMS 4

typedef struct llmbed_tensor_ref {
    const char *name;
    llmbed_dtype dtype;
    int n_dims;
    int64_t shape[LLMBED_TENSOR_MAX_DIMS]; /* row-major, outermost first */
    const void *data;                      /* inside the mapping; not aligned in general */
    size_t n_bytes;
} llmbed_tensor_ref;

const char *llmbed_dtype_name(llmbed_dtype dtype);
int64_t llmbed_tensor_n_elements(const llmbed_tensor_ref *tensor);

/* Bytes needed for n_elements of dtype; returns 0 when n_elements is not a
 * whole number of quantisation blocks (or is negative, or the size overflows). */
size_t llmbed_dtype_bytes(llmbed_dtype dtype, int64_t n_elements);

/* Elements per block (1 for F32/F16/BF16, 32 or 256 for quantised types) and
 * bytes per block; 0 for an unknown dtype. */
size_t llmbed_dtype_block_elements(llmbed_dtype dtype);
size_t llmbed_dtype_block_bytes(llmbed_dtype dtype);

/* n elements of `dtype` stored from a block boundary at `blocks` -> out[n],
 * with the arithmetic of llmbed_tensor_to_f32 (n: whole blocks; container/dequant.h). */
void llmbed_dtype_to_f32(llmbed_dtype dtype, const void *blocks, float *out, int64_t n);

/* Converts/dequantises the whole tensor to fp32 into out[n_elements],
 * bit-exactly as gguf-py / safetensors+torch would (per-block functions:
 * container/dequant.h). */
llmbed_status llmbed_tensor_to_f32(const llmbed_tensor_ref *tensor, float *out, llmbed_error *error);

/* Same, with `n_threads` OpenMP threads (0 = all cores). */
llmbed_status llmbed_tensor_to_f32_threads(const llmbed_tensor_ref *tensor, float *out, int n_threads,
                                           llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
