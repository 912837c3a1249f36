/* Host emulation of the slice of CUDA that llmbed's kernels use (SPEC §8).
 *
 * kernels/common/cuda_compat.cuh includes this header instead of the CUDA
 * headers when a kernel file is compiled by the host C++ compiler with
 * LLMBED_CUDA_EMU defined. A launch runs every block of the grid; the threads
 * of one block run as cooperating fibers (ucontext) on one host thread, so
 * `__syncthreads` is a real barrier, `__shared__` memory is per block, and
 * warp shuffles/votes exchange values among the 32 lanes of a warp through a
 * per-warp scratch area guarded by a warp barrier. Blocks run in parallel on
 * an OpenMP pool: `__shared__` variables become `static thread_local`, which
 * is per block because one host thread runs one block at a time.
 *
 * Numerics follow the device: bf16/fp16 conversions round to nearest even
 * exactly as cuda_bf16.h / cuda_fp16.h do. */
#ifndef LLMBED_TESTS_EMU_CUDA_EMU_H
#define LLMBED_TESTS_EMU_CUDA_EMU_H

#ifndef __cplusplus
#error "cuda_emu.h is C++ (kernels are compiled with g++ -x c++ in emulation)"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local

/* ------------------------------------------------------------ geometry */

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

/* ------------------------------------------------------ runtime types */

/* cudaStream_t, cudaError_t and the host-side runtime calls (renamed
 * llmbed_emu_* so they never collide with a real libcudart). The emulated
 * device is synchronous: a launch or copy has completed when it returns.
 * cudaGetLastError returns and clears the calling host thread's last error. */
#include "fake_cuda/cuda_runtime_api.h"
#include "kernels/common/kernel_api.h"

/* ----------------------------------------------------- fibers, warps */

namespace emu {

constexpr int kWarpSize = 32;
/* Largest value one lane contributes to a warp exchange (an mma A fragment is 16 bytes). */
constexpr size_t kExchangeBytes = 32;

struct Block;

/* What a kernel's thread sees: its coordinates and its block. */
struct ThreadState {
    uint3 thread_idx;
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
    int linear_id; /* threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z) */
    int lane;
    int warp;
    unsigned exchange_parity; /* which of the two exchange buffers this lane uses next */
    Block *block;
};

/* The thread (fiber) currently running on this host thread. */
ThreadState *current();

/* Block-wide barrier (__syncthreads). */
void sync_block();
/* Barrier among the active lanes of the calling thread's warp (__syncwarp). */
void sync_warp();
/* Publishes `bytes` (<= kExchangeBytes) from this lane, waits for the warp,
 * and returns the base of the warp's slots: lane i's bytes start at
 * result + i * kExchangeBytes. Two buffers alternate, so the slots stay
 * valid until this lane's next exchange (every lane must pass the next
 * exchange's barrier before anyone writes this buffer again). */
const unsigned char *warp_exchange(const void *mine, size_t bytes);
/* Lanes in the calling thread's warp (32, or fewer in a partial last warp). */
int warp_lanes();

/* Runs `body` for every thread of every block; records a launch error for
 * cudaGetLastError() when the configuration is invalid. */
void launch(dim3 grid, dim3 block, const std::function<void()> &body);
/* The same with `shared_bytes` of dynamic shared memory per block (filled
 * with 0xFF at block start, as uninitialised memory is garbage on the
 * device) and the launch's declared cost: the launch log of launch_log.h
 * records it, and a dry run (the cost ledger) records without running. */
void launch(dim3 grid, dim3 block, size_t shared_bytes, const llmbed_launch_cost *cost,
            const std::function<void()> &body);
/* The calling thread's block's dynamic shared memory (16-byte aligned). */
unsigned char *dynamic_shared_memory();

template <typename T>
T exchange_read(const unsigned char *slots, int lane) {
    T value;
    std::memcpy(&value, slots + (size_t)lane * kExchangeBytes, sizeof(T));
    return value;
}

} // namespace emu

#define threadIdx (emu::current()->thread_idx)
#define blockIdx (emu::current()->block_idx)
#define blockDim (emu::current()->block_dim)
#define gridDim (emu::current()->grid_dim)

inline void __syncthreads() { emu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::sync_warp(); }

template <typename T>
T __shfl_sync(unsigned, T value, int src_lane, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(&value, sizeof(T));
    int lane = emu::current()->lane;
    int base = lane & ~(width - 1);
    return emu::exchange_read<T>(slots, base + (src_lane & (width - 1)));
}

template <typename T>
T __shfl_xor_sync(unsigned, T value, int lane_mask, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(&value, sizeof(T));
    int lane = emu::current()->lane;
    int src = lane ^ lane_mask;
    /* A source outside the lane's segment or warp returns the lane's own value, as on the device. */
    if ((src & ~(width - 1)) != (lane & ~(width - 1)) || src >= emu::warp_lanes()) return value;
    return emu::exchange_read<T>(slots, src);
}

template <typename T>
T __shfl_down_sync(unsigned, T value, unsigned delta, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(&value, sizeof(T));
    int lane = emu::current()->lane;
    int src = lane + (int)delta;
    if ((src & ~(width - 1)) != (lane & ~(width - 1)) || src >= emu::warp_lanes()) return value;
    return emu::exchange_read<T>(slots, src);
}

inline unsigned __ballot_sync(unsigned, int predicate) {
    int mine = predicate != 0;
    const unsigned char *slots = emu::warp_exchange(&mine, sizeof(mine));
    unsigned bits = 0;
    for (int i = 0; i < emu::warp_lanes(); i++)
        if (emu::exchange_read<int>(slots, i)) bits |= 1u << i;
    return bits;
}

/* ------------------------------------------------------------- atomics */

inline float atomicAdd(float *address, float value) {
    uint32_t *bits = reinterpret_cast<uint32_t *>(address);
    uint32_t old = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        float old_f, new_f;
        std::memcpy(&old_f, &old, 4);
        new_f = old_f + value;
        uint32_t desired;
        std::memcpy(&desired, &new_f, 4);
        if (__atomic_compare_exchange_n(bits, &old, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return old_f;
    }
}
inline int atomicAdd(int *address, int value) { return __atomic_fetch_add(address, value, __ATOMIC_RELAXED); }

/* --------------------------------------------------------------- maths */

/* CUDA's device maths puts these in the global namespace. */
using std::isinf;
using std::isnan;

/* The device's rsqrtf is within 2 ulp; the harness tolerances allow for it. */
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

/* ------------------------------------------------------- bf16 and fp16 */

struct __nv_bfloat16 {
    uint16_t x;
    __nv_bfloat16() = default;
};

/* Round to nearest even; NaN becomes the canonical 0x7fff as cuda_bf16.h does. */
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        r.x = 0x7fff;
        return r;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.x = (uint16_t)(u >> 16);
    return r;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

struct __half {
    uint16_t x;
    __half() = default;
};

/* _Float16 conversions are IEEE round-to-nearest-even, like __float2half_rn. */
inline __half __float2half_rn(float f) {
    _Float16 h = (_Float16)f;
    __half r;
    std::memcpy(&r.x, &h, 2);
    return r;
}
inline float __half2float(__half h) {
    _Float16 v;
    std::memcpy(&v, &h.x, 2);
    return (float)v;
}

/* -------------------------------------------------------------- launch */

/* Used by LLMBED_LAUNCH in kernels/common/cuda_compat.cuh: the stream is
 * ignored because emulated launches complete before they return. */
#define LLMBED_EMU_LAUNCH(kernel, grid, block, stream, ...) \
    ((void)(stream), emu::launch((grid), (block), [&]() { kernel(__VA_ARGS__); }))

#endif
