/* The weights a model needs, checked and then converted into one
 * allocation: vectors (norms, biases) to fp32 arrays, matrices to typed
 * weights (model/weight.h). Format-specific code (weights_hf.c,
 * weights_gguf.c) names the tensors and their expected shapes; this file
 * checks presence and shape, sizes the storage, converts (OpenMP) and
 * carves it. */
#ifndef LLMBED_MODEL_WEIGHT_PLAN_H
#define LLMBED_MODEL_WEIGHT_PLAN_H

#include <stdint.h>

#include "llmbed.h"
#include "container/tensor.h"
#include "model/weight.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_weight_request {
    float **slot;                     /* a vector: receives the fp32 buffer */
    llmbed_weight *matrix;            /* a matrix: receives the typed weight (slot NULL) */
    const llmbed_tensor_ref *tensor;
    int unpermute_heads;              /* > 0: undo llama.cpp's q/k row permutation (see weight_plan.c) */
} llmbed_weight_request;

typedef struct llmbed_weight_plan {
    const char *file; /* names the checkpoint in messages */
    llmbed_weight_request *items;
    int n_items, capacity;
    llmbed_weights_mode mode;  /* how matrices are held (DEFAULT: f32) */
    size_t storage_bytes; /* set by llmbed_weight_plan_finish */
} llmbed_weight_plan;

/* Adds `tensor` (found under `name`, NULL when absent) with the expected
 * shape [rows, cols] (cols 0: a vector of `rows`) as an fp32 array.
 * LLMBED_ERR_MISSING_TENSOR or LLMBED_ERR_TENSOR_SHAPE (naming the tensor,
 * expected and actual shape). */
llmbed_status llmbed_weight_plan_add(llmbed_weight_plan *plan, float **slot, const llmbed_tensor_ref *tensor,
                                     const char *name, int64_t rows, int64_t cols, int unpermute_heads,
                                     llmbed_error *error);

/* The same for a matrix [rows, cols] (cols > 0), held as a typed weight. */
llmbed_status llmbed_weight_plan_add_matrix(llmbed_weight_plan *plan, llmbed_weight *matrix,
                                            const llmbed_tensor_ref *tensor, const char *name, int64_t rows,
                                            int64_t cols, int unpermute_heads, llmbed_error *error);

/* Ends a plan. When `planned` (the status of adding its tensors) is OK:
 * allocates *storage (64-byte aligned, free() it) and converts every tensor
 * into its slot, with *n_parameters the total element count. Frees
 * the plan's list either way and names the dtype of its largest tensor in
 * *weight_dtype. Returns `planned` or the first load failure. */
llmbed_status llmbed_weight_plan_finish(llmbed_weight_plan *plan, llmbed_status planned, int n_threads,
                                        void **storage, int64_t *n_parameters, const char **weight_dtype,
                                        llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
