#include "model/weight_plan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ALIGN_FLOATS 16 /* 64 bytes: every buffer starts on a cache line */

static void format_shape(const llmbed_tensor_ref *t, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->n_dims && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static llmbed_status add(llmbed_weight_plan *plan, float **slot, llmbed_weight *matrix,
                         const llmbed_tensor_ref *tensor, const char *name, int64_t rows, int64_t cols,
                         int unpermute_heads, llmbed_error *error) {
    if (tensor == NULL)
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor '%s' is missing", plan->file, name);
    const bool two_dims = cols > 0;
    if (tensor->n_dims != (two_dims ? 2 : 1) || tensor->shape[0] != rows || (two_dims && tensor->shape[1] != cols)) {
        char actual[96], expected[64];
        format_shape(tensor, actual, sizeof actual);
        if (two_dims) snprintf(expected, sizeof expected, "[%lld, %lld]", (long long)rows, (long long)cols);
        else snprintf(expected, sizeof expected, "[%lld]", (long long)rows);
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "%s: tensor '%s' has shape %s, the config implies %s",
                           plan->file, name, actual, expected);
    }
    if (unpermute_heads > 0 && rows % (2 * unpermute_heads) != 0)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor '%s': %lld rows do not split into %d heads of pairs", plan->file, name,
                           (long long)rows, unpermute_heads);
    if (plan->n_items == plan->capacity) {
        const int cap = plan->capacity ? 2 * plan->capacity : 64;
        llmbed_weight_request *items = realloc(plan->items, (size_t)cap * sizeof *items);
        if (items == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", plan->file);
        plan->items = items;
        plan->capacity = cap;
    }
    plan->items[plan->n_items++] = (llmbed_weight_request){slot, matrix, tensor, unpermute_heads};
    return LLMBED_OK;
}

llmbed_status llmbed_weight_plan_add(llmbed_weight_plan *plan, float **slot, const llmbed_tensor_ref *tensor,
                                     const char *name, int64_t rows, int64_t cols, int unpermute_heads,
                                     llmbed_error *error) {
    return add(plan, slot, NULL, tensor, name, rows, cols, unpermute_heads, error);
}

llmbed_status llmbed_weight_plan_add_matrix(llmbed_weight_plan *plan, llmbed_weight *matrix,
                                            const llmbed_tensor_ref *tensor, const char *name, int64_t rows,
                                            int64_t cols, int unpermute_heads, llmbed_error *error) {
    return add(plan, NULL, matrix, tensor, name, rows, cols, unpermute_heads, error);
}

/* convert_hf_to_gguf.py LlamaModel.permute(w, n_head, n_head_kv) stores,
 * per head of D rows, row s*D/2 + i of the Hugging Face weight at row 2i + s
 * (w.reshape(n_head, 2, D/2, ...).swapaxes(1, 2)), so that llama.cpp's
 * adjacent-pair RoPE equals HF's rotate_half. This puts the rows back.
 * w: [rows, cols] (cols 1 for a bias). */
static llmbed_status unpermute_rows(float *w, int64_t rows, int64_t cols, int n_heads, const char *file,
                                    const char *name, llmbed_error *error) {
    float *tmp = malloc((size_t)(rows * cols) * sizeof *tmp);
    if (tmp == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: tensor '%s': out of memory", file, name);
    memcpy(tmp, w, (size_t)(rows * cols) * sizeof *tmp);
    const int64_t D = rows / n_heads, half = D / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t s = 0; s < 2; s++)
            for (int64_t i = 0; i < half; i++)
                memcpy(w + (h * D + s * half + i) * cols, tmp + (h * D + 2 * i + s) * cols,
                       (size_t)cols * sizeof *w);
    free(tmp);
    return LLMBED_OK;
}

/* Allocates *storage (64-byte aligned), converts every tensor into its slot;
 * *n_parameters and *largest_dtype (the dtype holding the most parameters,
 * summed over tensors: a Q4_1 file with a Q8_0 embedding is a Q4_1 file)
 * describe what was loaded. */
static llmbed_status load_plan(const llmbed_weight_plan *plan, int n_threads, void **storage, int64_t *n_parameters,
                               llmbed_dtype *largest_dtype, llmbed_error *error) {
    *storage = NULL;
    int64_t total = 0, params = 0;
    *largest_dtype = LLMBED_DTYPE_F32;
    for (int i = 0; i < plan->n_items; i++) {
        const int64_t n = llmbed_tensor_n_elements(plan->items[i].tensor);
        params += n;
        total += (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    }
    int64_t most = -1;
    for (int i = 0; i < plan->n_items; i++) {
        const llmbed_dtype dtype = plan->items[i].tensor->dtype;
        int64_t sum = 0;
        for (int j = 0; j < plan->n_items; j++)
            if (plan->items[j].tensor->dtype == dtype) sum += llmbed_tensor_n_elements(plan->items[j].tensor);
        if (sum > most) {
            most = sum;
            *largest_dtype = dtype;
        }
    }
    /* Sizes were checked against the config's bounded dimensions, so no overflow here. */
    const size_t bytes = (size_t)(total > 0 ? total : ALIGN_FLOATS) * sizeof(float);
    float *buf = aligned_alloc(64, bytes);
    if (buf == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for fp32 weights",
                           plan->file, bytes);
    float *p = buf;
    for (int i = 0; i < plan->n_items; i++) {
        const llmbed_weight_request *r = &plan->items[i];
        const int64_t n = llmbed_tensor_n_elements(r->tensor);
        llmbed_status st = llmbed_tensor_to_f32_threads(r->tensor, p, n_threads, error);
        if (st == LLMBED_OK && r->unpermute_heads > 0) {
            const int64_t rows = r->tensor->shape[0];
            st = unpermute_rows(p, rows, n / rows, r->unpermute_heads, plan->file, r->tensor->name, error);
        }
        if (st != LLMBED_OK) {
            free(buf);
            return st;
        }
        if (r->matrix != NULL) *r->matrix = llmbed_weight_of_f32(p, r->tensor->shape[0], n / r->tensor->shape[0]);
        else *r->slot = p;
        p += (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    }
    *storage = buf;
    *n_parameters = params;
    return LLMBED_OK;
}

llmbed_status llmbed_weight_plan_finish(llmbed_weight_plan *plan, llmbed_status planned, int n_threads,
                                        void **storage, int64_t *n_parameters, const char **weight_dtype,
                                        llmbed_error *error) {
    llmbed_dtype dtype = LLMBED_DTYPE_F32;
    llmbed_status st = planned;
    if (st == LLMBED_OK) st = load_plan(plan, n_threads, storage, n_parameters, &dtype, error);
    free(plan->items);
    plan->items = NULL;
    plan->n_items = plan->capacity = 0;
    *weight_dtype = llmbed_dtype_name(dtype);
    return st;
}
