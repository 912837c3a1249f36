/* Rotary position embedding in HF's rotate_half ("neox") layout, applied in
 * place to bf16 q or k. Positions restart at 0 in every packed sequence;
 * inv_freq carries the scaling type (computed on the host per sequence). */
#ifndef LLMBED_KERNELS_ROPE_CUH
#define LLMBED_KERNELS_ROPE_CUH

#include "kernels/common/kernel_api.h"

/* x [T, row_stride] bf16, heads packed from column 0; p->seq_offsets and
 * p->inv_freq are device pointers. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_rope(const llmbed_rope_params *p, int n_tokens, uint16_t *x,
                                                 cudaStream_t stream, llmbed_error *error);

#endif
