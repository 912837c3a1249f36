// ggml block types against the `gguf` package's dequantize (independent
// oracle; tests/gen_kquant_goldens.py): a GGUF written by gguf's GGUFWriter
// with one random-block tensor per type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K, Q8_K) and three quantize()d ones. Tolerance: exact
// (the arithmetic is the oracle's, rounding for rounding). Also: the per-row
// range function the CPU GEMM uses, its argument checks, and a corrupted
// block that the comparison must catch.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "container/dequant.h"
#include "container/gguf.h"
#include "container/tensor.h"
#include "cpu/cpu_ops.h"
#include "model/weight.h"
#include "support/npy_reader.hpp"

using namespace llmbed_test;

namespace {

const std::string kDir = std::string(LLMBED_TEST_DATA_DIR) + "/kquants";

struct Opened {
    llmbed_gguf *gguf = nullptr;
    Opened() {
        llmbed_error error{};
        const llmbed_status st = llmbed_gguf_open((kDir + "/kquants.gguf").c_str(), &gguf, &error);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
    }
    ~Opened() { llmbed_gguf_close(gguf); }
};

// Largest |got - want|; infinity when a value is not finite or the sizes differ.
double max_diff(const std::vector<float> &got, const std::vector<double> &want) {
    if (got.size() != want.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < got.size(); i++) {
        if (!std::isfinite(got[i]) || !std::isfinite(want[i])) return INFINITY;
        worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    }
    return worst;
}

std::string upper(std::string s) {
    for (char &c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

} // namespace

TEST_CASE("loader kquants: block sizes as ggml's type traits", "[loader][dequant][kquants]") {
    struct Row { llmbed_dtype dtype; size_t elements, bytes; const char *name; };
    const Row rows[] = {{LLMBED_DTYPE_Q5_0, 32, 22, "Q5_0"},   {LLMBED_DTYPE_Q5_1, 32, 24, "Q5_1"},
                        {LLMBED_DTYPE_Q2_K, 256, 84, "Q2_K"},  {LLMBED_DTYPE_Q3_K, 256, 110, "Q3_K"},
                        {LLMBED_DTYPE_Q4_K, 256, 144, "Q4_K"}, {LLMBED_DTYPE_Q5_K, 256, 176, "Q5_K"},
                        {LLMBED_DTYPE_Q6_K, 256, 210, "Q6_K"}, {LLMBED_DTYPE_Q8_K, 256, 292, "Q8_K"}};
    for (const Row &r : rows) {
        INFO(r.name);
        CHECK(llmbed_dtype_block_elements(r.dtype) == r.elements);
        CHECK(llmbed_dtype_block_bytes(r.dtype) == r.bytes);
        CHECK(llmbed_dtype_bytes(r.dtype, int64_t(3 * r.elements)) == 3 * r.bytes);
        if (r.elements == 256) CHECK(llmbed_dtype_bytes(r.dtype, 288) == 0); // not whole super-blocks
        CHECK(std::string(llmbed_dtype_name(r.dtype)) == r.name);
        CHECK(llmbed_dequant_fn_for(r.dtype) != nullptr);
    }
    CHECK(llmbed_dequant_fn_for(LLMBED_DTYPE_COUNT) == nullptr);
    CHECK(llmbed_dtype_block_bytes(LLMBED_DTYPE_COUNT) == 0);
}

TEST_CASE("loader kquants: every type dequantises bit-exactly as gguf-py", "[loader][dequant][kquants]") {
    Opened f;
    const int64_t n = llmbed_gguf_n_tensors(f.gguf);
    REQUIRE(n == 14);
    int k_quants = 0;
    for (int64_t i = 0; i < n; i++) {
        const llmbed_tensor_ref *t = llmbed_gguf_tensor(f.gguf, i);
        const std::string name = t->name;
        INFO(name);
        CHECK(llmbed_dtype_name(t->dtype) == upper(name.substr(name.find('.') + 1)));
        const NpyArray want = read_npy(kDir + "/" + name + ".npy");
        INFO(want.error);
        REQUIRE(want.ok);
        REQUIRE(t->n_dims == 2);
        CHECK(t->shape[0] == want.shape[0]);
        CHECK(t->shape[1] == want.shape[1]);
        std::vector<float> got(want.values.size() + 1, -3.5f);
        llmbed_error error{};
        REQUIRE(llmbed_tensor_to_f32(t, got.data(), &error) == LLMBED_OK);
        CHECK(got.back() == -3.5f); // guard element untouched
        got.pop_back();
        const double diff = max_diff(got, want.values);
        CHECK(diff == 0.0);
        if (llmbed_dtype_block_elements(t->dtype) == 256) k_quants++;
        std::printf("kquants %-15s %-5s %5zu values: max|diff| vs gguf-py %.3g\n", t->name,
                    llmbed_dtype_name(t->dtype), got.size(), diff);
    }
    CHECK(k_quants == 6);
}

TEST_CASE("loader kquants: a row range equals the same slice of the whole tensor", "[loader][dequant][kquants]") {
    Opened f;
    for (int64_t i = 0; i < llmbed_gguf_n_tensors(f.gguf); i++) {
        const llmbed_tensor_ref *t = llmbed_gguf_tensor(f.gguf, i);
        INFO(t->name);
        const int64_t rows = t->shape[0], cols = t->shape[1];
        const int64_t block = int64_t(llmbed_dtype_block_elements(t->dtype));
        std::vector<float> whole(size_t(rows * cols));
        llmbed_error error{};
        REQUIRE(llmbed_tensor_to_f32(t, whole.data(), &error) == LLMBED_OK);
        const size_t row_bytes = llmbed_dtype_bytes(t->dtype, cols);
        const int64_t r = rows - 1, begin = block, end = cols; // second block to the end of the last row
        std::vector<float> part(size_t(end - begin) + 1, 9.0f);
        REQUIRE(llmbed_dequant_row_range(t->dtype, static_cast<const uint8_t *>(t->data) + size_t(r) * row_bytes,
                                         cols, begin, end, part.data(), &error) == LLMBED_OK);
        CHECK(part.back() == 9.0f);
        CHECK(std::memcmp(part.data(), whole.data() + r * cols + begin, size_t(end - begin) * sizeof(float)) == 0);
    }
}

TEST_CASE("loader kquants: row ranges that are not whole blocks are refused", "[loader][dequant][kquants][bad-input]") {
    std::vector<uint8_t> row(2 * 144, 0);
    std::vector<float> out(512);
    llmbed_error error{};
    CHECK(llmbed_dequant_row_range(LLMBED_DTYPE_Q4_K, row.data(), 512, 0, 512, out.data(), &error) == LLMBED_OK);
    for (auto range : {std::pair<int64_t, int64_t>{32, 256}, {0, 300}, {256, 0}, {-256, 0}, {0, 768}}) {
        INFO(range.first << ".." << range.second);
        CHECK(llmbed_dequant_row_range(LLMBED_DTYPE_Q4_K, row.data(), 512, range.first, range.second, out.data(),
                                       &error) == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK_THAT(error.message, Catch::Contains("Q4_K") && Catch::Contains("blocks of 256"));
    }
    CHECK(llmbed_dequant_row_range(LLMBED_DTYPE_Q6_K, row.data(), 500, 0, 256, out.data(), &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(llmbed_dequant_row_range(LLMBED_DTYPE_COUNT, row.data(), 256, 0, 256, out.data(), &error) ==
          LLMBED_ERR_TENSOR_DTYPE);
}

TEST_CASE("loader kquants: the comparison catches a corrupted packed scale", "[loader][dequant][kquants]") {
    // Proves the exact check above can fail: flipping bit 6 of a Q4_K scale
    // byte (the high bits of sub-block 4's scale) must change the result.
    Opened f;
    const llmbed_tensor_ref *t = llmbed_gguf_find_tensor(f.gguf, "random.q4_k");
    REQUIRE(t != nullptr);
    const NpyArray want = read_npy(kDir + "/random.q4_k.npy");
    REQUIRE(want.ok);
    std::vector<uint8_t> bytes(static_cast<const uint8_t *>(t->data), static_cast<const uint8_t *>(t->data) + t->n_bytes);
    bytes[4] ^= 0x40;
    llmbed_tensor_ref broken = *t;
    broken.data = bytes.data();
    std::vector<float> got(want.values.size());
    llmbed_error error{};
    REQUIRE(llmbed_tensor_to_f32(&broken, got.data(), &error) == LLMBED_OK);
    CHECK(max_diff(got, want.values) > 0.0);
}

TEST_CASE("loader kquants: --weights native GEMM over every type equals the fp32 GEMM bit for bit",
          "[loader][dequant][kquants][gemm][native]") {
    // The CPU GEMM dequantises a panel of each block type per PACK_K step
    // (model/weight.h -> container/dequant.h): with the blocks held as the
    // file stores them, every output is the fp32 weights' output exactly.
    Opened f;
    std::mt19937 rng(27);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (int64_t i = 0; i < llmbed_gguf_n_tensors(f.gguf); i++) {
        const llmbed_tensor_ref *t = llmbed_gguf_tensor(f.gguf, i);
        INFO(t->name);
        const int n_out = int(t->shape[0]), n_in = int(t->shape[1]), T = 5;
        CHECK(llmbed_weights_held_dtype(LLMBED_WEIGHTS_NATIVE, t->dtype, n_in) == t->dtype);
        const llmbed_weight native = {t->dtype, n_out, n_in, llmbed_dtype_bytes(t->dtype, n_in),
                                      const_cast<void *>(t->data)};
        std::vector<float> w(size_t(n_out) * n_in);
        llmbed_error error{};
        REQUIRE(llmbed_tensor_to_f32(t, w.data(), &error) == LLMBED_OK);
        const llmbed_weight f32 = llmbed_weight_of_f32(w.data(), n_out, n_in);
        std::vector<float> x(size_t(T) * n_in);
        for (float &v : x) v = value(rng);
        std::vector<float> scratch(llmbed_cpu_gemm_scratch_floats(n_in, omp_get_max_threads()));
        std::vector<float> from_native(size_t(T) * n_out + 1, 7.0f), from_f32(size_t(T) * n_out + 1, 7.0f);
        const llmbed_cpu_projection a = {&native, nullptr, n_out, 1.0f, 0, from_native.data(), n_out};
        const llmbed_cpu_projection b = {&f32, nullptr, n_out, 1.0f, 0, from_f32.data(), n_out};
        llmbed_cpu_linear_fused(T, n_in, x.data(), 1, &a, scratch.data());
        llmbed_cpu_linear_fused(T, n_in, x.data(), 1, &b, scratch.data());
        CHECK(from_native.back() == 7.0f);
        CHECK(std::memcmp(from_native.data(), from_f32.data(), from_f32.size() * sizeof(float)) == 0);
        double largest = 0;
        for (size_t j = 0; j + 1 < from_f32.size(); j++) largest = std::max(largest, double(std::fabs(from_f32[j])));
        CHECK(largest > 0.0); // the products are not all zero
    }
}
