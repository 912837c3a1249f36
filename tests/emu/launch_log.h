/* The launch log of the emulated device: every kernel launch, cuBLASLt
 * matmul and copy the calling host thread issues while a log is open, with
 * its configuration and declared cost (kernels/common/kernel_api.h
 * llmbed_launch_cost). The cost ledger (`llmbed bench --ledger`, SPEC §7)
 * opens one in dry-run mode: the real CUDA host code runs against the
 * emulated runtime, launches and copies are recorded and not executed, so
 * one batch of a full-size model costs host time only for the bookkeeping.
 * The ledger test opens one without dry run around an emulated forward and
 * checks that both record the same sequence. Plain C. */
#ifndef LLMBED_TESTS_EMU_LAUNCH_LOG_H
#define LLMBED_TESTS_EMU_LAUNCH_LOG_H

#include <stddef.h>

#include "kernels/common/launch_cost.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmbed_emu_launch_kind {
    LLMBED_EMU_KERNEL = 0,
    LLMBED_EMU_GEMM = 1,      /* cublasLtMatmul */
    LLMBED_EMU_COPY_H2D = 2,  /* cudaMemcpy(Async) host -> device */
    LLMBED_EMU_COPY_D2H = 3,
    LLMBED_EMU_COPY_D2D = 4
} llmbed_emu_launch_kind;

typedef struct llmbed_emu_launch {
    llmbed_emu_launch_kind kind;
    const char *op; /* the declared op, or "undeclared" when a launch declared no cost */
    long long grid[3];
    int threads;
    size_t shared_bytes;
    double flops, bytes;
} llmbed_emu_launch;

typedef struct llmbed_emu_launch_log {
    llmbed_emu_launch *launches;
    size_t count, capacity;
    int dry_run;      /* record only: kernels, matmuls and copies are not executed */
    int out_of_memory; /* a record could not be stored */
} llmbed_emu_launch_log;

/* Opens `log` (zeroed by the caller) on the calling host thread; launches
 * of other threads are not recorded. One log at a time per thread. */
void llmbed_emu_log_open(llmbed_emu_launch_log *log, int dry_run);
/* Stops recording on this thread (the records stay in the log). */
void llmbed_emu_log_close(void);
void llmbed_emu_log_free(llmbed_emu_launch_log *log);

/* For the emulated runtime: records a launch and says whether to execute it
 * (0 in a dry run). cost may be NULL (recorded as undeclared). */
int llmbed_emu_log_kernel(const llmbed_launch_cost *cost, unsigned grid_x, unsigned grid_y, unsigned grid_z,
                          int threads, size_t shared_bytes);
int llmbed_emu_log_gemm(double flops, double bytes);
int llmbed_emu_log_copy(llmbed_emu_launch_kind kind, size_t bytes);
/* The cost the next cublasLtMatmul of this thread is recorded with (host/cuda/cuda_gemm.c declares it). */
void llmbed_emu_declare_cost(const llmbed_launch_cost *cost);

#ifdef __cplusplus
}
#endif

#endif
