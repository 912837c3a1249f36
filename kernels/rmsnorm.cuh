/* RMSNorm of the fp32 residual stream (HF LlamaRMSNorm: fp32 statistics,
 * x * rsqrt(mean(x^2) + eps) * w) into the bf16 input of the next GEMM, or
 * into the fp32 final hidden states. The residual add that precedes every
 * norm happens in the o/down GEMM epilogue (beta = 1 into the fp32 x), which
 * moves no more bytes than a fused add + norm kernel would (the GEMM writes
 * fp32 x once and reads it once either way) and keeps the residual unrounded;
 * Qwen3's q/k norm is fused with RoPE (qk_norm_rope.cuh). */
#ifndef LLMBED_KERNELS_RMSNORM_CUH
#define LLMBED_KERNELS_RMSNORM_CUH

#include "kernels/common/kernel_api.h"

/* out[n_rows, dim] = rmsnorm(x) * weight; x fp32, out F32 or BF16; weight [dim] fp32. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm(const llmbed_rmsnorm_params *p, const float *x, const float *weight,
                                                    void *out, llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                    llmbed_error *error);

/* residual += rmsnorm(x) * weight: Gemma 3's post-attention and
 * post-feedforward norms on a branch output before its residual add. x F32 or
 * BF16 [n_rows, dim]; residual fp32. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm_into_residual(const llmbed_rmsnorm_params *p, const void *x,
                                                                  llmbed_cuda_dtype x_dtype, const float *weight,
                                                                  float *residual, cudaStream_t stream,
                                                                  llmbed_error *error);

#endif
