/* Bias add after a bias-less cuBLASLt projection (Qwen2's q/k/v biases). */
#ifndef LLMBED_KERNELS_BIAS_CUH
#define LLMBED_KERNELS_BIAS_CUH

#include "kernels/common/kernel_api.h"

/* x[n_rows, n_cols] bf16 += bias[n_cols] fp32, in fp32 then rounded once. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_add_bias(int n_rows, int n_cols, uint16_t *x, const float *bias,
                                                     cudaStream_t stream, llmbed_error *error);

#endif
