/* The slice of the CUDA runtime API that host/cuda uses, for the emulated
 * build (tests/emu): found before any real CUDA include path, implemented by
 * tests/emu/cuda_emu_runtime.cpp on host memory with one emulated device.
 * Every function is renamed to llmbed_emu_* so an emulated binary never
 * collides with (or interposes on) the real libcudart that libllmbed may
 * also link. Plain C, like the real header. */
#ifndef LLMBED_TESTS_EMU_FAKE_CUDA_RUNTIME_API_H
#define LLMBED_TESTS_EMU_FAKE_CUDA_RUNTIME_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *cudaStream_t;

typedef enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorIllegalState = 401
} cudaError_t;

typedef enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;

#define cudaStreamNonBlocking 0x01

/* Stream capture into graphs (tests/emu/emu_graph.cpp). */
typedef struct llmbed_emu_graph *cudaGraph_t;
typedef struct llmbed_emu_graph_exec *cudaGraphExec_t;
typedef enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
} cudaStreamCaptureMode;

typedef enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 } cudaDeviceAttr;
typedef enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 } cudaFuncAttribute;

#define cudaGetErrorString llmbed_emu_cudaGetErrorString
#define cudaGetLastError llmbed_emu_cudaGetLastError
#define cudaPeekAtLastError llmbed_emu_cudaPeekAtLastError
#define cudaGetDeviceCount llmbed_emu_cudaGetDeviceCount
#define cudaSetDevice llmbed_emu_cudaSetDevice
#define cudaStreamCreateWithFlags llmbed_emu_cudaStreamCreateWithFlags
#define cudaStreamDestroy llmbed_emu_cudaStreamDestroy
#define cudaStreamSynchronize llmbed_emu_cudaStreamSynchronize
#define cudaMalloc llmbed_emu_cudaMalloc
#define cudaFree llmbed_emu_cudaFree
#define cudaMallocHost llmbed_emu_cudaMallocHost
#define cudaFreeHost llmbed_emu_cudaFreeHost
#define cudaMemcpy llmbed_emu_cudaMemcpy
#define cudaMemcpyAsync llmbed_emu_cudaMemcpyAsync
#define cudaGetDevice llmbed_emu_cudaGetDevice
#define cudaDeviceGetAttribute llmbed_emu_cudaDeviceGetAttribute
#define cudaFuncSetAttribute llmbed_emu_cudaFuncSetAttribute
#define cudaStreamBeginCapture llmbed_emu_cudaStreamBeginCapture
#define cudaStreamEndCapture llmbed_emu_cudaStreamEndCapture
#define cudaGraphInstantiate llmbed_emu_cudaGraphInstantiate
#define cudaGraphLaunch llmbed_emu_cudaGraphLaunch
#define cudaGraphDestroy llmbed_emu_cudaGraphDestroy
#define cudaGraphExecDestroy llmbed_emu_cudaGraphExecDestroy

const char *cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void **ptr, size_t bytes);
cudaError_t cudaFree(void *ptr);
cudaError_t cudaMallocHost(void **ptr, size_t bytes);
cudaError_t cudaFreeHost(void *ptr);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaGetDevice(int *device);
/* The emulated device reports an A100's opt-in shared-memory limit (163 KB),
 * the smallest of llmbed's targets, so what fits here fits sm_80 and sm_90. */
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t llmbed_emu_cudaFuncSetAttributeC(const void *func, cudaFuncAttribute attr, int value);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

#ifdef __cplusplus
}
/* As the runtime's C++ overload: any kernel's address. */
template <typename Kernel>
inline cudaError_t cudaFuncSetAttribute(Kernel *func, cudaFuncAttribute attr, int value) {
    return llmbed_emu_cudaFuncSetAttributeC(reinterpret_cast<const void *>(func), attr, value);
}
#endif

#endif
