/* Varlen flash attention (FlashAttention-2 style, Dao 2023): packed
 * sequences with cu_seqlens, online softmax, causal or bidirectional, GQA,
 * bf16 tensor cores (mma.sync m16n8k16, fp32 accumulate). */
#ifndef LLMBED_KERNELS_ATTENTION_CUH
#define LLMBED_KERNELS_ATTENTION_CUH

#include "kernels/common/kernel_api.h"

/* q [T, n_heads * head_dim], k and v [T, n_kv_heads * head_dim], out
 * [T, n_heads * head_dim], all bf16; p->seq_offsets is a device pointer and
 * max_seq_len (host) bounds every sequence's length (it sizes the grid).
 * head_dim 16, 32, 64, 80, 96 and 128 run exactly, other even sizes up to 128
 * zero-padded to the next of those; odd or larger head dims return
 * LLMBED_ERR_UNSUPPORTED. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention(const llmbed_attention_params *p, int max_seq_len,
                                                      const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                                      uint16_t *out, cudaStream_t stream, llmbed_error *error);

/* 1 when head_dim has a compiled instantiation. */
LLMBED_KERNEL_API int llmbed_cuda_attention_supports_head_dim(int head_dim);

#endif
