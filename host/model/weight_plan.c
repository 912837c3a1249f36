#include "model/weight_plan.h"

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ALIGN_BYTES 64 /* every buffer starts on a cache line */

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
 * adjacent-pair RoPE equals HF's rotate_half. This puts the rows back, whole
 * rows of row_bytes each (fp32, bf16 or quantisation blocks alike).
 * w: [rows, ...] (a bias is rows of one element). */
static llmbed_status unpermute_rows(uint8_t *w, int64_t rows, size_t row_bytes, int n_heads, const char *file,
                                    const char *name, llmbed_error *error) {
    uint8_t *tmp = malloc((size_t)rows * row_bytes);
    if (tmp == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: tensor '%s': out of memory", file, name);
    memcpy(tmp, w, (size_t)rows * row_bytes);
    const int64_t D = rows / n_heads, half = D / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t s = 0; s < 2; s++)
            for (int64_t i = 0; i < half; i++)
                memcpy(w + (size_t)(h * D + s * half + i) * row_bytes, tmp + (size_t)(h * D + 2 * i + s) * row_bytes,
                       row_bytes);
    free(tmp);
    return LLMBED_OK;
}

/* How request r is held: fp32 for vectors, the plan's mode for matrices. */
static llmbed_dtype held_dtype(const llmbed_weight_plan *plan, const llmbed_weight_request *r) {
    if (r->matrix == NULL) return LLMBED_DTYPE_F32;
    const llmbed_tensor_ref *t = r->tensor;
    return llmbed_weights_held_dtype(plan->mode, t->dtype, t->n_dims == 2 ? t->shape[1] : 1);
}

/* Bytes request r takes in storage (64-byte multiples); sizes were checked
 * against the config's bounded dimensions, so no overflow. */
static size_t held_bytes(const llmbed_weight_plan *plan, const llmbed_weight_request *r) {
    const size_t bytes = llmbed_dtype_bytes(held_dtype(plan, r), llmbed_tensor_n_elements(r->tensor));
    return (bytes + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

/* Converts tensor t into `out` as `held`: fp32 (exact expansion), its own
 * blocks (a copy), or bf16 (rows rounded from their fp32 values), threads
 * over chunks of rows. */
static llmbed_status convert(const llmbed_tensor_ref *t, llmbed_dtype held, void *out, int n_threads,
                             llmbed_error *error) {
    if (held == LLMBED_DTYPE_F32) return llmbed_tensor_to_f32_threads(t, out, n_threads, error);
    const int64_t n = llmbed_tensor_n_elements(t), rows = t->shape[0], cols = n / rows;
    const size_t bytes = llmbed_dtype_bytes(t->dtype, n);
    if (bytes != t->n_bytes)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "tensor '%s': %lld %s elements need %zu bytes, the view has %zu",
                           t->name, (long long)n, llmbed_dtype_name(t->dtype), bytes, t->n_bytes);
    if (held == t->dtype) {
        memcpy(out, t->data, bytes);
        return LLMBED_OK;
    }
    const llmbed_weight stored = {t->dtype, rows, cols, llmbed_dtype_bytes(t->dtype, cols), (void *)t->data};
    const int64_t chunk = 64;
    const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r += chunk)
        llmbed_weight_rows_to_bf16(&stored, r, rows - r < chunk ? rows - r : chunk, (uint16_t *)out + (size_t)(r * cols));
    return LLMBED_OK;
}

/* The dtype holding the most parameters, summed over tensors: a Q4_1 file
 * with a Q8_0 embedding is a Q4_1 file. */
static llmbed_dtype largest_dtype(const llmbed_weight_plan *plan) {
    llmbed_dtype largest = LLMBED_DTYPE_F32;
    int64_t most = -1;
    for (int i = 0; i < plan->n_items; i++) {
        const llmbed_dtype dtype = plan->items[i].tensor->dtype;
        int64_t sum = 0;
        for (int j = 0; j < plan->n_items; j++)
            if (plan->items[j].tensor->dtype == dtype) sum += llmbed_tensor_n_elements(plan->items[j].tensor);
        if (sum > most) {
            most = sum;
            largest = dtype;
        }
    }
    return largest;
}

/* Allocates *storage (64-byte aligned) and converts every tensor into its
 * slot; plan->storage_bytes and *n_parameters describe what was loaded. */
static llmbed_status load_plan(llmbed_weight_plan *plan, int n_threads, void **storage, int64_t *n_parameters,
                               llmbed_error *error) {
    *storage = NULL;
    int64_t params = 0;
    size_t total = 0;
    for (int i = 0; i < plan->n_items; i++) {
        params += llmbed_tensor_n_elements(plan->items[i].tensor);
        total += held_bytes(plan, &plan->items[i]);
    }
    const size_t bytes = total > 0 ? total : ALIGN_BYTES;
    uint8_t *buf = aligned_alloc(ALIGN_BYTES, bytes);
    if (buf == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu MiB for the weights (%s)",
                           plan->file, bytes >> 20, llmbed_weights_name(plan->mode));
    uint8_t *p = buf;
    for (int i = 0; i < plan->n_items; i++) {
        const llmbed_weight_request *r = &plan->items[i];
        const llmbed_dtype held = held_dtype(plan, r);
        const int64_t rows = r->tensor->shape[0], cols = llmbed_tensor_n_elements(r->tensor) / rows;
        llmbed_status st = convert(r->tensor, held, p, n_threads, error);
        if (st == LLMBED_OK && r->unpermute_heads > 0)
            st = unpermute_rows(p, rows, llmbed_dtype_bytes(held, cols), r->unpermute_heads, plan->file,
                                r->tensor->name, error);
        if (st != LLMBED_OK) {
            free(buf);
            return st;
        }
        if (r->matrix != NULL) {
            const llmbed_weight w = {held, rows, cols, llmbed_dtype_bytes(held, cols), p};
            *r->matrix = w;
        } else {
            *r->slot = (float *)p;
        }
        p += held_bytes(plan, r);
    }
    *storage = buf;
    *n_parameters = params;
    plan->storage_bytes = bytes;
    return LLMBED_OK;
}

llmbed_status llmbed_weight_plan_finish(llmbed_weight_plan *plan, llmbed_status planned, int n_threads,
                                        void **storage, int64_t *n_parameters, const char **weight_dtype,
                                        llmbed_error *error) {
    llmbed_status st = planned;
    if (st == LLMBED_OK) st = load_plan(plan, n_threads, storage, n_parameters, error);
    const llmbed_dtype dtype = plan->n_items > 0 ? largest_dtype(plan) : LLMBED_DTYPE_F32;
    free(plan->items);
    plan->items = NULL;
    plan->n_items = plan->capacity = 0;
    *weight_dtype = llmbed_dtype_name(dtype);
    return st;
}
