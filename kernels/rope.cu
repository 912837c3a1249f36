#include "kernels/rope.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/seq_lookup.cuh"

namespace {

/* One block per token; threads stride over (head, pair). cos/sin are taken
 * in fp32 of the fp32 product position * inv_freq, as transformers does
 * (SPEC §10: it rounds the RoPE angles to fp32 even in float64 runs). */
__global__ void rope_kernel(__nv_bfloat16 *x, const int32_t *__restrict__ seq_offsets, int n_seqs, int n_heads,
                            int head_dim, int row_stride, const float *__restrict__ inv_freq,
                            float attention_scaling, const int32_t *__restrict__ position_offsets) {
    int t = blockIdx.x;
    int s = seq_of_token(seq_offsets, n_seqs, t);
    float position = (float)(t - seq_offsets[s] + (position_offsets ? position_offsets[s] : 0));
    int half = head_dim / 2;
    const float *freq = inv_freq + (int64_t)s * half;
    __nv_bfloat16 *row = x + (int64_t)t * row_stride;
    for (int j = threadIdx.x; j < n_heads * half; j += blockDim.x) {
        int h = j / half, i = j % half;
        float angle = position * freq[i];
        float c = cosf(angle) * attention_scaling, sn = sinf(angle) * attention_scaling;
        __nv_bfloat16 *head = row + h * head_dim;
        float x1 = __bfloat162float(head[i]), x2 = __bfloat162float(head[i + half]);
        head[i] = __float2bfloat16_rn(x1 * c - x2 * sn);
        head[i + half] = __float2bfloat16_rn(x2 * c + x1 * sn);
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_rope(const llmbed_rope_params *p, int n_tokens, uint16_t *x,
                                                 cudaStream_t stream, llmbed_error *error) {
    if (n_tokens < 0 || p->n_seqs <= 0 || p->n_heads <= 0 || p->head_dim <= 0 || p->head_dim % 2 != 0 ||
        p->row_stride < p->n_heads * p->head_dim)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "rope: %d tokens in %d sequences, %d heads of %d (even), row stride %d", n_tokens,
                           p->n_seqs, p->n_heads, p->head_dim, p->row_stride);
    if (n_tokens == 0) return LLMBED_OK;
    const double n = (double)n_tokens * p->n_heads * p->head_dim;
    /* bf16 in place; cos/sin per pair (counted as ~6 flops per element) */
    const llmbed::Launch l = {{"rope", 6 * n, 4 * n}, n_tokens, 1, 1, 128, 0};
    return llmbed::launch(l, rope_kernel, stream, error, reinterpret_cast<__nv_bfloat16 *>(x), p->seq_offsets,
                          p->n_seqs, p->n_heads, p->head_dim, p->row_stride, p->inv_freq, p->attention_scaling,
                          p->position_offsets);
}
