// The projection GEMM (host/cpu/gemm.c, gemm_kernels.h): every kernel set
// this CPU runs against a double-precision product and bit for bit against
// the scalar set; rows independent of the batch, of their position and of
// the thread count; weights held as Q8_0 / Q4_0 / Q4_1 / F16 / BF16 blocks
// giving exactly the rows of their fp32 values. Odd sizes, guard canaries.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>
#include <omp.h>
#include <random>
#include <vector>

#include "common/fp16.h"
#include "cpu/cpu_ops.h"
#include "cpu/gemm_kernels.h"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

namespace {

bool bit_equal(const float *a, const float *b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// y = x W^T * alpha (+ bias | + y0) through one kernel set, panel by panel.
void run_set(const llmbed_gemm_kernels *k, int T, int n_in, int n_out, const float *x, const float *w,
             const float *bias, float alpha, int accumulate, float *y) {
    const int NR = (int)LLMBED_GEMM_NR;
    std::vector<float> panel_storage((size_t)n_in * NR + 16);
    float *panel = panel_storage.data();
    while (((uintptr_t)panel & 63) != 0) panel++;
    for (int n0 = 0; n0 < n_out; n0 += NR) {
        const int nr = std::min(NR, n_out - n0);
        for (int kc = 0; kc < n_in; kc += LLMBED_GEMM_PACK_K)
            k->transpose(nr, std::min<int>(LLMBED_GEMM_PACK_K, n_in - kc), w + (size_t)n0 * n_in + kc, (size_t)n_in,
                         panel + (size_t)kc * NR);
        const llmbed_gemm_out out = {y + n0, n_out, bias != nullptr ? bias + n0 : nullptr, alpha, accumulate};
        k->sweep(T, nr, n_in, x, n_in, panel, &out);
    }
}

std::vector<float> scratch_for(int n_in) {
    return std::vector<float>(llmbed_cpu_gemm_scratch_floats(n_in, omp_get_max_threads()));
}

} // namespace

TEST_CASE("gemm: every kernel set equals the double product and the scalar set bit for bit", "[ops][gemm]") {
    std::mt19937 rng(24);
    const llmbed_gemm_kernels *const *sets = llmbed_gemm_kernels_available();
    const llmbed_gemm_kernels *scalar = nullptr;
    for (int i = 0; sets[i] != nullptr; i++)
        if (std::strcmp(sets[i]->name, "scalar") == 0) scalar = sets[i];
    REQUIRE(scalar != nullptr);
    for (int T : {1, 5, 8, 9, 23}) {
        for (int n_in : {1, 7, 33, 300}) {
            for (int n_out : {1, 17, 32, 33, 65}) {
                auto x = random_floats((size_t)T * n_in, rng), w = random_floats((size_t)n_out * n_in, rng);
                auto bias = random_floats(n_out, rng), y0 = random_floats((size_t)T * n_out, rng);
                for (int mode = 0; mode < 2; mode++) { // 0: y = x W^T + bias; 1: y = y0 + 0.5 x W^T
                    std::vector<double> want((size_t)T * n_out);
                    for (int t = 0; t < T; t++)
                        for (int o = 0; o < n_out; o++) {
                            double s = 0;
                            for (int i = 0; i < n_in; i++) s += (double)x[(size_t)t * n_in + i] * w[(size_t)o * n_in + i];
                            want[(size_t)t * n_out + o] = mode == 0 ? s + bias[o] : y0[(size_t)t * n_out + o] + 0.5 * s;
                        }
                    GuardedBuffer reference((size_t)T * n_out);
                    std::copy(y0.begin(), y0.end(), reference.data());
                    run_set(scalar, T, n_in, n_out, x.data(), w.data(), mode == 0 ? bias.data() : nullptr,
                            mode == 0 ? 1.0f : 0.5f, mode, reference.data());
                    // |sum of n_in products in [-1, 1]| error <= n_in * 2^-24 * n_in: below 1e-6 * (n_in + 1)
                    CHECK(max_abs_diff(reference.data(), want) <= 1e-6 * (n_in + 1));
                    for (int s = 0; sets[s] != nullptr; s++) {
                        INFO(sets[s]->name << " T " << T << " n_in " << n_in << " n_out " << n_out << " mode " << mode);
                        GuardedBuffer y((size_t)T * n_out);
                        std::copy(y0.begin(), y0.end(), y.data());
                        run_set(sets[s], T, n_in, n_out, x.data(), w.data(), mode == 0 ? bias.data() : nullptr,
                                mode == 0 ? 1.0f : 0.5f, mode, y.data());
                        CHECK(bit_equal(y.data(), reference.data(), y.size()));
                        CHECK(y.guards_intact());
                    }
                }
            }
        }
    }
}

TEST_CASE("gemm: a row is the same alone, at any position of any batch, with 1 or 2 threads", "[ops][gemm]") {
    std::mt19937 rng(25);
    const int n_in = 129, n_out = 97, T = 37;
    auto x = random_floats((size_t)T * n_in, rng), w = random_floats((size_t)n_out * n_in, rng);
    auto bias = random_floats(n_out, rng);
    const llmbed_weight weight = llmbed_weight_of_f32(w.data(), n_out, n_in);
    auto scratch = scratch_for(n_in);
    const int saved = omp_get_max_threads();
    auto project = [&](const std::vector<float> &in, int rows, int threads) {
        omp_set_num_threads(threads);
        std::vector<float> y((size_t)rows * n_out);
        const llmbed_cpu_projection p = {&weight, bias.data(), n_out, 1.0f, 0, y.data(), n_out};
        llmbed_cpu_linear_fused(rows, n_in, in.data(), 1, &p, scratch.data());
        return y;
    };
    const std::vector<float> batch = project(x, T, 1);
    std::vector<int> order(T);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<float> shuffled((size_t)T * n_in);
    for (int t = 0; t < T; t++) std::copy_n(&x[(size_t)order[t] * n_in], n_in, &shuffled[(size_t)t * n_in]);
    for (int threads : {1, 2}) {
        INFO(threads << " threads");
        CHECK(bit_equal(project(x, T, threads).data(), batch.data(), batch.size()));
        const std::vector<float> y = project(shuffled, T, threads);
        for (int t = 0; t < T; t++) {
            INFO("row " << order[t] << " at position " << t);
            CHECK(bit_equal(&y[(size_t)t * n_out], &batch[(size_t)order[t] * n_out], n_out));
            const std::vector<float> alone =
                project(std::vector<float>(&x[(size_t)order[t] * n_in], &x[(size_t)(order[t] + 1) * n_in]), 1, threads);
            CHECK(bit_equal(alone.data(), &batch[(size_t)order[t] * n_out], n_out));
        }
    }
    // The comparison sees a one-ulp change of one weight.
    w[5] = std::nextafter(w[5], 2.0f);
    CHECK_FALSE(bit_equal(project(x, T, 1).data(), batch.data(), batch.size()));
    omp_set_num_threads(saved);
}

namespace {

// Random GGUF blocks of `dtype` for [rows, cols] (fp16 scales in [0.01, 0.1]).
std::vector<uint8_t> random_blocks(llmbed_dtype dtype, int rows, int cols, std::mt19937 &rng) {
    const size_t bytes = llmbed_dtype_bytes(dtype, (int64_t)rows * cols);
    std::vector<uint8_t> b(bytes);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto &v : b) v = (uint8_t)byte(rng);
    std::uniform_real_distribution<float> scale(0.01f, 0.1f), value(-1.0f, 1.0f);
    auto put16 = [&](size_t at, uint16_t h) { b[at] = (uint8_t)(h & 0xFF), b[at + 1] = (uint8_t)(h >> 8); };
    const size_t n = (size_t)rows * cols;
    switch (dtype) {
    case LLMBED_DTYPE_F16:
        for (size_t i = 0; i < n; i++) put16(2 * i, llmbed_f32_to_fp16(value(rng)));
        break;
    case LLMBED_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) put16(2 * i, llmbed_f32_to_bf16(value(rng)));
        break;
    default: {
        const size_t block_bytes = llmbed_dtype_bytes(dtype, 32);
        for (size_t at = 0; at < bytes; at += block_bytes) {
            put16(at, llmbed_f32_to_fp16(scale(rng)));
            if (dtype == LLMBED_DTYPE_Q4_1) put16(at + 2, llmbed_f32_to_fp16(-scale(rng)));
        }
    }
    }
    return b;
}

} // namespace

TEST_CASE("gemm: Q8_0, Q4_0, Q4_1, F16, BF16 weights give the rows of their fp32 values bit for bit",
          "[ops][gemm][native]") {
    std::mt19937 rng(26);
    for (llmbed_dtype dtype : {LLMBED_DTYPE_Q8_0, LLMBED_DTYPE_Q4_0, LLMBED_DTYPE_Q4_1, LLMBED_DTYPE_F16,
                               LLMBED_DTYPE_BF16}) {
        for (int n_in : {32, 288, 544}) { // one block; a partial PACK_K step; two steps + a part
            INFO(llmbed_dtype_name(dtype) << " n_in " << n_in);
            const int n_out = 45, T = 11;
            std::vector<uint8_t> blocks = random_blocks(dtype, n_out, n_in, rng);
            const llmbed_weight native = {dtype, n_out, n_in, llmbed_dtype_bytes(dtype, n_in), blocks.data()};
            std::vector<float> w((size_t)n_out * n_in);
            llmbed_weight_rows_to_f32(&native, 0, n_out, w.data());
            const llmbed_tensor_ref ref = {"w", dtype, 2, {n_out, n_in}, blocks.data(), blocks.size()};
            std::vector<float> oracle(w.size());
            llmbed_error err{};
            REQUIRE(llmbed_tensor_to_f32(&ref, oracle.data(), &err) == LLMBED_OK);
            CHECK(bit_equal(w.data(), oracle.data(), w.size())); // the loader's fp32 values
            const llmbed_weight f32 = llmbed_weight_of_f32(w.data(), n_out, n_in);
            auto x = random_floats((size_t)T * n_in, rng);
            auto scratch = scratch_for(n_in);
            GuardedBuffer from_native((size_t)T * n_out), from_f32((size_t)T * n_out);
            const llmbed_cpu_projection a = {&native, nullptr, n_out, 1.0f, 0, from_native.data(), n_out};
            const llmbed_cpu_projection b = {&f32, nullptr, n_out, 1.0f, 0, from_f32.data(), n_out};
            llmbed_cpu_linear_fused(T, n_in, x.data(), 1, &a, scratch.data());
            llmbed_cpu_linear_fused(T, n_in, x.data(), 1, &b, scratch.data());
            CHECK(bit_equal(from_native.data(), from_f32.data(), from_f32.size()));
            CHECK(from_native.guards_intact());
        }
    }
}
