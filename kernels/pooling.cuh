/* Sequence pooling over packed hidden states (last / mean / first /
 * weighted mean), honouring an instruction mask (SPEC §4). */
#ifndef LLMBED_KERNELS_POOLING_CUH
#define LLMBED_KERNELS_POOLING_CUH

#include "kernels/common/kernel_api.h"

/* hidden [T, p->hidden] fp32 -> out [n_seqs, p->hidden] fp32; p->seq_offsets
 * and p->instruction_lens (or NULL) are device pointers. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_pooling(const llmbed_pooling_params *p, const float *hidden, float *out,
                                                    cudaStream_t stream);

#endif
