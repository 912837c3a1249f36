/* Pooling of row ranges of packed hidden states (last / mean / first /
 * weighted mean); a range excludes masked tokens such as an instruction (SPEC §4). */
#ifndef LLMBED_KERNELS_POOLING_CUH
#define LLMBED_KERNELS_POOLING_CUH

#include "kernels/common/kernel_api.h"

/* hidden [n_tokens, p->hidden] fp32 -> out [n_rows, p->hidden] fp32, bit for
 * bit the CPU reference (host/cpu/pooling.c); p->begin and p->end are
 * device pointers (n_tokens only sizes the declared cost). */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_pooling(const llmbed_pooling_params *p, const float *hidden, float *out,
                                                    int n_tokens, cudaStream_t stream, llmbed_error *error);

#endif
