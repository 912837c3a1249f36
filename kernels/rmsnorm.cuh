/* RMSNorm (HF LlamaRMSNorm: fp32 statistics, x * rsqrt(mean(x^2) + eps) * w),
 * optionally fused with the residual add that precedes it. Qwen3's q/k norm
 * is the same op over rows of head_dim (n_rows = tokens * heads). */
#ifndef LLMBED_KERNELS_RMSNORM_CUH
#define LLMBED_KERNELS_RMSNORM_CUH

#include "kernels/common/kernel_api.h"

/* out[n_rows, dim] = rmsnorm(x) * weight. x: F32 or BF16; out: F32 or BF16;
 * weight [dim] fp32. out may alias x when both have the same dtype. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_rmsnorm(const llmbed_rmsnorm_params *p, const void *x,
                                                    llmbed_cuda_dtype x_dtype, const float *weight, void *out,
                                                    llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                    llmbed_error *error);

/* residual += delta * delta_scale (MiniCPM's scale_depth / sqrt(layers), else 1),
 * then out = rmsnorm(residual) * weight. residual and delta [n_rows, dim] fp32;
 * out F32 or BF16. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_add_rmsnorm(const llmbed_rmsnorm_params *p, float *residual,
                                                        const float *delta, float delta_scale,
                                                        const float *weight, void *out,
                                                        llmbed_cuda_dtype out_dtype, cudaStream_t stream,
                                                        llmbed_error *error);

#endif
