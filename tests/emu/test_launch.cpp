/* kernels/common/launch.cuh, the one way kernels are launched: limits are
 * checked before launching with a message naming the op, a launch the
 * runtime refuses reports the runtime's own message (before, the error was
 * cleared before it was printed, and every failure read "no error"), and
 * the emulated launch log records the declared cost (the ledger's source). */
#include "emu_harness.h"

#include <cstdlib>
#include <string>

#include "kernels/common/launch.cuh"
#include "launch_log.h"

namespace {

__global__ void fill_kernel(float *out, float value, int n) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) out[i] = value;
}

/* Dynamic shared memory: every thread writes its slot, the block reads its neighbour's. */
__global__ void shared_rotate_kernel(int *out) {
    int *slots = dynamic_shared<int>();
    slots[threadIdx.x] = (int)threadIdx.x * 3;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = slots[(threadIdx.x + 1) % blockDim.x];
}

} // namespace

TEST_CASE("launch: limits checked before launching, naming the op", "[emu][launch]") {
    harness::Buffer<float> out(64, 0.0f);
    llmbed_error error{};
    const llmbed::Launch wide = {{"fill", 0.0, 0.0}, 1, 70000, 1, 32, 0};
    CHECK(llmbed::launch(wide, fill_kernel, nullptr, &error, out.data(), 1.0f, 64) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("fill: grid (1, 70000, 1) x 32 threads is outside CUDA's limits") == 0);
    const llmbed::Launch huge = {{"fill", 0.0, 0.0}, (int64_t)1 << 31, 1, 1, 32, 0};
    CHECK(llmbed::launch(huge, fill_kernel, nullptr, &error, out.data(), 1.0f, 64) == LLMBED_ERR_INVALID_ARGUMENT);
    const llmbed::Launch fat = {{"fill", 0.0, 0.0}, 1, 1, 1, 32, 200 * 1024};
    CHECK(llmbed::launch(fat, fill_kernel, nullptr, &error, out.data(), 1.0f, 64) == LLMBED_ERR_UNSUPPORTED);
    CHECK(std::string(error.message).find("fill: needs 204800 bytes of shared memory per block") == 0);
    for (float v : out) CHECK(v == 0.0f); /* nothing ran */
    const llmbed::Launch ok = {{"fill", 0.0, 0.0}, 2, 1, 1, 32, 0};
    CHECK(llmbed::launch(ok, fill_kernel, nullptr, &error, out.data(), 2.0f, 64) == LLMBED_OK);
    harness::sync();
    for (float v : out) CHECK(v == 2.0f);
}

TEST_CASE("launch: a refused launch reports the runtime's message", "[emu][launch]") {
    /* a raw launch of 2048 threads leaves cudaErrorInvalidConfiguration for the next status check */
    harness::Buffer<float> out(1, 0.0f);
    LLMBED_LAUNCH(fill_kernel, dim3(1), dim3(2048), nullptr, out.data(), 1.0f, 1);
    llmbed_error error{};
    const llmbed::Launch l = {{"fill", 0.0, 0.0}, 1, 1, 1, 2048, 0};
    CHECK(llmbed::launch_status(l, nullptr, &error) == LLMBED_ERR_CUDA);
    INFO(error.message);
    CHECK(std::string(error.message).find("fill: launch of grid (1, 1, 1) x 2048 threads") == 0);
    CHECK(std::string(error.message).find("invalid configuration argument") != std::string::npos);
    CHECK(cudaGetLastError() == cudaSuccess); /* reported once, then cleared */
}

TEST_CASE("launch: dynamic shared memory above 48 KB, LLMBED_CUDA_SYNC", "[emu][launch]") {
    const int threads = 128, blocks = 3;
    harness::Buffer<int> out((size_t)blocks * threads, -1);
    llmbed_error error{};
    setenv("LLMBED_CUDA_SYNC", "1", 1);
    const llmbed::Launch l = {{"rotate", 0.0, 0.0}, blocks, 1, 1, threads, 64 * 1024};
    const llmbed_status st = llmbed::launch(l, shared_rotate_kernel, nullptr, &error, out.data());
    unsetenv("LLMBED_CUDA_SYNC");
    REQUIRE(st == LLMBED_OK);
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++) CHECK(out[(size_t)b * threads + t] == ((t + 1) % threads) * 3);
}

TEST_CASE("launch: the launch log records declared costs; a dry run runs nothing", "[emu][launch]") {
    harness::Buffer<float> out(64, 0.0f);
    llmbed_error error{};
    for (int dry : {0, 1}) {
        llmbed_emu_launch_log log{};
        llmbed_emu_log_open(&log, dry);
        const llmbed::Launch l = {{"fill", 12.0, 256.0}, 2, 1, 1, 32, 0};
        CHECK(llmbed::launch(l, fill_kernel, nullptr, &error, out.data(), dry ? 5.0f : 3.0f, 64) == LLMBED_OK);
        LLMBED_LAUNCH(fill_kernel, dim3(1), dim3(32), nullptr, out.data(), 4.0f, 1);
        llmbed_emu_log_close();
        REQUIRE(log.count == 2);
        CHECK(std::string(log.launches[0].op) == "fill");
        CHECK(log.launches[0].grid[0] == 2);
        CHECK(log.launches[0].threads == 32);
        CHECK(log.launches[0].flops == 12.0);
        CHECK(log.launches[0].bytes == 256.0);
        CHECK(std::string(log.launches[1].op) == "undeclared");
        llmbed_emu_log_free(&log);
        CHECK(out[0] == 4.0f);
        CHECK(out[63] == 3.0f); /* the dry run's 5.0 never landed */
    }
}
