/* dtype sizes and conversion to fp32. The per-block arithmetic lives in
 * container/dequant.c (bit-identical to gguf-py's quants.py); this file
 * checks a view against its dtype and runs the conversion in parallel. */
#include "container/tensor.h"

#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "container/dequant.h"

typedef struct dtype_layout {
    const char *name;
    size_t block_elements;
    size_t block_bytes;
} dtype_layout;

/* Block sizes as ggml's type_traits (ggml.c) and gguf-py's GGML_QUANT_SIZES. */
static const dtype_layout LAYOUTS[LLMBED_DTYPE_COUNT] = {
    [LLMBED_DTYPE_F32] = {"F32", 1, 4},         [LLMBED_DTYPE_F16] = {"F16", 1, 2},
    [LLMBED_DTYPE_BF16] = {"BF16", 1, 2},       [LLMBED_DTYPE_Q8_0] = {"Q8_0", 32, 34},
    [LLMBED_DTYPE_Q4_0] = {"Q4_0", 32, 18},     [LLMBED_DTYPE_Q4_1] = {"Q4_1", 32, 20},
    [LLMBED_DTYPE_Q5_0] = {"Q5_0", 32, 22},     [LLMBED_DTYPE_Q5_1] = {"Q5_1", 32, 24},
    [LLMBED_DTYPE_Q2_K] = {"Q2_K", 256, 84},    [LLMBED_DTYPE_Q3_K] = {"Q3_K", 256, 110},
    [LLMBED_DTYPE_Q4_K] = {"Q4_K", 256, 144},   [LLMBED_DTYPE_Q5_K] = {"Q5_K", 256, 176},
    [LLMBED_DTYPE_Q6_K] = {"Q6_K", 256, 210},   [LLMBED_DTYPE_Q8_K] = {"Q8_K", 256, 292},
};

const char *llmbed_dtype_name(llmbed_dtype dtype) {
    return (unsigned)dtype < LLMBED_DTYPE_COUNT ? LAYOUTS[dtype].name : "unknown";
}

size_t llmbed_dtype_block_elements(llmbed_dtype dtype) {
    return (unsigned)dtype < LLMBED_DTYPE_COUNT ? LAYOUTS[dtype].block_elements : 0;
}

size_t llmbed_dtype_block_bytes(llmbed_dtype dtype) {
    return (unsigned)dtype < LLMBED_DTYPE_COUNT ? LAYOUTS[dtype].block_bytes : 0;
}

int64_t llmbed_tensor_n_elements(const llmbed_tensor_ref *tensor) {
    int64_t n = 1;
    for (int d = 0; d < tensor->n_dims; d++) n *= tensor->shape[d];
    return n;
}

size_t llmbed_dtype_bytes(llmbed_dtype dtype, int64_t n_elements) {
    if ((unsigned)dtype >= LLMBED_DTYPE_COUNT || n_elements < 0) return 0;
    const dtype_layout *l = &LAYOUTS[dtype];
    if ((uint64_t)n_elements % l->block_elements != 0) return 0;
    const uint64_t blocks = (uint64_t)n_elements / l->block_elements;
    if (blocks > SIZE_MAX / l->block_bytes) return 0;
    return (size_t)(blocks * l->block_bytes);
}

void llmbed_dtype_to_f32(llmbed_dtype dtype, const void *blocks, float *out, int64_t n) {
    const llmbed_dequant_fn dequant = llmbed_dequant_fn_for(dtype);
    if (dequant) dequant(blocks, out, n / (int64_t)LAYOUTS[dtype].block_elements);
}

/* Converts elements [begin, end) (whole blocks). */
static void convert_range(const llmbed_tensor_ref *t, float *out, int64_t begin, int64_t end) {
    const int64_t block = (int64_t)LAYOUTS[t->dtype].block_elements;
    const uint8_t *src = (const uint8_t *)t->data + (size_t)(begin / block) * LAYOUTS[t->dtype].block_bytes;
    llmbed_dtype_to_f32(t->dtype, src, out + begin, end - begin);
}

llmbed_status llmbed_tensor_to_f32_threads(const llmbed_tensor_ref *tensor, float *out, int n_threads,
                                           llmbed_error *error) {
    if ((unsigned)tensor->dtype >= LLMBED_DTYPE_COUNT)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_DTYPE, "tensor '%s': unknown dtype %d", tensor->name,
                           (int)tensor->dtype);
    const int64_t n = llmbed_tensor_n_elements(tensor);
    const size_t bytes = llmbed_dtype_bytes(tensor->dtype, n);
    if ((bytes == 0 && n != 0) || bytes != tensor->n_bytes)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "tensor '%s': %lld %s elements need %zu bytes, the view has %zu", tensor->name,
                           (long long)n, llmbed_dtype_name(tensor->dtype), bytes, tensor->n_bytes);
    /* Chunks of 64 Ki elements (a multiple of every block size) keep small tensors on one thread. */
    const int64_t chunk = 65536;
    const int64_t n_chunks = (n + chunk - 1) / chunk;
    const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static) if (n_chunks > 1)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t begin = c * chunk;
        const int64_t end = begin + chunk < n ? begin + chunk : n;
        convert_range(tensor, out, begin, end);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_tensor_to_f32(const llmbed_tensor_ref *tensor, float *out, llmbed_error *error) {
    return llmbed_tensor_to_f32_threads(tensor, out, 0, error);
}
