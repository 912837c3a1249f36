/* dtype sizes and conversion to fp32. Quantised layouts and arithmetic
 * follow gguf-py's gguf/quants.py (dequantize_blocks), which computes in
 * float32: Q8_0 x = q * d; Q4_0 x = d * (q - 8); Q4_1 x = (d * q) + m, two
 * roundings (no fused multiply-add), so results are bit-identical. */
#include "container/tensor.h"

#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "common/fp16.h"

#define QK 32 /* elements per quantisation block (ggml's QK8_0 = QK4_0 = QK4_1) */

typedef struct dtype_layout {
    const char *name;
    size_t block_elements;
    size_t block_bytes;
} dtype_layout;

static const dtype_layout LAYOUTS[LLMBED_DTYPE_COUNT] = {
    [LLMBED_DTYPE_F32] = {"F32", 1, 4},
    [LLMBED_DTYPE_F16] = {"F16", 1, 2},
    [LLMBED_DTYPE_BF16] = {"BF16", 1, 2},
    [LLMBED_DTYPE_Q8_0] = {"Q8_0", QK, 2 + QK},
    [LLMBED_DTYPE_Q4_0] = {"Q4_0", QK, 2 + QK / 2},
    [LLMBED_DTYPE_Q4_1] = {"Q4_1", QK, 4 + QK / 2},
};

const char *llmbed_dtype_name(llmbed_dtype dtype) {
    return (unsigned)dtype < LLMBED_DTYPE_COUNT ? LAYOUTS[dtype].name : "unknown";
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

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* One block of 32 elements each; `b` points at the block's bytes. */
static void dequant_q8_0(const uint8_t *b, float *out) {
    const float d = llmbed_fp16_to_f32(load_u16(b));
    for (int j = 0; j < QK; j++) out[j] = (float)(int8_t)b[2 + j] * d;
}

/* Element j < 16 is the low nibble of byte j, element j >= 16 the high nibble of byte j - 16. */
static void dequant_q4_0(const uint8_t *b, float *out) {
    const float d = llmbed_fp16_to_f32(load_u16(b));
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        out[j] = d * (float)((qs[j] & 0x0F) - 8);
        out[j + QK / 2] = d * (float)((qs[j] >> 4) - 8);
    }
}

static void dequant_q4_1(const uint8_t *b, float *out) {
    const float d = llmbed_fp16_to_f32(load_u16(b));
    const float m = llmbed_fp16_to_f32(load_u16(b + 2));
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        const float lo = d * (float)(qs[j] & 0x0F); /* separate statements: no FMA contraction */
        const float hi = d * (float)(qs[j] >> 4);
        out[j] = lo + m;
        out[j + QK / 2] = hi + m;
    }
}

size_t llmbed_dtype_block_elements(llmbed_dtype dtype) {
    return (unsigned)dtype < LLMBED_DTYPE_COUNT ? LAYOUTS[dtype].block_elements : 0;
}

void llmbed_dtype_to_f32(llmbed_dtype dtype, const void *blocks, float *out, int64_t n) {
    const uint8_t *src = blocks;
    switch (dtype) {
    case LLMBED_DTYPE_F32:
        memcpy(out, src, (size_t)n * 4);
        break;
    case LLMBED_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) out[i] = llmbed_fp16_to_f32(load_u16(src + 2 * i));
        break;
    case LLMBED_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = llmbed_bf16_to_f32(load_u16(src + 2 * i));
        break;
    case LLMBED_DTYPE_Q8_0:
        for (int64_t i = 0; i < n; i += QK) dequant_q8_0(src + (size_t)(i / QK) * (2 + QK), out + i);
        break;
    case LLMBED_DTYPE_Q4_0:
        for (int64_t i = 0; i < n; i += QK) dequant_q4_0(src + (size_t)(i / QK) * (2 + QK / 2), out + i);
        break;
    case LLMBED_DTYPE_Q4_1:
        for (int64_t i = 0; i < n; i += QK) dequant_q4_1(src + (size_t)(i / QK) * (4 + QK / 2), out + i);
        break;
    case LLMBED_DTYPE_COUNT:
        break;
    }
}

/* Converts elements [begin, end) (whole blocks for quantised types). */
static void convert_range(const llmbed_tensor_ref *t, float *out, int64_t begin, int64_t end) {
    const dtype_layout *l = &LAYOUTS[t->dtype];
    const uint8_t *src = (const uint8_t *)t->data + (size_t)begin / l->block_elements * l->block_bytes;
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
    /* Chunks of 64 Ki elements (a multiple of the block size) keep small tensors on one thread. */
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
