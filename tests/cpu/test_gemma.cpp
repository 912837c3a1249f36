// Gemma 3 on the CPU reference: tiny random models against float64
// transformers goldens (tests/gen_gemma_goldens.py, cross-checked there
// against an independent numpy forward), config.json / GGUF parsing of every
// Gemma 3 field, and the window masks of the attention op against a direct
// O(n^2) computation. Tolerances: the golden ones (cosine >= 0.99999, max
// |diff| <= 1e-4, support/golden_compare.hpp).
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "container/gguf.h"
#include "cpu/cpu_ops.h"
#include "model/config_parse.h"
#include "support/golden_runner.hpp"

using namespace llmbed_test;

namespace {

llmbed_config parse_ok(const std::string &json) {
    llmbed_config c{};
    llmbed_error error{};
    const llmbed_status st = llmbed_config_parse_json(json.data(), json.size(), "g/config.json", &c, &error);
    INFO(json << "\n" << error.message);
    REQUIRE(st == LLMBED_OK);
    return c;
}

std::string parse_fails(const std::string &json, llmbed_status want) {
    llmbed_config c{};
    llmbed_error error{};
    CHECK(llmbed_config_parse_json(json.data(), json.size(), "g/config.json", &c, &error) == want);
    CHECK_THAT(error.message, Catch::Contains("g/config.json"));
    return error.message;
}

const std::string GEMMA = "\"model_type\": \"gemma3_text\", \"hidden_size\": 640, \"num_hidden_layers\": 8, "
                          "\"num_attention_heads\": 4, \"num_key_value_heads\": 1, \"intermediate_size\": 2048";

std::vector<int> sliding_layers(const llmbed_config &c) {
    std::vector<int> layers;
    for (int l = 0; l < c.n_layers; l++)
        if (llmbed_config_layer_sliding(&c, l)) layers.push_back(l);
    return layers;
}

} // namespace

TEST_CASE("gemma3 goldens: causal and bidirectional, sliding and full layers", "[gemma][goldens]") {
    run_model_goldens("gemma3-tiny");
}

TEST_CASE("gemma3 goldens: GGUF with K-quants, norms stored as 1 + w, pattern-6 layers", "[gemma][goldens][gguf]") {
    run_model_goldens("gemma3-gguf");
}

TEST_CASE("gemma3 config: Gemma3TextConfig defaults", "[gemma][config]") {
    const llmbed_config c = parse_ok("{" + GEMMA + "}");
    CHECK(c.arch == LLMBED_ARCH_GEMMA3);
    CHECK(c.head_dim == 256); // Gemma3TextConfig default, not hidden / heads
    CHECK(c.vocab_size == 262208);
    CHECK(c.max_positions == 131072);
    CHECK(c.tie_word_embeddings);
    CHECK(c.qk_norm);
    CHECK(c.sandwich_norms);
    CHECK(c.mlp_activation == LLMBED_GATE_GELU_TANH);
    CHECK(c.scale_emb == (float)std::sqrt(640.0));
    CHECK(c.query_pre_attn_scalar == 256.0f);
    CHECK(llmbed_config_attention_scale(&c) == 1.0 / 16.0);
    CHECK(c.sliding_window == 4096);
    CHECK(c.rope_theta == 1000000.0f);
    CHECK(c.rope_local_theta == 10000.0f);
    CHECK(c.rope_scaling.type == LLMBED_ROPE_NONE);
    CHECK_FALSE(c.bidirectional);
    CHECK(sliding_layers(c) == std::vector<int>{0, 1, 2, 3, 4, 6, 7}); // pattern 6: layer 5 is full
}

TEST_CASE("gemma3 config: 4.x keys (rope_local_base_freq, rope_scaling, sliding_window_pattern)", "[gemma][config]") {
    const llmbed_config c = parse_ok("{" + GEMMA +
                                     ", \"rope_theta\": 500000.0, \"rope_local_base_freq\": 20000.0, "
                                     "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}, "
                                     "\"sliding_window_pattern\": 4, \"sliding_window\": 512, "
                                     "\"use_bidirectional_attention\": true, \"query_pre_attn_scalar\": 168}");
    CHECK(c.rope_theta == 500000.0f);
    CHECK(c.rope_local_theta == 20000.0f);
    CHECK(c.rope_scaling.type == LLMBED_ROPE_LINEAR); // the full layers' scaling
    CHECK(c.rope_scaling.factor == 8.0f);
    CHECK(c.sliding_window == 512); // the file's value; the decoder applies the bidirectional bound
    CHECK(c.bidirectional);
    CHECK(c.query_pre_attn_scalar == 168.0f);
    CHECK(sliding_layers(c) == std::vector<int>{0, 1, 2, 4, 5, 6});
}

TEST_CASE("gemma3 config: 5.x rope_parameters per layer type and layer_types", "[gemma][config]") {
    const llmbed_config c = parse_ok(
        "{" + GEMMA +
        ", \"layer_types\": [\"full_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\", "
        "\"full_attention\", \"full_attention\", \"sliding_attention\", \"full_attention\"], \"rope_parameters\": "
        "{\"full_attention\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 1000000.0}, "
        "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 100.0}}, \"sliding_window\": null}");
    CHECK(c.rope_theta == 1000000.0f);
    CHECK(c.rope_scaling.type == LLMBED_ROPE_LINEAR);
    CHECK(c.rope_local_theta == 100.0f);
    CHECK(c.sliding_window == 0); // null: no window (every layer attends to all)
    const llmbed_config w = parse_ok("{" + GEMMA + ", \"sliding_window\": 64, \"layer_types\": [\"full_attention\", "
                                     "\"sliding_attention\", \"full_attention\", \"sliding_attention\", "
                                     "\"full_attention\", \"full_attention\", \"sliding_attention\", "
                                     "\"full_attention\"]}");
    CHECK(sliding_layers(w) == std::vector<int>{1, 3, 6});
}

TEST_CASE("gemma3 config: bad fields name themselves", "[gemma][config][bad-input]") {
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"hidden_activation\": \"relu\"}", LLMBED_ERR_UNSUPPORTED),
               Catch::Contains("hidden_activation") && Catch::Contains("relu"));
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"layer_types\": [\"full_attention\"]}", LLMBED_ERR_BAD_CONFIG),
               Catch::Contains("layer_types") && Catch::Contains("8"));
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"layer_types\": [\"full_attention\", \"chunked_attention\", "
                           "\"full_attention\", \"full_attention\", \"full_attention\", \"full_attention\", "
                           "\"full_attention\", \"full_attention\"]}",
                           LLMBED_ERR_BAD_CONFIG),
               Catch::Contains("layer_types[1]"));
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"sliding_window_pattern\": 0}", LLMBED_ERR_BAD_CONFIG),
               Catch::Contains("sliding_window_pattern"));
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"rope_parameters\": {\"sliding_attention\": {\"rope_type\": \"yarn\", "
                           "\"factor\": 2.0}}}",
                           LLMBED_ERR_UNSUPPORTED),
               Catch::Contains("sliding_attention.rope_type"));
    CHECK_THAT(parse_fails("{" + GEMMA + ", \"rope_local_base_freq\": -1}", LLMBED_ERR_BAD_CONFIG),
               Catch::Contains("rope_local_base_freq"));
}

TEST_CASE("gemma3 GGUF config: llama.cpp's keys and conventions", "[gemma][config][gguf]") {
    llmbed_gguf *g = nullptr;
    llmbed_error error{};
    const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/gemma3-gguf.gguf";
    REQUIRE(llmbed_gguf_open(path.c_str(), &g, &error) == LLMBED_OK);
    llmbed_config c{};
    const llmbed_status st = llmbed_config_from_gguf(g, false, &c, &error);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);
    CHECK(c.arch == LLMBED_ARCH_GEMMA3);
    CHECK(c.head_dim == 32);
    CHECK(c.query_pre_attn_scalar == 32.0f); // llama.cpp: 1/sqrt(key_length)
    CHECK(c.sliding_window == 5);
    CHECK(c.rope_local_theta == 10000.0f);
    CHECK(c.scale_emb == (float)std::sqrt(64.0));
    CHECK(sliding_layers(c) == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(llmbed_config_validate(&c, path.c_str(), &error) == LLMBED_OK);
    llmbed_gguf_close(g);
}

// The attention op's window rule (op_params.h) against a direct softmax over
// the allowed keys, with a cache in front: |pos(i) - pos(j)| < window, causal
// or not. fp32 reference vs fp32 op: 1e-5.
TEST_CASE("gemma3 attention window: causal and bidirectional masks, with and without a cache", "[gemma][ops]") {
    const int H = 2, KV = 1, D = 8;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int causal : {1, 0}) {
        for (int window : {1, 3, 6, 40}) {
            for (int cached : causal ? std::vector<int>{0, 5} : std::vector<int>{0}) {
                const int n = 11, total = cached + n;
                std::vector<float> q((size_t)n * H * D), k((size_t)total * KV * D), v((size_t)total * KV * D);
                for (float &x : q) x = normal(rng);
                for (float &x : k) x = normal(rng);
                for (float &x : v) x = normal(rng);
                // cache: positions [0, cached) as a full-key view; own keys after
                std::vector<float> k_full(k.begin(), k.begin() + (ptrdiff_t)cached * D),
                    v_cache(v.begin(), v.begin() + (ptrdiff_t)cached * D);
                int32_t starts[2] = {0, cached};
                llmbed_kv_cache_view view{};
                view.length = cached;
                view.chunk_starts = starts;
                view.n_chunks = cached > 0 ? 1 : 0;
                view.chunk_capacity = 1;
                view.k_full = k_full.data();
                view.v = v_cache.data();
                view.capacity = view.full_capacity = cached;
                const int32_t offsets[2] = {0, n}, cache_lens[1] = {cached};
                const float scale = 0.4f;
                llmbed_attention_params p = {1, offsets, H, KV, D, causal, scale,
                                             cached ? cache_lens : nullptr, cached ? &view : nullptr, window};
                std::vector<float> out((size_t)n * H * D, NAN);
                std::vector<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
                llmbed_cpu_attention(&p, q.data(), k.data() + (size_t)cached * D, v.data() + (size_t)cached * D,
                                     out.data(), scratch.data());
                double worst = 0;
                for (int i = 0; i < n; i++) {
                    const int qi = cached + i;
                    for (int h = 0; h < H; h++) {
                        std::vector<double> w((size_t)total, 0.0);
                        double mx = -INFINITY, sum = 0;
                        for (int j = 0; j < total; j++) {
                            const bool ok = (!causal || j <= qi) && std::abs(qi - j) < window;
                            if (!ok) continue;
                            double s = 0;
                            for (int d = 0; d < D; d++) s += (double)q[((size_t)i * H + h) * D + d] * k[(size_t)j * D + d];
                            w[(size_t)j] = s * scale;
                            mx = std::max(mx, w[(size_t)j]);
                        }
                        for (int j = 0; j < total; j++) {
                            const bool ok = (!causal || j <= qi) && std::abs(qi - j) < window;
                            w[(size_t)j] = ok ? std::exp(w[(size_t)j] - mx) : 0.0;
                            sum += w[(size_t)j];
                        }
                        for (int d = 0; d < D; d++) {
                            double o = 0;
                            for (int j = 0; j < total; j++) o += w[(size_t)j] / sum * v[(size_t)j * D + d];
                            worst = std::max(worst, std::fabs(o - out[((size_t)i * H + h) * D + d]));
                        }
                    }
                }
                INFO("causal " << causal << " window " << window << " cached " << cached);
                CHECK(worst <= 1e-5);
            }
        }
    }
}
