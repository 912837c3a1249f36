/* How every launcher of kernels/ starts its kernel: one call that
 *   - checks the configuration against CUDA's limits before launching (the
 *     grid is given in 64 bits, so an oversized shape is reported naming the
 *     op instead of wrapping around: grid.x < 2^31, grid.y/z <= 65535, at most
 *     1024 threads, dynamic shared memory within the device's opt-in limit,
 *     which is raised for the kernel when above the default 48 KB);
 *   - launches with the op's declared cost (FLOPs and global-memory bytes,
 *     computed by the launcher from its parameters: the cost ledger of
 *     `llmbed bench --ledger` sums them; an emulated launch records them);
 *   - reports a launch the runtime refuses as LLMBED_ERR_CUDA naming the op,
 *     the configuration and the runtime's own message;
 *   - with LLMBED_CUDA_SYNC=1 in the environment, waits for the kernel so an
 *     asynchronous fault (an illegal address, ...) is attributed to this op
 *     rather than surfacing at the next synchronise (a debug mode: slow). */
#ifndef LLMBED_KERNELS_COMMON_LAUNCH_CUH
#define LLMBED_KERNELS_COMMON_LAUNCH_CUH

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/common/cuda_compat.cuh"

namespace llmbed {

constexpr size_t kDefaultSharedBytes = 48 * 1024;

struct Launch {
    llmbed_launch_cost cost; /* op name, FLOPs, global-memory bytes */
    int64_t grid_x, grid_y, grid_z;
    int threads;
    size_t shared_bytes; /* dynamic shared memory */
};

inline bool sync_each_launch() {
    const char *v = getenv("LLMBED_CUDA_SYNC");
    return v != nullptr && v[0] != '\0' && strcmp(v, "0") != 0;
}

inline llmbed_status check_launch(const Launch &l, llmbed_error *error) {
    if (l.grid_x < 1 || l.grid_x > 0x7fffffffLL || l.grid_y < 1 || l.grid_y > 65535 || l.grid_z < 1 ||
        l.grid_z > 65535 || l.threads < 1 || l.threads > 1024)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "%s: grid (%lld, %lld, %lld) x %d threads is outside CUDA's limits (grid.x in [1, 2^31), "
                           "grid.y and grid.z in [1, 65535], 1..1024 threads): the batch is too large for this kernel",
                           l.cost.op, (long long)l.grid_x, (long long)l.grid_y, (long long)l.grid_z, l.threads);
    if (l.shared_bytes <= kDefaultSharedBytes) return LLMBED_OK;
    int device = 0, limit = 0;
    cudaError_t rc = cudaGetDevice(&device);
    if (rc == cudaSuccess) rc = cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (rc != cudaSuccess)
        return llmbed_fail(error, LLMBED_ERR_CUDA, "%s: cannot read the shared-memory limit: %s", l.cost.op,
                           cudaGetErrorString(rc));
    if (l.shared_bytes > (size_t)limit)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: needs %zu bytes of shared memory per block, above this device's %d", l.cost.op,
                           l.shared_bytes, limit);
    return LLMBED_OK;
}

inline llmbed_status launch_status(const Launch &l, cudaStream_t stream, llmbed_error *error) {
    cudaError_t rc = cudaGetLastError();
    const char *when = "launch";
    if (rc == cudaSuccess && sync_each_launch()) {
        rc = cudaStreamSynchronize(stream);
        when = "asynchronous fault (LLMBED_CUDA_SYNC)";
    }
    if (rc == cudaSuccess) return LLMBED_OK;
    return llmbed_fail(error, LLMBED_ERR_CUDA, "%s: %s of grid (%lld, %lld, %lld) x %d threads, %zu bytes of dynamic "
                       "shared memory: %s",
                       l.cost.op, when, (long long)l.grid_x, (long long)l.grid_y, (long long)l.grid_z, l.threads,
                       l.shared_bytes, cudaGetErrorString(rc));
}

/* Launches kernel<<<grid, threads, shared_bytes, stream>>>(args...). */
template <typename... Params, typename... Args>
llmbed_status launch(const Launch &l, void (*kernel)(Params...), cudaStream_t stream, llmbed_error *error,
                     Args... args) {
    LLMBED_TRY(check_launch(l, error));
    const dim3 grid((unsigned)l.grid_x, (unsigned)l.grid_y, (unsigned)l.grid_z), block((unsigned)l.threads);
    if (l.shared_bytes > kDefaultSharedBytes) {
        const cudaError_t rc =
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)l.shared_bytes);
        if (rc != cudaSuccess)
            return llmbed_fail(error, LLMBED_ERR_CUDA, "%s: cannot allow %zu bytes of shared memory: %s", l.cost.op,
                               l.shared_bytes, cudaGetErrorString(rc));
    }
#if defined(__CUDACC__)
    kernel<<<grid, block, l.shared_bytes, stream>>>(args...);
#else
    /* by value: a launch captured into a graph runs after this frame is gone */
    emu::launch(grid, block, l.shared_bytes, &l.cost, [=]() { kernel(args...); });
#endif
    return launch_status(l, stream, error);
}

/* 1-D grid of `threads`-thread blocks covering n elements, at most max_blocks (grid-stride loops do the rest). */
inline int64_t blocks_for(int64_t n, int threads, int64_t max_blocks) {
    const int64_t blocks = (n + threads - 1) / threads;
    return blocks < max_blocks ? blocks : max_blocks;
}

} // namespace llmbed

#endif
