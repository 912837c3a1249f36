/* Picks the kernel set of gemm_kernels.h for the running CPU. All sets give
 * bit-identical results, so the choice only changes speed. */
#include "cpu/gemm_kernels.h"
#include "cpu/gemm_sets.h"

const llmbed_gemm_kernels *const *llmbed_gemm_kernels_available(void) {
#ifdef LLMBED_GEMM_X86
    static const llmbed_gemm_kernels *const all[] = {&llmbed_gemm_avx512, &llmbed_gemm_avx2, &llmbed_gemm_scalar,
                                                     NULL};
    static const llmbed_gemm_kernels *const no512[] = {&llmbed_gemm_avx2, &llmbed_gemm_scalar, NULL};
    static const llmbed_gemm_kernels *const baseline[] = {&llmbed_gemm_scalar, NULL};
    if (__builtin_cpu_supports("avx512f")) return all;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return no512;
    return baseline;
#else
    static const llmbed_gemm_kernels *const baseline[] = {&llmbed_gemm_scalar, NULL};
    return baseline;
#endif
}

const llmbed_gemm_kernels *llmbed_gemm_kernels_best(void) { return llmbed_gemm_kernels_available()[0]; }
