/* The emulation layer itself: bf16 rounding, block barriers with shared
 * memory, warp shuffles/ballots (also in a partial warp), atomics, and the
 * mma/ldmatrix wrappers against a plain matrix product built from the PTX
 * ISA fragment formulas. */
#include "emu_harness.h"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/ptx_wrappers.cuh"

using harness::Rng;

TEST_CASE("emu: bf16 conversion rounds to nearest even like cuda_bf16.h", "[emu]") {
    auto bits = [](uint32_t u) {
        float f;
        std::memcpy(&f, &u, 4);
        return __float2bfloat16(f).x;
    };
    CHECK(bits(0x3F800000u) == 0x3F80);  /* 1.0 exact */
    CHECK(bits(0x3F808000u) == 0x3F80);  /* tie, even below */
    CHECK(bits(0x3F818000u) == 0x3F82);  /* tie, odd below -> up */
    CHECK(bits(0x3F808001u) == 0x3F81);  /* above the tie */
    CHECK(bits(0x7F7FFFFFu) == 0x7F80);  /* max float rounds to inf */
    CHECK(bits(0xFF800000u) == 0xFF80);  /* -inf */
    CHECK(bits(0x7FC00001u) == 0x7FFF);  /* NaN -> canonical */
    CHECK(bits(0x00000001u) == 0x0000);  /* smallest subnormal rounds to 0 */
    CHECK(__half2float(__float2half_rn(65520.0f)) == INFINITY);
    CHECK(__half2float(__float2half_rn(1.0f + 1.0f / 2048.0f)) == 1.0f); /* fp16 tie to even */
}

namespace {

__global__ void rotate_through_shared(const int *in, int *out) {
    __shared__ int buffer[256];
    int t = threadIdx.x, n = blockDim.x;
    buffer[t] = in[blockIdx.x * n + t] * 2;
    __syncthreads();
    int v = buffer[(t + 1) % n];
    __syncthreads();
    buffer[t] = v + 1;
    __syncthreads();
    out[blockIdx.x * n + t] = buffer[(t + n - 1) % n];
}

__global__ void warp_ops(int *out) {
    int lane = threadIdx.x & 31;
    int base = threadIdx.x * 5;
    out[base + 0] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 3);
    out[base + 1] = __shfl_down_sync(0xffffffffu, (int)threadIdx.x, 4);
    out[base + 2] = __shfl_sync(0xffffffffu, (int)threadIdx.x, 7);
    out[base + 3] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
    out[base + 4] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1, 4); /* width-4 segments */
}

__global__ void count_with_atomics(float *total, int *count) {
    atomicAdd(total, 0.5f);
    atomicAdd(count, 1);
}

/* One warp: A [16,16] and B [16,8] (stored n-major as B^T [8,16]) through
 * ldmatrix from shared memory, C = A B via one mma; also the fragments
 * gathered by hand from the PTX formulas, to check ldmatrix separately. */
__global__ void mma_probe(const uint16_t *a, const uint16_t *bt, float *c, uint32_t *a_frag, uint32_t *b_frag) {
    __shared__ __align__(16) uint16_t sa[16 * 16];
    __shared__ __align__(16) uint16_t sbt[8 * 16];
    int lane = threadIdx.x;
    for (int i = lane; i < 256; i += 32) sa[i] = a[i];
    for (int i = lane; i < 128; i += 32) sbt[i] = bt[i];
    __syncthreads();
    uint32_t af[4], bf[2];
    ldmatrix_x4(af, &sa[((lane & 7) + ((lane >> 3) & 1) * 8) * 16 + (lane >> 4) * 8]);
    ldmatrix_x2(bf, &sbt[(lane & 7) * 16 + ((lane >> 3) & 1) * 8]);
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_bf16_16816(acc, af, bf);
    int group = lane >> 2, tig = lane & 3;
    for (int i = 0; i < 4; i++) c[(group + (i >= 2 ? 8 : 0)) * 8 + tig * 2 + (i & 1)] = acc[i];
    for (int i = 0; i < 4; i++) a_frag[lane * 4 + i] = af[i];
    for (int i = 0; i < 2; i++) b_frag[lane * 2 + i] = bf[i];
}

/* ldmatrix .trans of a 16x8 row-major matrix V gives the B fragment of V (k = row, n = col). */
__global__ void ldmatrix_trans_probe(const uint16_t *v, uint32_t *b_frag) {
    __shared__ __align__(16) uint16_t sv[16 * 8];
    for (int i = threadIdx.x; i < 128; i += 32) sv[i] = v[i];
    __syncthreads();
    uint32_t bf[2];
    ldmatrix_x2_trans(bf, &sv[(threadIdx.x & 15) * 8]);
    b_frag[threadIdx.x * 2] = bf[0];
    b_frag[threadIdx.x * 2 + 1] = bf[1];
}

uint32_t pack(uint16_t lo, uint16_t hi) { return (uint32_t)lo | ((uint32_t)hi << 16); }

} // namespace

TEST_CASE("emu: __syncthreads orders shared-memory writes across a block", "[emu]") {
    const int blocks = 3, threads = 96;
    std::vector<int> in(blocks * threads), out(blocks * threads, -1);
    for (size_t i = 0; i < in.size(); i++) in[i] = (int)i * 7 + 1;
    auto kernel = rotate_through_shared;
    LLMBED_LAUNCH(kernel, dim3(blocks), dim3(threads), nullptr, in.data(), out.data());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++) REQUIRE(out[b * threads + t] == in[b * threads + t] * 2 + 1);
}

TEST_CASE("emu: warp shuffles and ballot, full and partial warps", "[emu]") {
    for (int threads : {64, 48}) {
        std::vector<int> out((size_t)threads * 5, -1);
        auto kernel = warp_ops;
        LLMBED_LAUNCH(kernel, dim3(1), dim3(threads), nullptr, out.data());
        REQUIRE(cudaGetLastError() == cudaSuccess);
        for (int t = 0; t < threads; t++) {
            int lane = t & 31, warp_first = t - lane;
            int lanes = std::min(32, threads - warp_first);
            int *o = &out[(size_t)t * 5];
            int x = lane ^ 3;
            CHECK(o[0] == (x < lanes ? warp_first + x : t));
            CHECK(o[1] == (lane + 4 < lanes ? t + 4 : t));
            CHECK(o[2] == warp_first + 7);
            unsigned ballot = 0;
            for (int l = 0; l < lanes; l++)
                if (l % 3 == 0) ballot |= 1u << l;
            CHECK((unsigned)o[3] == ballot);
            CHECK(o[4] == ((lane ^ 1) < lanes ? warp_first + (lane ^ 1) : t));
        }
    }
}

TEST_CASE("emu: atomicAdd from parallel blocks", "[emu]") {
    float total = 0.0f;
    int count = 0;
    auto kernel = count_with_atomics;
    LLMBED_LAUNCH(kernel, dim3(37), dim3(64), nullptr, &total, &count);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    CHECK(count == 37 * 64);
    CHECK(total == 0.5f * 37 * 64);
}

TEST_CASE("emu: invalid launch configuration is reported", "[emu]") {
    int count = 0;
    float total = 0.0f;
    auto kernel = count_with_atomics;
    LLMBED_LAUNCH(kernel, dim3(1), dim3(2048), nullptr, &total, &count);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaSuccess);
    CHECK(count == 0);
}

TEST_CASE("emu: ldmatrix and mma.m16n8k16 follow the PTX fragment layouts", "[emu]") {
    Rng rng(5);
    std::vector<float> a = rng.bf16_values(256, -2.0f, 2.0f), bt = rng.bf16_values(128, -2.0f, 2.0f);
    std::vector<uint16_t> a16 = harness::to_bf16(a), bt16 = harness::to_bf16(bt);
    std::vector<float> c(128, NAN);
    std::vector<uint32_t> a_frag(128), b_frag(64);
    auto kernel = mma_probe;
    LLMBED_LAUNCH(kernel, dim3(1), dim3(32), nullptr, a16.data(), bt16.data(), c.data(), a_frag.data(),
                  b_frag.data());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (int lane = 0; lane < 32; lane++) {
        int g = lane >> 2, t = lane & 3;
        /* PTX ISA: a_i row g (+8 for i in {2,3,6,7}), col 2t + (i&1) (+8 for i >= 4). */
        for (int r = 0; r < 4; r++) {
            int row = g + ((r & 1) ? 8 : 0), col = 2 * t + ((r & 2) ? 8 : 0);
            CHECK(a_frag[lane * 4 + r] == pack(a16[row * 16 + col], a16[row * 16 + col + 1]));
        }
        /* b_i row(k) 2t + (i&1) (+8 for i >= 2), col g; B[k][n] = bt[n][k]. */
        for (int r = 0; r < 2; r++) {
            int k = 2 * t + r * 8;
            CHECK(b_frag[lane * 2 + r] == pack(bt16[g * 16 + k], bt16[g * 16 + k + 1]));
        }
    }
    double max_err = 0.0;
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++) {
            double want = 0.0;
            for (int k = 0; k < 16; k++) want += (double)a[m * 16 + k] * bt[n * 16 + k];
            max_err = std::max(max_err, std::fabs(c[m * 8 + n] - want));
        }
    /* bf16 products are exact in fp32; 16 fp32 additions of |terms| <= 4 err below 16 * 64 * 2^-24. */
    CHECK(max_err <= 16 * 64 * std::ldexp(1.0, -24));

    std::vector<float> vm = rng.bf16_values(128, -1.0f, 1.0f);
    std::vector<uint16_t> v16 = harness::to_bf16(vm);
    std::vector<uint32_t> vb(64);
    auto trans = ldmatrix_trans_probe;
    LLMBED_LAUNCH(trans, dim3(1), dim3(32), nullptr, v16.data(), vb.data());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (int lane = 0; lane < 32; lane++) {
        int g = lane >> 2, t = lane & 3;
        for (int r = 0; r < 2; r++) {
            int k = 2 * t + r * 8;
            CHECK(vb[lane * 2 + r] == pack(v16[k * 8 + g], v16[(k + 1) * 8 + g]));
        }
    }
}
