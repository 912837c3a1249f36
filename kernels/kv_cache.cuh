/* The key/value cache of chunked prefill (SPEC §5) on the device: append a
 * chunk's post-RoPE keys and values, and move keys that left ThinK's recent
 * window into the pruned store. Layouts: llmbed_kv_cache_view (op_params.h),
 * bf16. */
#ifndef LLMBED_KERNELS_KV_CACHE_CUH
#define LLMBED_KERNELS_KV_CACHE_CUH

#include "kernels/common/kernel_api.h"

/* k and v rows [row_begin, row_end) of qkv (bf16) -> view's k_full and v
 * (device arrays of the host struct `view`). */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_cache_append(const llmbed_cache_append_params *p,
                                                         const llmbed_cuda_qkv *qkv, const llmbed_kv_cache_view *view,
                                                         cudaStream_t stream, llmbed_error *error);

/* Positions [n_pruned, new_n_pruned): their full keys gathered to their
 * chunk's kept channels into k_pruned, then the full part shifted down. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_cache_compact(const llmbed_cache_compact_params *p,
                                                          const llmbed_kv_cache_view *view, cudaStream_t stream,
                                                          llmbed_error *error);

#endif
