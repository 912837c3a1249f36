/* Varlen flash attention (FlashAttention-2 style, Dao 2023): packed
 * sequences with cu_seqlens, online softmax, causal or bidirectional, GQA,
 * an optional sliding window (p->window, op_params.h: key tiles outside every
 * token's window are skipped), bf16 tensor cores (mma.sync m16n8k16, fp32
 * accumulate). A block owns 64 query rows: the heads of one key/value group
 * (up to 8) times as many tokens as fit, so a group's heads share every K/V
 * tile; 64-key tiles in dynamic shared memory (52 KB at head_dim 128, opted
 * in above 48 KB), K and V loads overlapped with the math
 * (kernels/attention.cu), an unmasked path for tiles entirely below the
 * diagonal, 16-byte output stores. ptxas (CUDA 13.0) at head_dim 128: 128
 * registers (4 blocks per SM), 16 bytes of spill stores on sm_80, 36 on
 * sm_90a. */
#ifndef LLMBED_KERNELS_ATTENTION_CUH
#define LLMBED_KERNELS_ATTENTION_CUH

#include "kernels/common/kernel_api.h"

/* q, k and v rows as qkv lays them out (heads packed in a row), out
 * [T, n_heads * head_dim], all bf16; p->seq_offsets is a device pointer and
 * max_seq_len (host) bounds every sequence's length (it sizes the grid).
 * head_dim 16, 32, 64, 80, 96 and 128 run exactly, other even sizes up to 128
 * zero-padded to the next of those; odd or larger head dims return
 * LLMBED_ERR_UNSUPPORTED. */
/* Qwen3's q norm (q_norm [head_dim] fp32, NULL: none; eps) and RoPE of q,
 * applied by the attention kernel while the query tile is in shared memory:
 * cos_sin and rope_rows as kernels/qk_norm_rope.cuh describes them. */
typedef struct llmbed_cuda_q_rope {
    const float *q_norm;
    float eps;
    const float *cos_sin;
    const int32_t *rope_rows;
} llmbed_cuda_q_rope;

/* q_rope NULL: q arrives normalised and rotated. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention(const llmbed_attention_params *p, int max_seq_len,
                                                      const llmbed_cuda_qkv *qkv, const llmbed_cuda_q_rope *q_rope,
                                                      uint16_t *out, cudaStream_t stream, llmbed_error *error);

/* 1 when head_dim has a compiled instantiation. */
LLMBED_KERNEL_API int llmbed_cuda_attention_supports_head_dim(int head_dim);

#endif
