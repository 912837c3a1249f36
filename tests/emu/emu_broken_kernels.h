/* Kernels the emulator must reject (tests/emu/test_emu_checks.cpp), each
 * beside its correct twin where it has one, in emu_broken_kernels.cpp, which
 * is compiled like the kernels (with the emulator's instrumentation).
 * Every launcher runs one launch and returns cudaGetLastError(). */
#ifndef LLMBED_TESTS_EMU_EMU_BROKEN_KERNELS_H
#define LLMBED_TESTS_EMU_EMU_BROKEN_KERNELS_H

#include <cstddef>
#include <cstdint>

#include "cuda_emu.h"

namespace broken {

/* out[b*n + t] = 2 * in[b*n + (t+1) % n] through shared memory; without the
 * barrier between the writes and the reads when `with_barrier` is false. */
cudaError_t rotate(const int *in, int *out, int blocks, int threads, bool with_barrier);
/* Block 0 writes shared memory, every block then reads it (out: what each saw). */
cudaError_t read_unwritten(float *out, int blocks, int threads);
/* cp.async of in[] into shared memory, then out[t] = shared[(t + 1) % n]:
 * mode 0 waits and synchronises (correct), 1 reads before the wait, 2 waits
 * but has no __syncthreads before reading another thread's data. */
cudaError_t async_copy(const float *in, float *out, int threads, int mode);
/* Two cp.async groups; waits with cp.async.wait_group<pending>, then reads
 * both (out[0..3] from group 0, out[4..7] from group 1). One thread. */
cudaError_t async_groups(const float *in, float *out, int pending);
/* A 16-byte vector load from `base + offset_bytes` (global memory). */
cudaError_t vector_load(const unsigned char *base, size_t offset_bytes, uint32_t *out);
/* A float4 store into shared memory at byte offset `offset_bytes`. */
cudaError_t shared_vector_store(size_t offset_bytes, float *out);
/* cp.async into shared memory at byte offset `dst_offset` from `src`. */
cudaError_t async_misaligned(const float *src, size_t dst_offset);
/* ldmatrix_x4 with row addresses offset by `offset_bytes` (shared), or from global memory. */
cudaError_t ldmatrix_rows(const uint16_t *global, size_t offset_bytes, bool from_global, uint32_t *out);
/* One warp: lanes < active_lanes run __shfl_sync(mask, lane, src(lane)), the
 * rest return at once; src(lane) = (lane + shift) % 32. */
cudaError_t shuffle(unsigned mask, int active_lanes, int shift, int *out);
/* Lanes of one warp write shared[lane], then read shared[(lane + 1) % 32],
 * with or without __syncwarp between. */
cudaError_t warp_exchange_through_shared(bool with_syncwarp, int *out);
/* __syncthreads reached by only the threads below `divergent`. */
cudaError_t divergent_barrier(int threads, int divergent);
/* order[t]: the position in which thread t reached an atomic counter (blocks
 * of `threads`, one per block; counters[b] per block). */
cudaError_t arrival_order(int blocks, int threads, int *counters, int *order);
/* rotate through dynamic shared memory of `shared_bytes` (>= threads ints). */
cudaError_t rotate_dynamic(const int *in, int *out, int threads, size_t shared_bytes, bool with_barrier);

} // namespace broken

#endif
