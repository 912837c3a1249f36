/* What host code needs to call the kernel launchers: plain C, so
 * the C files of host/cuda include the kernels' .cuh headers directly.
 *
 * Conventions for every launcher
 * `llmbed_cuda_<op>(params, pointers..., stream, error)`: the params struct
 * lives in host memory and its scalar fields are read on the host; its
 * pointer fields (seq_offsets, inv_freq, ...) and every other pointer
 * argument are device pointers. The launch is asynchronous on `stream`.
 * Returns LLMBED_ERR_INVALID_ARGUMENT for inconsistent sizes or a grid
 * beyond CUDA's limits, LLMBED_ERR_UNSUPPORTED for shapes without an
 * instantiation and LLMBED_ERR_CUDA when the runtime rejects the launch,
 * with a message in `error` (may be NULL) naming the op
 * (kernels/common/launch.cuh). bf16 and fp16 tensors are passed as uint16_t
 * bit patterns. */
#ifndef LLMBED_KERNELS_COMMON_KERNEL_API_H
#define LLMBED_KERNELS_COMMON_KERNEL_API_H

#include <stdint.h>

#include "llmbed.h"
#include "op_params.h"

#include "kernels/common/launch_cost.h"

#if defined(LLMBED_CUDA_EMU)
typedef struct CUstream_st *cudaStream_t;
#else
#include <cuda_runtime_api.h>
#endif

/* C linkage for the real launchers; the emulated build keeps C++ linkage so
 * its symbols cannot collide with the nvcc-built ones in libllmbed when a
 * test links both. */
#if defined(__cplusplus) && !defined(LLMBED_CUDA_EMU)
#define LLMBED_KERNEL_API extern "C"
#else
#define LLMBED_KERNEL_API
#endif

/* q, k and v rows of a forward as the kernels read them (bf16): row t of q
 * starts at q + t * q_stride elements with its heads packed, and likewise
 * k and v with kv_stride. The CUDA backend keeps all three in the one
 * [T, (n_heads + 2 n_kv_heads) head_dim] output of the fused QKV GEMM (one
 * stride for all); tests may pass separate buffers. */
typedef struct llmbed_cuda_qkv {
    uint16_t *q, *k, *v;
    int64_t q_stride, kv_stride;
} llmbed_cuda_qkv;

/* Element type of an activation buffer a launcher reads or writes. */
typedef enum llmbed_cuda_dtype {
    LLMBED_CUDA_F32 = 0,
    LLMBED_CUDA_BF16 = 1,
    LLMBED_CUDA_F16 = 2
} llmbed_cuda_dtype;

#endif
