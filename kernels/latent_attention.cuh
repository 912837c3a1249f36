/* The elementwise/row pieces of NV-Embed's latent-attention pooling block
 * (modeling_nvembed.py LatentAttentionModel; SPEC section 6). The four big
 * products run on cuBLASLt (host/cuda/cuda_latent.c); these kernels do the
 * rest: LayerNorm with bias (fused with the block-1 residual + bias), the
 * softmax over the latents, and the GEGLU with its bias. CPU references:
 * host/cpu/layernorm.c, host/cpu/latent_attention.c (softmax rows), host/cpu/geglu.c. */
#ifndef LLMBED_KERNELS_LATENT_ATTENTION_CUH
#define LLMBED_KERNELS_LATENT_ATTENTION_CUH

#include "kernels/common/kernel_api.h"

/* out[n_rows, dim] bf16 = LayerNorm(x) * weight + bias, x fp32; when
 * residual_out is not NULL also residual_out = x + residual_bias (fp32,
 * may alias x): NV-Embed's "+ b2 + H1" of block 1, written while x is read. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_layernorm(const llmbed_layernorm_params *p, const float *x,
                                                      const float *weight, const float *bias, uint16_t *out,
                                                      const float *residual_bias, float *residual_out,
                                                      cudaStream_t stream, llmbed_error *error);

/* out[n_rows, row_len] bf16 = softmax of each row of logits (fp32). */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_softmax_rows(const llmbed_softmax_params *p, const float *logits,
                                                         uint16_t *out, cudaStream_t stream, llmbed_error *error);

/* out[T, inner] bf16 = (y_a + b_a) * gelu_erf(y_g + b_g), y [T, 2 * inner] fp32, bias [2 * inner]. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_geglu(const llmbed_geglu_params *p, const float *y, const float *bias,
                                                  uint16_t *out, cudaStream_t stream, llmbed_error *error);

#endif
