/* The one error-check macro pair for the CUDA backend: every CUDA runtime
 * and cuBLASLt call goes through LLMBED_CUDA_TRY / LLMBED_CUBLAS_TRY, which
 * record file, line, the call and the library's message in the caller's
 * llmbed_error and return LLMBED_ERR_CUDA from the enclosing function
 * (which must have `llmbed_error *error` in scope and return llmbed_status). */
#ifndef LLMBED_CUDA_CUDA_CHECK_H
#define LLMBED_CUDA_CUDA_CHECK_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define LLMBED_CUDA_TRY(call)                                                                        \
    do {                                                                                             \
        cudaError_t llmbed_cuda_rc_ = (call);                                                        \
        if (llmbed_cuda_rc_ != cudaSuccess)                                                          \
            return llmbed_fail(error, LLMBED_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,  \
                               cudaGetErrorString(llmbed_cuda_rc_));                                 \
    } while (0)

#define LLMBED_CUBLAS_TRY(call)                                                                      \
    do {                                                                                             \
        cublasStatus_t llmbed_cublas_rc_ = (call);                                                   \
        if (llmbed_cublas_rc_ != CUBLAS_STATUS_SUCCESS)                                              \
            return llmbed_fail(error, LLMBED_ERR_CUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,  \
                               cublasLtGetStatusString(llmbed_cublas_rc_));                          \
    } while (0)

/* LLMBED_CUDA_SYNC=1 (a debug mode): wait after every kernel and GEMM so an
 * asynchronous fault names its op (kernels/common/launch.cuh does the same
 * for kernels). */
static inline int llmbed_cuda_sync_each_launch(void) {
    const char *v = getenv("LLMBED_CUDA_SYNC");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

/* The emulated runtime records the declared cost of the next cuBLASLt call
 * for the cost ledger (tests/emu/launch_log.h); the real one needs nothing. */
#if defined(LLMBED_CUDA_EMU)
#include "launch_log.h"
#define LLMBED_DECLARE_COST(cost) llmbed_emu_declare_cost(cost)
#else
#define LLMBED_DECLARE_COST(cost) ((void)(cost))
#endif

/* Prefixes the message a kernel launcher left in `error` with the call
 * site, so a failure reads "host/cuda/cuda_backend.c:412: rmsnorm: ...". */
static inline llmbed_status llmbed_cuda_at(llmbed_error *error, llmbed_status status, const char *file, int line) {
    if (error == NULL) return status;
    char message[sizeof error->message];
    snprintf(message, sizeof message, "%s", error->message);
    return llmbed_fail(error, status, "%s:%d: %s", file, line, message);
}

/* For kernel launchers (kernels/common/kernel_api.h), which name the op,
 * the configuration and the runtime's message themselves. */
#define LLMBED_KERNEL_TRY(call)                                                              \
    do {                                                                                     \
        const llmbed_status llmbed_kernel_rc_ = (call);                                      \
        if (llmbed_kernel_rc_ != LLMBED_OK)                                                  \
            return llmbed_cuda_at(error, llmbed_kernel_rc_, __FILE__, __LINE__);             \
    } while (0)

#endif
