/* SwiGLU MLP activation: out = silu(gate) * up (HF LlamaMLP, act "silu"). */
#ifndef LLMBED_KERNELS_SWIGLU_CUH
#define LLMBED_KERNELS_SWIGLU_CUH

#include "kernels/common/kernel_api.h"

/* gate, up: rows of in_row_stride bf16 (intermediate for separate buffers,
 * 2 * intermediate when both live in one gate_up GEMM output with up =
 * gate + intermediate); out [T, intermediate] bf16. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_swiglu(const llmbed_swiglu_params *p, const uint16_t *gate,
                                                   const uint16_t *up, int in_row_stride, uint16_t *out,
                                                   cudaStream_t stream, llmbed_error *error);

#endif
