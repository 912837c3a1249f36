// Quantised KV cache blocks (issue 25 item 4, host/cpu/kv_quant.h): int8/int4
// keys per channel over a block and values per token in groups equal a
// float64 reference of the same KIVI definition (codes identical, dequantised
// values to float rounding), on odd shapes, constant channels and int4's odd
// packing; the check fails on a deliberately wrong code. Bytes per token-layer
// follow the layout.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

extern "C" {
#include "cpu/kv_quant.h"
}

namespace {

struct Reference {
    std::vector<int> codes;  // [n, C]
    std::vector<double> out;  // dequantised
};

// Float64 reference: one (min, max) per group of indices, q = round((x - min) / ((max - min) / L)).
Reference reference(const std::vector<float> &x, int n, int C, bool per_channel, int group, int L) {
    Reference r{std::vector<int>((size_t)n * C), std::vector<double>((size_t)n * C)};
    const auto fill = [&](const std::vector<size_t> &idx) {
        double lo = x[idx[0]], hi = x[idx[0]];
        for (size_t i : idx) lo = std::min(lo, (double)x[i]), hi = std::max(hi, (double)x[i]);
        const double scale = (double)(float)((hi - lo) / L);  // stored as float
        for (size_t i : idx) {
            int q = scale == 0 ? 0 : (int)std::nearbyint((x[i] - (double)(float)lo) / scale);
            q = std::max(0, std::min(L, q));
            r.codes[i] = q;
            r.out[i] = q * scale + (double)(float)lo;
        }
    };
    if (per_channel) {
        for (int c = 0; c < C; c++) {
            std::vector<size_t> idx;
            for (int t = 0; t < n; t++) idx.push_back((size_t)t * C + c);
            fill(idx);
        }
    } else {
        for (int t = 0; t < n; t++)
            for (int c0 = 0; c0 < C; c0 += group) {
                std::vector<size_t> idx;
                for (int c = c0; c < std::min(C, c0 + group); c++) idx.push_back((size_t)t * C + c);
                fill(idx);
            }
    }
    return r;
}

std::vector<float> data(int n, int C, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x((size_t)n * C);
    for (int t = 0; t < n; t++)
        for (int c = 0; c < C; c++) x[(size_t)t * C + c] = normal(rng) * (c % 5 == 0 ? 8.0f : 1.0f);  // outlier channels
    if (C > 3)
        for (int t = 0; t < n; t++) x[(size_t)t * C + 3] = 0.25f;  // a constant channel: scale 0
    return x;
}

int code_at(llmbed_kv_dtype dtype, const std::vector<uint8_t> &codes, size_t row_bytes, int t, int c) {
    const uint8_t *row = codes.data() + (size_t)t * row_bytes;
    return dtype == LLMBED_KV_INT8 ? row[c] : (c % 2 == 0 ? row[c / 2] & 0x0F : row[c / 2] >> 4);
}

// Max |got - want| over codes and values; codes must match exactly (returns -1 otherwise).
double compare(llmbed_kv_dtype dtype, const std::vector<uint8_t> &codes, const std::vector<float> &out,
               const Reference &ref, int n, int C) {
    const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)C);
    double worst = 0;
    for (int t = 0; t < n; t++)
        for (int c = 0; c < C; c++) {
            const size_t i = (size_t)t * C + c;
            if (code_at(dtype, codes, row_bytes, t, c) != ref.codes[i]) return -1;
            if (!std::isfinite(out[i])) return -1;
            worst = std::max(worst, std::fabs(out[i] - ref.out[i]));
        }
    return worst;
}

}  // namespace

TEST_CASE("kv quant: keys per channel and values per group equal the float64 reference", "[kv_quant]") {
    for (llmbed_kv_dtype dtype : {LLMBED_KV_INT8, LLMBED_KV_INT4}) {
        const int L = dtype == LLMBED_KV_INT8 ? 255 : 15;
        for (int n : {1, 7, 129})
            for (int C : {1, 7, 64}) {
                INFO(llmbed_kv_dtype_name(dtype) << " n " << n << " C " << C);
                const std::vector<float> x = data(n, C, (uint32_t)(n * 131 + C));
                const size_t row_bytes = llmbed_kv_code_bytes(dtype, (size_t)C);
                std::vector<uint8_t> codes(row_bytes * n + 8, 0xAB);  // guard bytes after the block
                std::vector<float> scale(C), zero(C), out((size_t)n * C);
                llmbed_kv_quantize_keys(dtype, x.data(), n, C, codes.data(), scale.data(), zero.data());
                llmbed_kv_dequantize_keys(dtype, codes.data(), scale.data(), zero.data(), n, C, out.data());
                for (size_t g = row_bytes * n; g < codes.size(); g++) REQUIRE(codes[g] == 0xAB);
                const Reference ref = reference(x, n, C, true, 0, L);
                const double err = compare(dtype, codes, out, ref, n, C);
                CHECK(err >= 0);
                CHECK(err <= 1e-6 * 32);  // float rounding of q * scale + zero on |x| <= ~32

                const int group = LLMBED_KV_VALUE_GROUP, n_groups = (C + group - 1) / group;
                std::vector<float> vscale((size_t)n * n_groups), vzero((size_t)n * n_groups);
                llmbed_kv_quantize_values(dtype, x.data(), n, C, group, codes.data(), vscale.data(), vzero.data());
                llmbed_kv_dequantize_values(dtype, codes.data(), vscale.data(), vzero.data(), n, C, group, out.data());
                const Reference vref = reference(x, n, C, false, group, L);
                const double verr = compare(dtype, codes, out, vref, n, C);
                CHECK(verr >= 0);
                CHECK(verr <= 1e-6 * 32);
                // The quantisation error itself is bounded by half a step of each range.
                for (size_t i = 0; i < x.size(); i++) CHECK(std::fabs(out[i] - x[i]) <= 0.5 * 64.0 / L + 1e-5);
            }
    }
}

TEST_CASE("kv quant: the comparison fails on a wrong code", "[kv_quant]") {
    const int n = 7, C = 7;
    const std::vector<float> x = data(n, C, 5);
    const size_t row_bytes = llmbed_kv_code_bytes(LLMBED_KV_INT4, C);
    std::vector<uint8_t> codes(row_bytes * n);
    std::vector<float> scale(C), zero(C), out((size_t)n * C);
    llmbed_kv_quantize_keys(LLMBED_KV_INT4, x.data(), n, C, codes.data(), scale.data(), zero.data());
    llmbed_kv_dequantize_keys(LLMBED_KV_INT4, codes.data(), scale.data(), zero.data(), n, C, out.data());
    const Reference ref = reference(x, n, C, true, 0, 15);
    REQUIRE(compare(LLMBED_KV_INT4, codes, out, ref, n, C) >= 0);
    codes[row_bytes * 2] ^= 0x10;  // flip a bit of the high nibble (channel 1 of row 2)
    CHECK(compare(LLMBED_KV_INT4, codes, out, ref, n, C) < 0);
}

TEST_CASE("kv quant: names and bytes per token-layer", "[kv_quant]") {
    CHECK(llmbed_kv_dtype_parse("int4") == LLMBED_KV_INT4);
    CHECK(llmbed_kv_dtype_parse("fp8") == -1);
    CHECK(llmbed_kv_code_bytes(LLMBED_KV_INT4, 7) == 4);
    CHECK(llmbed_kv_code_bytes(LLMBED_KV_BF16, 7) == 14);
    // 1 KV head of 64 channels: bf16 128 + 128 bytes; int8 keys 64 + 2*4*64/512, values 64 + 2*4*2.
    CHECK(llmbed_kv_key_bytes_per_token(LLMBED_KV_BF16, 1, 64, 512) == 128.0);
    CHECK(llmbed_kv_key_bytes_per_token(LLMBED_KV_INT8, 1, 64, 512) == Approx(65.0));
    CHECK(llmbed_kv_value_bytes_per_token(LLMBED_KV_INT8, 1, 64) == Approx(80.0));
    CHECK(llmbed_kv_value_bytes_per_token(LLMBED_KV_INT4, 1, 64) == Approx(48.0));
    CHECK(llmbed_kv_key_bytes_per_token(LLMBED_KV_INT4, 2, 32, 512) == Approx(2 * (16.0 + 0.5)));
}
