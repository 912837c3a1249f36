/* ThinK channel selection of one chunk (SPEC §5; llmbed_think_select_params). */
#ifndef LLMBED_KERNELS_THINK_SELECT_CUH
#define LLMBED_KERNELS_THINK_SELECT_CUH

#include "kernels/common/kernel_api.h"

/* q and k rows of qkv (bf16) -> view->kept_channels[g, chunk, :] (device),
 * head_dim up to 256. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_think_select(const llmbed_think_select_params *p,
                                                         const llmbed_cuda_qkv *qkv, const llmbed_kv_cache_view *view,
                                                         cudaStream_t stream, llmbed_error *error);

#endif
