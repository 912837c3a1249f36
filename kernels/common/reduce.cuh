/* Warp and block reductions (fp32). Block reductions use one shared slot per
 * warp and must be reached by every thread of the block. */
#ifndef LLMBED_KERNELS_COMMON_REDUCE_CUH
#define LLMBED_KERNELS_COMMON_REDUCE_CUH

#include "kernels/common/cuda_compat.cuh"

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total. */
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* partial[] may still be read by a previous call */
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float total = lane < n_warps ? partial[lane] : 0.0f;
    return warp_sum(total);
}

/* Max over the block, same contract as block_sum. */
__device__ __forceinline__ float block_max(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float total = lane < n_warps ? partial[lane] : -INFINITY;
    return warp_max(total);
}

#endif
