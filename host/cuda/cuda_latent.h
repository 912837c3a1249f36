/* NV-Embed latent-attention pooling on the GPU: the folded weights of
 * host/model/weights_latent.c uploaded once (bf16 matrices, fp32 norms and
 * biases), and the block as four cuBLASLt GEMMs (bf16 in, fp32 accumulate)
 * around the kernels of kernels/latent_attention.cuh:
 *   xn = LN(H) (bf16); logits = xn q_logits^T (fp32); P = softmax (bf16)
 *   H1 = H + P v_out^T (fp32, beta 1); xn = LN(H1), out = H1 + b2 (one kernel)
 *   y = xn W1^T (fp32); g = geglu(y + b1) (bf16); out += g W2^T (beta 1)
 * The masked mean and normalisation follow with the pooling/postprocess kernels. */
#ifndef LLMBED_CUDA_CUDA_LATENT_H
#define LLMBED_CUDA_CUDA_LATENT_H

#include <stddef.h>
#include <stdint.h>

#include "cuda/cuda_gemm.h"
#include "llmbed.h"
#include "model/model.h"

typedef struct llmbed_cuda_latent {
    int hidden, n_heads, n_latents, ff_inner;
    float eps;
    uint16_t *q_logits, *v_out, *w1, *w2; /* bf16, device */
    float *norm_w, *norm_b, *ff_norm_w, *ff_norm_b, *b1, *b2;
    void *storage; /* the one device allocation */
} llmbed_cuda_latent;

/* Uploads model's latent block (a zeroed `latent` stays empty when the model has none). */
llmbed_status llmbed_cuda_latent_upload(llmbed_cuda_latent *latent, const llmbed_model *model, cudaStream_t stream,
                                        llmbed_error *error);
void llmbed_cuda_latent_free(llmbed_cuda_latent *latent);

/* Device scratch bytes for chunks of `chunk_tokens` rows. */
size_t llmbed_cuda_latent_scratch_bytes(const llmbed_cuda_latent *latent, int chunk_tokens);

/* out[T, hidden] = latent block of hidden[T, hidden] (both fp32, device, not aliased). */
llmbed_status llmbed_cuda_latent_run(llmbed_gemm *gemm, const llmbed_cuda_latent *latent, int n_tokens,
                                     const float *hidden, float *out, void *scratch, int chunk_tokens,
                                     cudaStream_t stream, llmbed_error *error);

#endif
