// RoPE op against a double-precision rotate_half reference, and the inverse
// frequencies of every rope scaling type against transformers 5.23.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cpu/cpu_ops.h"
#include "model/rope_frequencies.h"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

namespace {

llmbed_config rope_config(int head_dim, int max_positions, llmbed_rope_scaling rs) {
    llmbed_config c{};
    c.head_dim = head_dim;
    c.max_positions = max_positions;
    c.rope_theta = 10000.0f;
    c.rope_scaling = rs;
    return c;
}

llmbed_rope_scaling scaling(llmbed_rope_type type, float factor, int original) {
    llmbed_rope_scaling rs{};
    rs.type = type;
    rs.factor = factor;
    rs.original_max_positions = original;
    rs.low_freq_factor = 1.0f;
    rs.high_freq_factor = 4.0f;
    rs.truncate = true;
    return rs;
}

void check_inv_freq(const llmbed_config &c, int seq_len, const std::vector<float> &want, double want_scaling) {
    std::vector<float> got(c.head_dim / 2);
    float att = 0.0f;
    llmbed_error err{};
    REQUIRE(llmbed_rope_frequencies(&c, seq_len, got.data(), &att, &err) == LLMBED_OK);
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); i++) worst = std::fmax(worst, std::fabs(got[i] - want[i]) / want[i]);
    std::printf("rope inv_freq type %d: max relative error %.3g (tolerance 2e-6)\n", (int)c.rope_scaling.type, worst);
    CHECK(worst <= 2e-6); // HF computes in fp32, we in double then round: a few fp32 ulps
    CHECK(std::fabs(att - want_scaling) <= 1e-6);
}

} // namespace

// Reference numbers printed once by transformers 5.23
// (modeling_rope_utils.ROPE_INIT_FUNCTIONS[type](LlamaConfig(...), None[, seq_len])),
// rope_theta 10000; head_dim 16, max_position_embeddings 64 unless stated.
TEST_CASE("rope inv_freq matches transformers for every scaling type", "[ops][rope]") {
    SECTION("default") {
        check_inv_freq(rope_config(16, 64, scaling(LLMBED_ROPE_NONE, 1.0f, 0)), 10,
                       {1, 0.316227764f, 0.100000001f, 0.0316227786f, 0.00999999978f, 0.00316227786f,
                        0.00100000005f, 0.000316227786f},
                       1.0);
    }
    SECTION("linear, factor 4") {
        check_inv_freq(rope_config(16, 64, scaling(LLMBED_ROPE_LINEAR, 4.0f, 0)), 10,
                       {0.25f, 0.079056941f, 0.0250000004f, 0.00790569466f, 0.00249999994f, 0.000790569466f,
                        0.000250000012f, 7.90569466e-05f},
                       1.0);
    }
    SECTION("dynamic NTK, factor 2: seq_len 100 > 64 grows the base, 50 keeps it") {
        const auto c = rope_config(16, 64, scaling(LLMBED_ROPE_DYNAMIC, 2.0f, 0));
        check_inv_freq(c, 100,
                       {1, 0.283945143f, 0.0806248412f, 0.0228930302f, 0.00650036521f, 0.001845747f,
                        0.000524090894f, 0.000148813066f},
                       1.0);
        check_inv_freq(c, 50,
                       {1, 0.316227764f, 0.100000001f, 0.0316227786f, 0.00999999978f, 0.00316227786f,
                        0.00100000005f, 0.000316227786f},
                       1.0);
    }
    // YaRN: head_dim 32, max_position_embeddings 1024, original 256 (the ramp spans dims 0..7).
    SECTION("yarn, factor 4, derived attention factor") {
        check_inv_freq(rope_config(32, 1024, scaling(LLMBED_ROPE_YARN, 4.0f, 256)), 10,
                       {1, 0.502090454f, 0.248464689f, 0.120668955f, 0.0571428537f, 0.0261087008f,
                        0.011293849f, 0.00444569858f, 0.00249999994f, 0.00140585331f, 0.000790569466f,
                        0.000444569858f, 0.000250000012f, 0.000140585325f, 7.90569466e-05f, 4.44569851e-05f},
                       1.1386294361119891);
    }
    SECTION("yarn, explicit attention_factor 0.75, beta_fast 16, beta_slow 2") {
        auto rs = scaling(LLMBED_ROPE_YARN, 4.0f, 256);
        rs.attention_factor = 0.75f;
        rs.beta_fast = 16.0f;
        rs.beta_slow = 2.0f;
        check_inv_freq(rope_config(32, 1024, rs), 10,
                       {1, 0.562341332f, 0.268793613f, 0.124479562f, 0.0549999997f, 0.0224936493f,
                        0.00790569466f, 0.00444569858f, 0.00249999994f, 0.00140585331f, 0.000790569466f,
                        0.000444569858f, 0.000250000012f, 0.000140585325f, 7.90569466e-05f, 4.44569851e-05f},
                       0.75);
    }
    SECTION("yarn, mscale 0.707 / mscale_all_dim 1, truncate false") {
        auto rs = scaling(LLMBED_ROPE_YARN, 4.0f, 256);
        rs.mscale = 0.707f;
        rs.mscale_all_dim = 1.0f;
        rs.truncate = false;
        check_inv_freq(rope_config(32, 1024, rs), 10,
                       {1, 0.521685898f, 0.253972292f, 0.120666698f, 0.0553986356f, 0.0241477266f,
                        0.00963994302f, 0.00444569858f, 0.00249999994f, 0.00140585331f, 0.000790569466f,
                        0.000444569858f, 0.000250000012f, 0.000140585325f, 7.90569466e-05f, 4.44569851e-05f},
                       0.96432691489207401);
    }
    SECTION("llama3, factor 8, low 1, high 4, original 64 (max_position_embeddings 128)") {
        check_inv_freq(rope_config(16, 128, scaling(LLMBED_ROPE_LLAMA3, 8.0f, 64)), 10,
                       {1, 0.244384587f, 0.0130422562f, 0.00395284733f, 0.00124999997f, 0.000395284733f,
                        0.000125000006f, 3.95284733e-05f},
                       1.0);
    }
}

TEST_CASE("rope inv_freq rejects a non-positive factor and an unknown type", "[ops][rope]") {
    llmbed_error err{};
    float inv[8], att;
    auto c = rope_config(16, 64, scaling(LLMBED_ROPE_LINEAR, 0.0f, 0));
    CHECK(llmbed_rope_frequencies(&c, 4, inv, &att, &err) == LLMBED_ERR_BAD_CONFIG);
    CHECK(std::string(err.message).find("rope_scaling.factor") != std::string::npos);
    c = rope_config(16, 64, scaling((llmbed_rope_type)99, 1.0f, 0));
    CHECK(llmbed_rope_frequencies(&c, 4, inv, &att, &err) == LLMBED_ERR_UNKNOWN_ROPE);
}

TEST_CASE("rope rotates rotate_half pairs per sequence position", "[ops][rope]") {
    std::mt19937 rng(7);
    for (int head_dim : {2, 14, 128}) {
        for (int n_heads : {1, 3}) {
          for (bool shifted : {false, true}) { // shifted: sequences continue a cached prefix
            const std::vector<int> lengths = {1, 7, 129, 2};
            const std::vector<int32_t> first_position = {40, 0, 300, 7};
            const auto off = offsets_of(lengths);
            const int T = off.back(), half = head_dim / 2, n_seqs = (int)lengths.size();
            const int stride = n_heads * head_dim + 5; // extra columns must stay untouched
            auto inv = random_floats((size_t)n_seqs * half, rng, 0.0f, 1.0f);
            auto x0 = random_floats((size_t)T * stride, rng);
            GuardedBuffer x(x0.size());
            std::copy(x0.begin(), x0.end(), x.data());
            const float scale = 1.25f;
            llmbed_rope_params p{n_seqs, off.data(), n_heads, head_dim, stride,
                                 inv.data(), scale, shifted ? first_position.data() : nullptr};
            llmbed_cpu_rope(&p, x.data());

            std::vector<double> want(x0.begin(), x0.end());
            for (int s = 0; s < n_seqs; s++)
                for (int t = off[s]; t < off[s + 1]; t++)
                    for (int h = 0; h < n_heads; h++)
                        for (int i = 0; i < half; i++) {
                            const double pos = (shifted ? first_position[(size_t)s] : 0) + (t - off[s]);
                            const double a = pos * inv[(size_t)s * half + i];
                            const size_t b = (size_t)t * stride + (size_t)h * head_dim;
                            const double x1 = x0[b + i], x2 = x0[b + i + half];
                            want[b + i] = x1 * std::cos(a) * scale - x2 * std::sin(a) * scale;
                            want[b + i + half] = x2 * std::cos(a) * scale + x1 * std::sin(a) * scale;
                        }
            const double err = max_abs_diff(x.data(), want);
            INFO("head_dim " << head_dim << " heads " << n_heads << " shifted " << shifted << " max |d| " << err);
            CHECK(err <= 1e-5); // |x| <= 1, position <= 428, fp32 cos/sin of a double angle: a few ulps
            CHECK(x.guards_intact());
          }
        }
    }
}
