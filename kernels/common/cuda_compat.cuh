/* The one switch between the real CUDA toolchain and the host emulation
 * (SPEC §8): under nvcc this pulls in the CUDA headers; compiled by the host
 * C++ compiler with LLMBED_CUDA_EMU it pulls in tests/emu/cuda_emu.h, which
 * runs launches on CPU fibers. Kernels include this header and
 * ptx_wrappers.cuh; nothing else in kernels/ knows which one it gets. */
#ifndef LLMBED_KERNELS_COMMON_CUDA_COMPAT_CUH
#define LLMBED_KERNELS_COMMON_CUDA_COMPAT_CUH

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
/* kernel<<<grid, block, 0, stream>>>(args...); `kernel` may be a function pointer. */
#define LLMBED_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
/* The same with `shared_bytes` of dynamic shared memory (above 48 KB after
 * cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)). */
#define LLMBED_LAUNCH_SHARED(kernel, grid, block, shared_bytes, stream, ...) \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__)
/* Inside a kernel: `type *name` = the block's dynamic shared memory. */
#define LLMBED_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#elif defined(LLMBED_CUDA_EMU)
#include "cuda_emu.h"
#define LLMBED_LAUNCH(kernel, grid, block, stream, ...) LLMBED_EMU_LAUNCH(kernel, grid, block, 0, stream, __VA_ARGS__)
#define LLMBED_LAUNCH_SHARED(kernel, grid, block, shared_bytes, stream, ...) \
    LLMBED_EMU_LAUNCH(kernel, grid, block, shared_bytes, stream, __VA_ARGS__)
#define LLMBED_DYNAMIC_SHARED(type, name) LLMBED_EMU_DYNAMIC_SHARED(type, name)
#else
#error "kernels/*.cu build with nvcc, or with the host compiler and LLMBED_CUDA_EMU (tests/emu)"
#endif

#include "kernels/common/kernel_api.h"

/* Status of the launch just issued: LLMBED_ERR_CUDA when the runtime refused it. */
static inline llmbed_status llmbed_cuda_launch_status(void) {
    return cudaGetLastError() == cudaSuccess ? LLMBED_OK : LLMBED_ERR_CUDA;
}

#endif
