/* Host emulation of the slice of CUDA that llmbed's kernels use (SPEC §8).
 *
 * kernels/common/cuda_compat.cuh includes this header instead of the CUDA
 * headers when a kernel file is compiled by the host C++ compiler with
 * LLMBED_CUDA_EMU defined. A launch runs every block of the grid; the threads
 * of one block run as cooperating fibers on one host thread, so
 * `__syncthreads` is a real barrier, `__shared__` memory is per block, and
 * warp shuffles/votes exchange values among the lanes a mask names. Blocks
 * run in parallel on an OpenMP pool: `__shared__` variables become
 * `static thread_local`, which is per block because one host thread runs one
 * block at a time.
 *
 * The emulator fails where a GPU would (SPEC §8), so a kernel that is right
 * here is right for the reasons a GPU needs:
 *   - a block's threads are interleaved in a seeded random order, switching
 *     at barriers, warp collectives and shared-memory accesses (seed from
 *     LLMBED_EMU_SEED, default 1; every launch and block derives its own);
 *   - shared memory reads as poison (0xFF bytes: NaN as float or bf16, -1 as
 *     an integer) until the block writes it;
 *   - two threads touching one shared byte in the same barrier interval, at
 *     least one writing and neither through an atomic, is a race;
 *   - cp.async data lands at the wait; reading it before is an error;
 *   - typed global/shared accesses must be naturally aligned (16-byte vectors
 *     included), cp.async and ldmatrix addresses 16-byte aligned and in the
 *     right state space;
 *   - warp collectives synchronise exactly the lanes of their mask; a lane
 *     outside its own mask is an error and a value read from a lane outside
 *     the mask is poison.
 * Races, poison reads before a cp.async wait and alignment are seen through
 * compiler instrumentation of the kernel files (tests/emu/CMakeLists.txt,
 * cuda_emu_memory.cpp); the ASan build cannot combine it with ASan and runs
 * without those three checks (emu::checks_enabled() says which). A violation
 * prints the kernel, launch site, block, thread, address and seed, then
 * aborts the test process, unless an emu::ExpectViolations guard collects it
 * (the emulator's own tests of deliberately broken kernels).
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
#include <string>
#include <type_traits>
#include <vector>

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

/* ------------------------------------------------------- vector types */

/* As CUDA's vector_types.h: the alignment is what makes a vector load one
 * wide access on the device, and what the alignment check holds it to. */
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(8) uint2 { unsigned x, y; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

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
constexpr unsigned kFullMask = 0xffffffffu;
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
    Block *block;
};

/* The thread (fiber) currently running on this host thread. */
ThreadState *current();

/* Block-wide barrier (__syncthreads). */
void sync_block();
/* Barrier among the lanes of `mask` in the calling thread's warp (__syncwarp);
 * the calling lane must be in the mask. */
void sync_warp(unsigned mask);
/* Publishes `bytes` (<= kExchangeBytes) from this lane, waits for the lanes
 * of `mask`, and returns the base of the warp's slots: lane i's bytes start
 * at result + i * kExchangeBytes. Two buffers alternate, so the slots stay
 * valid until this lane's next exchange. */
const unsigned char *warp_exchange(unsigned mask, const void *mine, size_t bytes);
/* The same over the whole warp (mma, ldmatrix: .sync.aligned instructions). */
const unsigned char *warp_exchange(const void *mine, size_t bytes);
/* Lanes that exist in the calling thread's warp, as a mask (all 32, or fewer in a partial last warp). */
unsigned warp_lane_mask();
/* Lanes in the calling thread's warp (32, or fewer in a partial last warp). */
int warp_lanes();

/* What a launch runs and where it came from (for the violation reports). */
struct LaunchSite {
    const char *kernel; /* the launch expression's kernel, as written */
    const char *file;
    int line;
    const void *function; /* the kernel's address, or nullptr */
};

/* Runs `body` for every thread of every block; records a launch error for
 * cudaGetLastError() when the configuration is invalid. */
void launch(dim3 grid, dim3 block, const std::function<void()> &body);
/* The same with `shared_bytes` of dynamic shared memory per block (poison
 * until written, as uninitialised memory is garbage on the device) and the
 * launch's declared cost, whose op names the kernel in reports: the launch
 * log of launch_log.h records it, and a dry run (the cost ledger) records
 * without running. */
void launch(dim3 grid, dim3 block, size_t shared_bytes, const llmbed_launch_cost *cost,
            const std::function<void()> &body);
/* Both through here, with where the launch is written (LLMBED_LAUNCH). */
void launch_at(const LaunchSite &site, dim3 grid, dim3 block, size_t shared_bytes, const llmbed_launch_cost *cost,
               const std::function<void()> &body);
/* The calling thread's block's dynamic shared memory (16-byte aligned). */
unsigned char *dynamic_shared_memory();

/* cp.async (ptx_wrappers.cuh): a 16-byte (or 4/8) copy from global to shared
 * memory that lands when a later wait covers its group; zero-filled when
 * !valid (the source is then not read). */
void cp_async(void *shared_dst, const void *global_src, size_t bytes, bool valid);
void cp_async_commit();
/* Completes every committed group but the `pending` most recent (-1: every
 * copy, committed or not, as cp.async.wait_all). */
void cp_async_wait(int pending);
/* ldmatrix: a row address must be shared memory, 16-byte aligned; records the row's read. */
void ldmatrix_row(const void *row);

/* 1 when this build instruments the kernels (race, poison, cp.async and
 * alignment checks); 0 in the ASan build. */
bool checks_enabled();
/* Seed of the interleavings (LLMBED_EMU_SEED, or set_seed). */
uint64_t seed();
void set_seed(uint64_t seed);

/* Collects violations instead of aborting while alive (one at a time). */
class ExpectViolations {
public:
    ExpectViolations();
    ~ExpectViolations();
    ExpectViolations(const ExpectViolations &) = delete;
    ExpectViolations &operator=(const ExpectViolations &) = delete;
    /* The violation reports so far, in the order they happened. */
    std::vector<std::string> reports() const;
};

template <typename T>
T exchange_read(const unsigned char *slots, int lane) {
    T value;
    std::memcpy(&value, slots + (size_t)lane * kExchangeBytes, sizeof(T));
    return value;
}

/* A value read from lane `src` of a masked exchange: poison (0xFF bytes)
 * when `src` is not in the mask, as the device leaves it undefined. */
template <typename T>
T exchange_read_masked(const unsigned char *slots, int src, unsigned mask) {
    if (((mask >> src) & 1u) == 0) {
        T poison;
        std::memset(&poison, 0xff, sizeof poison);
        return poison;
    }
    return exchange_read<T>(slots, src);
}

} // namespace emu

#define threadIdx (emu::current()->thread_idx)
#define blockIdx (emu::current()->block_idx)
#define blockDim (emu::current()->block_dim)
#define gridDim (emu::current()->grid_dim)

inline void __syncthreads() { emu::sync_block(); }
inline void __syncwarp(unsigned mask = emu::kFullMask) { emu::sync_warp(mask); }

template <typename T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(mask, &value, sizeof(T));
    int lane = emu::current()->lane;
    int base = lane & ~(width - 1);
    return emu::exchange_read_masked<T>(slots, base + (src_lane & (width - 1)), mask);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(mask, &value, sizeof(T));
    int lane = emu::current()->lane;
    int src = lane ^ lane_mask;
    /* A source outside the lane's segment or warp returns the lane's own value, as on the device. */
    if ((src & ~(width - 1)) != (lane & ~(width - 1)) || src >= emu::warp_lanes()) return value;
    return emu::exchange_read_masked<T>(slots, src, mask);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(mask, &value, sizeof(T));
    int lane = emu::current()->lane;
    int src = lane + (int)delta;
    if ((src & ~(width - 1)) != (lane & ~(width - 1)) || src >= emu::warp_lanes()) return value;
    return emu::exchange_read_masked<T>(slots, src, mask);
}

template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = emu::kWarpSize) {
    static_assert(sizeof(T) <= emu::kExchangeBytes && std::is_trivially_copyable<T>::value, "shfl type");
    const unsigned char *slots = emu::warp_exchange(mask, &value, sizeof(T));
    int lane = emu::current()->lane;
    int src = lane - (int)delta;
    if (src < (lane & ~(width - 1))) return value;
    return emu::exchange_read_masked<T>(slots, src, mask);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
    int mine = predicate != 0;
    const unsigned char *slots = emu::warp_exchange(mask, &mine, sizeof(mine));
    unsigned bits = 0;
    for (int i = 0; i < emu::warp_lanes(); i++)
        if (((mask >> i) & 1u) && emu::exchange_read<int>(slots, i)) bits |= 1u << i;
    return bits;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
    return __ballot_sync(mask, predicate) == (mask & emu::warp_lane_mask());
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

/* Arithmetic rounded as written, never contracted into a fused multiply-add
 * (the host compiler targets x86-64 without FMA, so plain operators do). */
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }

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
#define LLMBED_EMU_LAUNCH(kernel, grid, block, stream, ...)                                                      \
    ((void)(stream), emu::launch_at(emu::LaunchSite{#kernel, __FILE__, __LINE__, reinterpret_cast<const void *>(kernel)}, \
                                    (grid), (block), 0, nullptr, [&]() { kernel(__VA_ARGS__); }))

#endif
