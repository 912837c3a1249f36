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
#elif defined(LLMBED_CUDA_EMU)
#include "cuda_emu.h"
#define LLMBED_LAUNCH(kernel, grid, block, stream, ...) LLMBED_EMU_LAUNCH(kernel, grid, block, stream, __VA_ARGS__)
#else
#error "kernels/*.cu build with nvcc, or with the host compiler and LLMBED_CUDA_EMU (tests/emu)"
#endif

#include "kernels/common/kernel_api.h"

/* Full unrolling of a loop with a compile-time trip count (register arrays
 * indexed by its counter stay in registers); the host compiler of the
 * emulation decides for itself. */
#if defined(__CUDACC__)
#define LLMBED_UNROLL _Pragma("unroll")
#else
#define LLMBED_UNROLL
#endif

/* A block's dynamic shared memory (the launch's shared_bytes), 16-byte aligned. */
#if defined(__CUDACC__)
template <typename T>
__device__ __forceinline__ T *dynamic_shared() {
    extern __shared__ __align__(16) unsigned char llmbed_dynamic_shared[];
    return reinterpret_cast<T *>(llmbed_dynamic_shared);
}
#else
template <typename T>
inline T *dynamic_shared() {
    return reinterpret_cast<T *>(emu::dynamic_shared_memory());
}
#endif

#endif
