/* Attention of sequences that continue a key/value cache (chunked prefill,
 * shared prefixes; SPEC §5): every query reads the cached positions (pruned
 * keys through their chunk's kept channels, then full keys) and its own
 * sequence's keys causally, in one launch with one online softmax, on
 * tensor cores like attention.cuh: a pruned chunk's keys are a dense
 * [n, kept] matrix and the queries are gathered to the same channels. */
#ifndef LLMBED_KERNELS_ATTENTION_CACHE_CUH
#define LLMBED_KERNELS_ATTENTION_CACHE_CUH

#include "kernels/common/kernel_api.h"

/* q, k and v rows as qkv lays them out, out [T, n_heads * head_dim], bf16;
 * p->seq_offsets and p->cache_lens are device
 * pointers, p->cache a host struct of device arrays; p->causal must be 1.
 * max_seq_len (host) bounds every sequence's length. head_dim even, <= 128. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention_cache(const llmbed_attention_params *p, int max_seq_len,
                                                            const llmbed_cuda_qkv *qkv, uint16_t *out,
                                                            cudaStream_t stream, llmbed_error *error);

#endif
