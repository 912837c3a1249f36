// dtype conversion to fp32 against hand-computed values: every layout detail
// (nibble order, offsets, scale and min, half subnormals/inf/NaN) is pinned by
// at least one element whose value would change if that detail were wrong.
// Tolerance: exact (== on bits) since every expected value is representable.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "container/tensor.h"
#include "support/tiny_model_writer.hpp"

using namespace llmbed_test;

namespace {

std::vector<float> convert(llmbed_dtype dtype, const std::string &bytes, int64_t n) {
    llmbed_tensor_ref t{};
    t.name = "t";
    t.dtype = dtype;
    t.n_dims = 1;
    t.shape[0] = n;
    t.data = bytes.data();
    t.n_bytes = bytes.size();
    std::vector<float> out((size_t)n + 1, -7.25f); // guard element after the tensor
    llmbed_error error{};
    const llmbed_status st = llmbed_tensor_to_f32(&t, out.data(), &error);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);
    REQUIRE(out.back() == -7.25f);
    out.pop_back();
    return out;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

} // namespace

TEST_CASE("loader dequant: dtype sizes and names", "[loader][dequant]") {
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_F32, 7) == 28);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_F16, 7) == 14);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_BF16, 7) == 14);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_Q8_0, 64) == 68);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_Q4_0, 64) == 36);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_Q4_1, 64) == 40);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_Q4_1, 33) == 0); // not whole blocks
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_F32, -1) == 0);
    CHECK(llmbed_dtype_bytes(LLMBED_DTYPE_F32, INT64_MAX) == 0); // overflow
    CHECK(std::string(llmbed_dtype_name(LLMBED_DTYPE_Q4_1)) == "Q4_1");
    CHECK(std::string(llmbed_dtype_name(LLMBED_DTYPE_BF16)) == "BF16");
}

TEST_CASE("loader dequant: F16 including subnormals, inf, NaN and -0", "[loader][dequant]") {
    const uint16_t h[] = {0x3C00, 0xC000, 0x3555, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x7E00};
    std::string bytes;
    for (uint16_t v : h) put_u16(bytes, v);
    const std::vector<float> x = convert(LLMBED_DTYPE_F16, bytes, 11);
    CHECK(x[0] == 1.0f);
    CHECK(x[1] == -2.0f);
    CHECK(x[2] == 0.333251953125f);         // 0x3555 = (1 + 341/1024) / 4
    CHECK(x[3] == std::ldexp(1.0f, -24));   // smallest subnormal
    CHECK(x[4] == std::ldexp(1023.0f, -24)); // largest subnormal
    CHECK(x[5] == std::ldexp(1.0f, -14));   // smallest normal
    CHECK(x[6] == 65504.0f);
    CHECK(x[7] == std::numeric_limits<float>::infinity());
    CHECK(x[8] == -std::numeric_limits<float>::infinity());
    CHECK(same_bits(x[9], -0.0f));
    CHECK(std::isnan(x[10]));
    // The narrowing helper used by the test writers rounds to nearest even.
    CHECK(llmbed_f32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);     // tie -> even
    CHECK(llmbed_f32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02); // tie -> even (up)
    CHECK(llmbed_f32_to_fp16(65520.0f) == 0x7C00);
    CHECK(llmbed_f32_to_fp16(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(llmbed_f32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);
}

TEST_CASE("loader dequant: BF16 is the upper half of a float", "[loader][dequant]") {
    const uint16_t b[] = {0x3F80, 0xC040, 0x4049, 0x7F80, 0x0001, 0x8000, 0x7FC0};
    std::string bytes;
    for (uint16_t v : b) put_u16(bytes, v);
    const std::vector<float> x = convert(LLMBED_DTYPE_BF16, bytes, 7);
    CHECK(x[0] == 1.0f);
    CHECK(x[1] == -3.0f);
    CHECK(x[2] == 3.140625f);
    CHECK(x[3] == std::numeric_limits<float>::infinity());
    CHECK(x[4] == std::ldexp(1.0f, -133)); // float subnormal
    CHECK(same_bits(x[5], -0.0f));
    CHECK(std::isnan(x[6]));
    CHECK(llmbed_f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80); // tie -> even
}

TEST_CASE("loader dequant: Q8_0 is d * q per block of 32", "[loader][dequant]") {
    std::string bytes;
    put_u16(bytes, 0x3800); // d = 0.5
    for (int j = 0; j < 32; j++) bytes.push_back((char)(int8_t)(j == 0 ? -128 : j == 1 ? 127 : j - 16));
    put_u16(bytes, 0xC400); // d = -4
    for (int j = 0; j < 32; j++) bytes.push_back((char)(int8_t)(j % 3 - 1));
    const std::vector<float> x = convert(LLMBED_DTYPE_Q8_0, bytes, 64);
    CHECK(x[0] == -64.0f);
    CHECK(x[1] == 63.5f);
    CHECK(x[2] == -7.0f);
    CHECK(x[31] == 7.5f);
    CHECK(x[32] == 4.0f);  // q = -1
    CHECK(x[33] == -0.0f); // q = 0
    CHECK(x[34] == -4.0f); // q = 1
}

TEST_CASE("loader dequant: Q4_0 nibble order and offset 8", "[loader][dequant]") {
    std::string bytes;
    put_u16(bytes, 0x4000); // d = 2
    for (int j = 0; j < 16; j++) bytes.push_back((char)(uint8_t)((15 - j) << 4 | j)); // low j, high 15 - j
    const std::vector<float> x = convert(LLMBED_DTYPE_Q4_0, bytes, 32);
    for (int j = 0; j < 16; j++) {
        INFO("element " << j);
        CHECK(x[j] == 2.0f * (j - 8));            // low nibble of byte j
        CHECK(x[j + 16] == 2.0f * (15 - j - 8));  // high nibble of byte j
    }
}

TEST_CASE("loader dequant: Q4_1 is d * q + m", "[loader][dequant]") {
    std::string bytes;
    put_u16(bytes, 0x3400); // d = 0.25
    put_u16(bytes, 0xBC00); // m = -1
    for (int j = 0; j < 16; j++) bytes.push_back((char)(uint8_t)(j << 4 | (15 - j)));
    const std::vector<float> x = convert(LLMBED_DTYPE_Q4_1, bytes, 32);
    for (int j = 0; j < 16; j++) {
        INFO("element " << j);
        CHECK(x[j] == 0.25f * (15 - j) - 1.0f);
        CHECK(x[j + 16] == 0.25f * j - 1.0f);
    }
}

TEST_CASE("loader dequant: a view whose byte length disagrees with its shape is rejected", "[loader][dequant]") {
    std::string bytes(34, '\0');
    llmbed_tensor_ref t{};
    t.name = "blk.0.attn_q.weight";
    t.dtype = LLMBED_DTYPE_Q8_0;
    t.n_dims = 1;
    t.shape[0] = 64; // needs 68 bytes
    t.data = bytes.data();
    t.n_bytes = bytes.size();
    std::vector<float> out(64);
    llmbed_error error{};
    CHECK(llmbed_tensor_to_f32(&t, out.data(), &error) == LLMBED_ERR_TENSOR_SHAPE);
    CHECK_THAT(error.message, Catch::Contains("blk.0.attn_q.weight"));
}

TEST_CASE("loader dequant: large tensors convert identically on many threads", "[loader][dequant]") {
    // 5 chunks of the parallel loop; every element compared with the 1-thread result.
    const int64_t n = 32 * 10000;
    std::string bytes;
    std::mt19937 rng(3);
    for (int64_t b = 0; b < n / 32; b++) {
        put_u16(bytes, llmbed_f32_to_fp16(std::ldexp(1.0f, (int)(rng() % 8) - 4)));
        put_u16(bytes, llmbed_f32_to_fp16(-0.5f));
        for (int j = 0; j < 16; j++) bytes.push_back((char)(rng() & 0xff));
    }
    llmbed_tensor_ref t{};
    t.name = "big";
    t.dtype = LLMBED_DTYPE_Q4_1;
    t.n_dims = 2;
    t.shape[0] = 10000;
    t.shape[1] = 32;
    t.data = bytes.data();
    t.n_bytes = bytes.size();
    std::vector<float> one((size_t)n), many((size_t)n);
    llmbed_error error{};
    REQUIRE(llmbed_tensor_to_f32_threads(&t, one.data(), 1, &error) == LLMBED_OK);
    REQUIRE(llmbed_tensor_to_f32_threads(&t, many.data(), 4, &error) == LLMBED_OK);
    CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
}
