/* Post-processing of pooled rows on the device, bit for bit the CPU
 * backend's (host/cpu/postprocess.c; rules in op_params.h
 * llmbed_postprocess_params): Matryoshka truncation, L2 normalisation and
 * the stored element type, so only final rows cross the host link. */
#ifndef LLMBED_KERNELS_POSTPROCESS_CUH
#define LLMBED_KERNELS_POSTPROCESS_CUH

#include "kernels/common/kernel_api.h"

/* in [n_rows, in_dims] fp32 -> out [n_rows] rows of p->precision (fp32,
 * fp16 bits, int8 with scales[n_rows], ubinary bytes); scales may be NULL
 * except for int8. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_postprocess(const llmbed_postprocess_params *p, const float *in, void *out,
                                                        float *scales, cudaStream_t stream, llmbed_error *error);

#endif
