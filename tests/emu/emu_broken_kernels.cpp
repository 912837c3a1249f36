/* Deliberately broken kernels (and their correct twins) for the emulator's
 * own tests: each bug is one a GPU punishes and the plain emulator of old
 * did not (round-robin threads, zeroed memory, synchronous cp.async, no
 * alignment or mask rules). */
#include "emu_broken_kernels.h"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/ptx_wrappers.cuh"

namespace broken {

namespace {

__global__ void rotate_kernel(const int *in, int *out, bool with_barrier) {
    __shared__ int buffer[256];
    const int t = threadIdx.x, n = blockDim.x, base = blockIdx.x * n;
    buffer[t] = in[base + t] * 2;
    if (with_barrier) __syncthreads();
    out[base + t] = buffer[(t + 1) % n];
}

__global__ void read_unwritten_kernel(float *out) {
    __shared__ float first_block_only[128];
    if (blockIdx.x == 0) first_block_only[threadIdx.x] = 1.0f;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = first_block_only[threadIdx.x];
}

__global__ void async_copy_kernel(const float *in, float *out, int mode) {
    __shared__ __align__(16) float tile[4 * 64];
    const int t = threadIdx.x, n = blockDim.x;
    cp_async_16(&tile[4 * t], &in[4 * t], true);
    cp_async_commit();
    if (mode != 1) cp_async_wait_all();
    if (mode == 0) __syncthreads();
    out[t] = tile[4 * ((t + 1) % n)];
}

template <int PENDING>
__global__ void async_groups_kernel(const float *in, float *out) {
    __shared__ __align__(16) float tile[8];
    cp_async_16(&tile[0], &in[0], true);
    cp_async_commit();
    cp_async_16(&tile[4], &in[4], true);
    cp_async_commit();
    cp_async_wait_group<PENDING>();
    for (int i = 0; i < 8; i++) out[i] = tile[i];
}

__global__ void vector_load_kernel(const unsigned char *p, uint32_t *out) {
    const uint4 v = *reinterpret_cast<const uint4 *>(p);
    out[0] = v.x;
    out[1] = v.w;
}

__global__ void shared_vector_store_kernel(size_t offset, float *out) {
    __shared__ __align__(16) unsigned char bytes[64];
    *reinterpret_cast<float4 *>(bytes + offset) = make_float4(1.0f, 2.0f, 3.0f, 4.0f);
    out[0] = reinterpret_cast<float *>(bytes + offset)[0];
}

__global__ void async_misaligned_kernel(const float *src, size_t dst_offset) {
    __shared__ __align__(16) unsigned char bytes[64];
    cp_async_16(bytes + dst_offset, src, true);
    cp_async_wait_all();
}

__global__ void ldmatrix_kernel(const uint16_t *global, size_t offset_bytes, bool from_global, uint32_t *out) {
    __shared__ __align__(16) uint16_t tile[32 * 8 + 16];
    const int lane = threadIdx.x;
    for (int i = lane; i < 32 * 8 + 16; i += 32) tile[i] = (uint16_t)i;
    __syncthreads();
    const unsigned char *row = from_global ? reinterpret_cast<const unsigned char *>(global + lane * 8)
                                           : reinterpret_cast<const unsigned char *>(&tile[lane * 8]) + offset_bytes;
    uint32_t r[4];
    ldmatrix_x4(r, row);
    for (int i = 0; i < 4; i++) out[lane * 4 + i] = r[i];
}

__global__ void shuffle_kernel(unsigned mask, int active_lanes, int shift, int *out) {
    const int lane = threadIdx.x;
    if (lane >= active_lanes) return;
    out[lane] = __shfl_sync(mask, lane, (lane + shift) % 32);
}

__global__ void warp_shared_kernel(bool with_syncwarp, int *out) {
    __shared__ int slots[32];
    const int lane = threadIdx.x;
    slots[lane] = lane * 10;
    if (with_syncwarp) __syncwarp();
    out[lane] = slots[(lane + 1) % 32];
}

__global__ void divergent_barrier_kernel(int divergent) {
    if ((int)threadIdx.x < divergent) __syncthreads();
}

__global__ void arrival_order_kernel(int *counters, int *order) {
    order[blockIdx.x * blockDim.x + threadIdx.x] = atomicAdd(&counters[blockIdx.x], 1);
}

__global__ void rotate_dynamic_kernel(const int *in, int *out, bool with_barrier) {
    int *buffer = dynamic_shared<int>();
    const int t = threadIdx.x, n = blockDim.x;
    buffer[t] = in[t] * 2;
    if (with_barrier) __syncthreads();
    out[t] = buffer[(t + 1) % n];
}

} // namespace

cudaError_t rotate(const int *in, int *out, int blocks, int threads, bool with_barrier) {
    LLMBED_LAUNCH(rotate_kernel, dim3(blocks), dim3(threads), nullptr, in, out, with_barrier);
    return cudaGetLastError();
}

cudaError_t read_unwritten(float *out, int blocks, int threads) {
    LLMBED_LAUNCH(read_unwritten_kernel, dim3(blocks), dim3(threads), nullptr, out);
    return cudaGetLastError();
}

cudaError_t async_copy(const float *in, float *out, int threads, int mode) {
    LLMBED_LAUNCH(async_copy_kernel, dim3(1), dim3(threads), nullptr, in, out, mode);
    return cudaGetLastError();
}

cudaError_t async_groups(const float *in, float *out, int pending) {
    if (pending == 0)
        LLMBED_LAUNCH(async_groups_kernel<0>, dim3(1), dim3(1), nullptr, in, out);
    else
        LLMBED_LAUNCH(async_groups_kernel<1>, dim3(1), dim3(1), nullptr, in, out);
    return cudaGetLastError();
}

cudaError_t vector_load(const unsigned char *base, size_t offset_bytes, uint32_t *out) {
    LLMBED_LAUNCH(vector_load_kernel, dim3(1), dim3(1), nullptr, base + offset_bytes, out);
    return cudaGetLastError();
}

cudaError_t shared_vector_store(size_t offset_bytes, float *out) {
    LLMBED_LAUNCH(shared_vector_store_kernel, dim3(1), dim3(1), nullptr, offset_bytes, out);
    return cudaGetLastError();
}

cudaError_t async_misaligned(const float *src, size_t dst_offset) {
    LLMBED_LAUNCH(async_misaligned_kernel, dim3(1), dim3(1), nullptr, src, dst_offset);
    return cudaGetLastError();
}

cudaError_t ldmatrix_rows(const uint16_t *global, size_t offset_bytes, bool from_global, uint32_t *out) {
    LLMBED_LAUNCH(ldmatrix_kernel, dim3(1), dim3(32), nullptr, global, offset_bytes, from_global, out);
    return cudaGetLastError();
}

cudaError_t shuffle(unsigned mask, int active_lanes, int shift, int *out) {
    LLMBED_LAUNCH(shuffle_kernel, dim3(1), dim3(32), nullptr, mask, active_lanes, shift, out);
    return cudaGetLastError();
}

cudaError_t warp_exchange_through_shared(bool with_syncwarp, int *out) {
    LLMBED_LAUNCH(warp_shared_kernel, dim3(1), dim3(32), nullptr, with_syncwarp, out);
    return cudaGetLastError();
}

cudaError_t divergent_barrier(int threads, int divergent) {
    LLMBED_LAUNCH(divergent_barrier_kernel, dim3(1), dim3(threads), nullptr, divergent);
    return cudaGetLastError();
}

cudaError_t arrival_order(int blocks, int threads, int *counters, int *order) {
    LLMBED_LAUNCH(arrival_order_kernel, dim3(blocks), dim3(threads), nullptr, counters, order);
    return cudaGetLastError();
}

cudaError_t rotate_dynamic(const int *in, int *out, int threads, size_t shared_bytes, bool with_barrier) {
    const llmbed_launch_cost cost = {"rotate_dynamic", 0.0, 0.0};
    emu::launch(dim3(1), dim3(threads), shared_bytes, &cost, [&]() { rotate_dynamic_kernel(in, out, with_barrier); });
    return cudaGetLastError();
}

} // namespace broken
