/* The one error-check macro pair for the CUDA backend: every CUDA runtime
 * and cuBLASLt call goes through LLMBED_CUDA_TRY / LLMBED_CUBLAS_TRY, which
 * record file, line, the call and the library's message in the caller's
 * llmbed_error and return LLMBED_ERR_CUDA from the enclosing function
 * (which must have `llmbed_error *error` in scope and return llmbed_status). */
#ifndef LLMBED_CUDA_CUDA_CHECK_H
#define LLMBED_CUDA_CUDA_CHECK_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

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

/* For kernel launchers, which return a status without a message. */
#define LLMBED_KERNEL_TRY(call)                                                                      \
    do {                                                                                             \
        llmbed_status llmbed_kernel_rc_ = (call);                                                    \
        if (llmbed_kernel_rc_ != LLMBED_OK)                                                          \
            return llmbed_fail(error, llmbed_kernel_rc_, "%s:%d: %s: %s", __FILE__, __LINE__, #call, \
                               llmbed_kernel_rc_ == LLMBED_ERR_CUDA                                  \
                                   ? cudaGetErrorString(cudaPeekAtLastError())                       \
                                   : llmbed_status_str(llmbed_kernel_rc_));                          \
    } while (0)

#endif
