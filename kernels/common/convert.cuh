/* Loads and stores that convert between fp32 (all arithmetic) and the
 * storage dtype of a buffer: float, __nv_bfloat16 or __half. */
#ifndef LLMBED_KERNELS_COMMON_CONVERT_CUH
#define LLMBED_KERNELS_COMMON_CONVERT_CUH

#include "kernels/common/cuda_compat.cuh"

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
    return __float2half_rn(v);
}

#endif
