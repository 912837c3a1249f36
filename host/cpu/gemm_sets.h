/* The kernel sets of gemm_kernels.h, one file each; the x86 SIMD sets exist
 * only in x86-64 builds with GCC or clang (target attributes). */
#ifndef LLMBED_CPU_GEMM_SETS_H
#define LLMBED_CPU_GEMM_SETS_H

#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LLMBED_GEMM_X86 1
extern const llmbed_gemm_kernels llmbed_gemm_avx512;
extern const llmbed_gemm_kernels llmbed_gemm_avx2;
#endif
extern const llmbed_gemm_kernels llmbed_gemm_scalar;

/* The plain-loop transpose (gemm_kernels.h), shared by the sets without their own. */
void llmbed_gemm_transpose_scalar(int nr, int n_k, const float *src, size_t ld, float *panel);

#endif
