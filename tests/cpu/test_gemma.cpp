// Gemma 3 on the CPU reference: tiny random models against float64
// transformers goldens (tests/gen_gemma_goldens.py, cross-checked there
// against an independent numpy forward), config.json / GGUF parsing of every
// Gemma 3 field, and the window masks of the attention op against a direct
// O(n^2) computation. Tolerances: the golden ones (cosine >= 0.99999, max
// |diff| <= 1e-4, support/golden_compare.hpp).
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "container/gguf.h"
#include "cpu/cpu_ops.h"
#include "model/config_parse.h"
#include "support/golden_runner.hpp"
#include "support/tiny_model_writer.hpp"

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

namespace {

struct StFolder {
    llmbed_model *model = nullptr;
    llmbed_ctx *ctx = nullptr;
    GoldenManifest manifest;
    NpyArray st_rows;
    StFolder() {
        manifest = read_manifest(LLMBED_TEST_DATA_DIR, "embeddinggemma-tiny");
        INFO(manifest.error);
        REQUIRE(manifest.ok);
        st_rows = read_npy(manifest.dir + "/sentence_transformers.npy");
        INFO(st_rows.error);
        REQUIRE(st_rows.ok);
        llmbed_error error{};
        const llmbed_status st = llmbed_model_load(manifest.model_path.c_str(), nullptr, &model, &error);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        llmbed_ctx_params cp;
        llmbed_ctx_params_default(&cp);
        REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &error) == LLMBED_OK);
    }
    ~StFolder() {
        llmbed_ctx_free(ctx);
        llmbed_model_free(model);
    }
};

} // namespace

TEST_CASE("embeddinggemma folder: detected defaults, prompts and the Dense width", "[gemma][embeddinggemma]") {
    StFolder f;
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(f.model, &info) == LLMBED_OK);
    CHECK(info.default_attention == LLMBED_ATTENTION_BIDIRECTIONAL); // use_bidirectional_attention
    CHECK(info.default_pooling == LLMBED_POOLING_MEAN);             // 1_Pooling mean_tokens
    CHECK(info.default_normalize == 1);                             // 4_Normalize
    CHECK(std::string(info.family) == "embeddinggemma");
    CHECK_THAT(info.family_reason, Catch::Contains("use_bidirectional_attention"));
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    CHECK(llmbed_embed_dims(f.model, &p) == 56); // 2_Dense 40 -> 96, 3_Dense 96 -> 56
    p.pooling = LLMBED_POOLING_NONE;
    CHECK(llmbed_embed_dims(f.model, &p) == 40); // hidden states: no Dense
    char prompt[128];
    size_t n = 0;
    REQUIRE(llmbed_model_prompt(f.model, "query", prompt, sizeof prompt, &n, nullptr) == LLMBED_OK);
    CHECK(std::string(prompt) == "task: search result | query: ");
    llmbed_embed_params wide;
    llmbed_embed_params_default(&wide);
    wide.dims = 57;
    std::vector<float> out(64);
    const int32_t ids[] = {5, 6};
    const int64_t offsets[] = {0, 2};
    llmbed_batch batch{ids, offsets, 1, nullptr};
    CHECK(llmbed_embed(f.ctx, &batch, &wide, out.data(), out.size()) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK_THAT(llmbed_last_error(f.ctx), Catch::Contains("dims 57") && Catch::Contains("Dense"));
}

TEST_CASE("embeddinggemma folder: hidden states and sentence-transformers rows equal the goldens",
          "[gemma][embeddinggemma][goldens]") {
    StFolder f;
    const GoldenManifest &m = f.manifest;
    Agreement hidden_worst, st_worst;
    for (size_t s = 0; s < m.sequences.size(); s++) {
        const std::vector<int32_t> &ids = m.sequences[s];
        const int64_t offsets[] = {0, (int64_t)ids.size()};
        llmbed_batch batch{ids.data(), offsets, 1, nullptr};
        /* the model's own defaults: bidirectional, mean, Dense, Dense, Normalize */
        llmbed_embed_params p;
        llmbed_embed_params_default(&p);
        std::vector<float> row(56 + 1, -9.0f);
        REQUIRE(llmbed_embed(f.ctx, &batch, &p, row.data(), 56) == LLMBED_OK);
        CHECK(row[56] == -9.0f);
        const std::vector<double> want(f.st_rows.values.begin() + (ptrdiff_t)(s * 56),
                                       f.st_rows.values.begin() + (ptrdiff_t)((s + 1) * 56));
        const Agreement a = compare_rows(row.data(), want, 56);
        INFO("n " << ids.size() << ": cosine " << a.min_cosine << " max|diff| " << a.max_abs);
        CHECK(a.within_golden_tolerance());
        st_worst.merge(a);
        /* Matryoshka after the Dense modules: the first 24 values, re-normalised */
        p.dims = 24;
        std::vector<float> cut(24);
        REQUIRE(llmbed_embed(f.ctx, &batch, &p, cut.data(), cut.size()) == LLMBED_OK);
        double norm = 0;
        for (int i = 0; i < 24; i++) norm += want[(size_t)i] * want[(size_t)i];
        std::vector<double> want_cut(want.begin(), want.begin() + 24);
        for (double &v : want_cut) v /= std::sqrt(norm);
        CHECK(compare_rows(cut.data(), want_cut, 24).within_golden_tolerance());
        /* hidden states: the decoder alone */
        for (const GoldenCase &c : m.cases) {
            if (c.sequence != (int)s || c.pooling != "none") continue;
            std::string error;
            const std::vector<double> hidden = m.expected(c, error);
            REQUIRE(error.empty());
            llmbed_embed_params h;
            llmbed_embed_params_default(&h);
            h.pooling = LLMBED_POOLING_NONE;
            std::vector<float> got(hidden.size());
            REQUIRE(llmbed_embed(f.ctx, &batch, &h, got.data(), got.size()) == LLMBED_OK);
            const Agreement ha = compare_rows(got.data(), hidden, 40);
            CHECK(ha.within_golden_tolerance());
            hidden_worst.merge(ha);
        }
    }
    std::printf("goldens embeddinggemma-tiny: hidden states 1-cosine %.2e max|diff| %.2e; sentence-transformers rows "
                "(mean, Dense, Dense, Normalize) 1-cosine %.2e max|diff| %.2e\n",
                1.0 - hidden_worst.min_cosine, hidden_worst.max_abs, 1.0 - st_worst.min_cosine, st_worst.max_abs);
}

TEST_CASE("sentence-transformers Dense: bad modules name their file", "[gemma][embeddinggemma][bad-input]") {
    TempDir dir;
    const std::string src = std::string(LLMBED_TEST_DATA_DIR) + "/models/embeddinggemma-tiny";
    const std::string folder = dir.path + "/eg";
    REQUIRE(std::system(("cp -r '" + src + "' '" + folder + "'").c_str()) == 0);
    const auto load = [&](llmbed_status want, const char *needle) {
        llmbed_model *model = nullptr;
        llmbed_error error{};
        CHECK(llmbed_model_load(folder.c_str(), nullptr, &model, &error) == want);
        CHECK_THAT(error.message, Catch::Contains(needle));
        llmbed_model_free(model);
    };
    const std::string cfg = folder + "/3_Dense/config.json";
    write_file(cfg, "{\"in_features\": 95, \"out_features\": 56, \"bias\": false, "
                    "\"activation_function\": \"torch.nn.modules.linear.Identity\"}");
    load(LLMBED_ERR_BAD_CONFIG, "in_features 95");
    write_file(cfg, "{\"in_features\": 96, \"out_features\": 56, \"bias\": false, "
                    "\"activation_function\": \"torch.nn.modules.activation.GELU\"}");
    load(LLMBED_ERR_UNSUPPORTED, "GELU");
    write_file(cfg, "{\"in_features\": 96, \"out_features\": 56, \"bias\": true, "
                    "\"activation_function\": \"torch.nn.modules.linear.Identity\"}");
    load(LLMBED_ERR_MISSING_TENSOR, "linear.bias");
    write_file(cfg, "{\"in_features\": 96, \"out_features\": 57, \"bias\": false}");
    load(LLMBED_ERR_TENSOR_SHAPE, "linear.weight");
    REQUIRE(std::rename((folder + "/3_Dense/model.safetensors").c_str(), (folder + "/3_Dense/pytorch_model.bin").c_str()) == 0);
    load(LLMBED_ERR_UNSUPPORTED, "pytorch_model.bin");
}
