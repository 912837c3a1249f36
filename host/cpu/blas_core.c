/* See blas_core.h: restart with OPENBLAS_CORETYPE when OpenBLAS fell back to
 * generic kernels on a CPU it did not recognise. */
#include "cpu/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *llmbed_blas_core_fix(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (strcmp(llmbed_blas_core_name(), "Prescott") != 0) return NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

const char *llmbed_blas_core_name(void) {
    const char *name = openblas_get_corename();
    return name != NULL ? name : "(unknown)";
}

void llmbed_blas_core_restart_if_needed(char **argv) {
    const char *core = llmbed_blas_core_fix();
    if (core == NULL || getenv("OPENBLAS_CORETYPE") != NULL) return;
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
}
