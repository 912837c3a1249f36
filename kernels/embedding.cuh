/* Token embedding gather from a bf16 table (weights are uploaded as bf16;
 * GGUF quantised tables were dequantised at load). */
#ifndef LLMBED_KERNELS_EMBEDDING_CUH
#define LLMBED_KERNELS_EMBEDDING_CUH

#include "kernels/common/kernel_api.h"

/* out[T, hidden] fp32 = table[tokens[t], :] * scale; table [vocab, hidden] bf16.
 * Token ids are validated by the engine before the batch reaches the device. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_embedding(const llmbed_embedding_params *p, const int32_t *tokens,
                                                      const uint16_t *table, float *out, cudaStream_t stream,
                                                      llmbed_error *error);

#endif
