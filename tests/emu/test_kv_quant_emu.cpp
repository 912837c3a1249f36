// Emulated kv quantisation kernels (kernels/kv_quant.cu) equal the CPU
// reference (host/cpu/kv_quant.c) bit for bit: codes, scales, zeros and the
// dense dequantised matrix, for int8 and int4 keys (per channel over a block)
// and values (per token in groups), on odd shapes with guard canaries.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "cpu/kv_quant.h"
}
#include "kernels/kv_quant.cuh"

namespace {

std::vector<float> data(int n, int C, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x((size_t)n * C);
    for (size_t i = 0; i < x.size(); i++) x[i] = normal(rng) * ((i % (size_t)C) % 5 == 0 ? 8.0f : 1.0f);
    if (C > 2)
        for (int t = 0; t < n; t++) x[(size_t)t * C + 2] = -1.5f;  // constant channel: scale 0
    return x;
}

bool same_bits(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("emu kv quant kernels equal the CPU reference bit for bit", "[emu][kv_quant]") {
    const uint8_t canary = 0x5A;
    for (int bits : {8, 4}) {
        const llmbed_kv_dtype dtype = bits == 8 ? LLMBED_KV_INT8 : LLMBED_KV_INT4;
        for (int n : {1, 7, 129})
            for (int C : {1, 7, 64}) {
                INFO("bits " << bits << " n " << n << " C " << C);
                const std::vector<float> x = data(n, C, (uint32_t)(n * 7 + C + bits));
                const size_t bytes = llmbed_kv_code_bytes(dtype, (size_t)C) * (size_t)n;
                const int group = LLMBED_KV_VALUE_GROUP, n_ranges = n * ((C + group - 1) / group);
                for (int values = 0; values < 2; values++) {
                    const int ranges = values ? n_ranges : C;
                    std::vector<uint8_t> gpu(bytes + 16, canary), cpu(bytes, 0);
                    std::vector<float> gs(ranges), gz(ranges), cs(ranges), cz(ranges);
                    std::vector<float> gout((size_t)n * C), cout((size_t)n * C);
                    const llmbed_kv_quant_params p = {bits, n, C, group};
                    if (values) {
                        REQUIRE(llmbed_cuda_kv_quantize_values(&p, x.data(), gpu.data(), gs.data(), gz.data(), nullptr,
                                                               nullptr) == LLMBED_OK);
                        REQUIRE(llmbed_cuda_kv_dequantize_values(&p, gpu.data(), gs.data(), gz.data(), gout.data(),
                                                                 nullptr, nullptr) == LLMBED_OK);
                        llmbed_kv_quantize_values(dtype, x.data(), n, C, group, cpu.data(), cs.data(), cz.data());
                        llmbed_kv_dequantize_values(dtype, cpu.data(), cs.data(), cz.data(), n, C, group, cout.data());
                    } else {
                        REQUIRE(llmbed_cuda_kv_quantize_keys(&p, x.data(), gpu.data(), gs.data(), gz.data(), nullptr,
                                                             nullptr) == LLMBED_OK);
                        REQUIRE(llmbed_cuda_kv_dequantize_keys(&p, gpu.data(), gs.data(), gz.data(), gout.data(),
                                                               nullptr, nullptr) == LLMBED_OK);
                        llmbed_kv_quantize_keys(dtype, x.data(), n, C, cpu.data(), cs.data(), cz.data());
                        llmbed_kv_dequantize_keys(dtype, cpu.data(), cs.data(), cz.data(), n, C, cout.data());
                    }
                    CHECK(std::memcmp(gpu.data(), cpu.data(), bytes) == 0);
                    for (size_t g = bytes; g < gpu.size(); g++) REQUIRE(gpu[g] == canary);
                    CHECK(same_bits(gs, cs));
                    CHECK(same_bits(gz, cz));
                    CHECK(same_bits(gout, cout));
                }
            }
    }
}

TEST_CASE("emu kv quant kernels refuse bad shapes", "[emu][kv_quant]") {
    float x = 0, s = 0, z = 0;
    uint8_t q = 0;
    llmbed_error error{};
    const llmbed_kv_quant_params three_bits = {3, 1, 1, 32}, odd_group = {4, 1, 8, 3};
    CHECK(llmbed_cuda_kv_quantize_keys(&three_bits, &x, &q, &s, &z, nullptr, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(llmbed_cuda_kv_quantize_values(&odd_group, &x, &q, &s, &z, nullptr, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("even for int4") != std::string::npos);
}
