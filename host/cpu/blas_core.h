/* OpenBLAS kernel selection on CPUs its build does not recognise. */
#ifndef LLMBED_CPU_BLAS_CORE_H
#define LLMBED_CPU_BLAS_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

/* OpenBLAS built with DYNAMIC_ARCH picks its kernels once, when it is loaded,
 * from the CPU's model number. Debian 12's OpenBLAS 0.3.21 does not know
 * Sapphire/Emerald Rapids and later, and falls back to its generic "Prescott"
 * (SSE3) kernels: sgemm ran 4.7x slower than with the AVX-512 kernels on an
 * Emerald Rapids VM (bench/results/cpu_2026-11-28.txt). Returns the
 * OPENBLAS_CORETYPE value that selects the kernels this CPU supports
 * ("SkylakeX" with AVX-512, "Haswell" with AVX2 + FMA) when OpenBLAS fell back
 * to Prescott on such a CPU; NULL when its choice stands. */
const char *llmbed_blas_core_fix(void);

/* The kernel set OpenBLAS is using (e.g. "SkylakeX", "Haswell", "Prescott"). */
const char *llmbed_blas_core_name(void);

/* For executables, first thing in main(): when llmbed_blas_core_fix() names
 * a core and OPENBLAS_CORETYPE is unset, sets it and re-executes the program
 * (/proc/self/exe) with the same arguments, since OpenBLAS reads it only at
 * load time. Returns only when no restart was needed or exec failed (then the
 * generic kernels stay: slower, same results). */
void llmbed_blas_core_restart_if_needed(char **argv);

#ifdef __cplusplus
}
#endif

#endif
