/* Matryoshka truncation then optional L2 normalisation of pooled embeddings. */
#ifndef LLMBED_KERNELS_POSTPROCESS_CUH
#define LLMBED_KERNELS_POSTPROCESS_CUH

#include "kernels/common/kernel_api.h"

/* in [n_rows, in_dims] -> out [n_rows, dims] fp32; zero rows stay zero. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_postprocess(const llmbed_postprocess_params *p, const float *in,
                                                        float *out, cudaStream_t stream, llmbed_error *error);

#endif
