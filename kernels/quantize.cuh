/* Output dtype conversion of final embeddings (SPEC §4): float16, int8 with a
 * per-row symmetric scale, and ubinary (sign bits packed as
 * sentence-transformers' quantize_embeddings: np.packbits(x > 0), most
 * significant bit first, the last byte zero-padded). */
#ifndef LLMBED_KERNELS_QUANTIZE_CUH
#define LLMBED_KERNELS_QUANTIZE_CUH

#include "kernels/common/kernel_api.h"

typedef struct llmbed_quantize_params {
    int n_rows;
    int dims;
} llmbed_quantize_params;

/* out[n_rows, dims] fp16 bits, round to nearest even. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_f16(const llmbed_quantize_params *p, const float *in,
                                                         uint16_t *out, cudaStream_t stream,
                                                         llmbed_error *error);

/* scale[r] = max_i |in[r, i]| / 127; out[r, i] = rint(in[r, i] * 127 / max_i |in[r, i]|)
 * (ties to even, like np.round); an all-zero row has scale 0 and zeros. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_int8(const llmbed_quantize_params *p, const float *in,
                                                          int8_t *out, float *scales, cudaStream_t stream,
                                                         llmbed_error *error);

/* out[n_rows, (dims + 7) / 8]: bit 7 - (i % 8) of byte i / 8 is in[r, i] > 0. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_quantize_ubinary(const llmbed_quantize_params *p, const float *in,
                                                             uint8_t *out, cudaStream_t stream,
                                                         llmbed_error *error);

#endif
