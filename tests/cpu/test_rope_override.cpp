// llmbed_model_params.rope_scaling / --rope-scaling (issue 10 item 5): an
// override on a folder whose config has no scaling must give exactly the
// rows of the folder whose config.json carries that scaling (those folders
// are checked against transformers goldens by test_goldens.cpp), and must
// differ from no scaling at all (the check can fail).
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/golden_compare.hpp"

namespace {

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;
using CtxPtr = std::unique_ptr<llmbed_ctx, decltype(&llmbed_ctx_free)>;

const std::string kModels = LLMBED_TEST_DATA_DIR "/models/";

// A copy of models/<name> (weights linked) whose config.json has
// `rope_scaling` replaced by `scaling` (nullptr: no scaling at all).
std::string folder_with_scaling(const std::string &name, const char *scaling_json, const std::string &tag) {
    const std::string dir = llmbed_test::cli::scratch("rope", name + "-" + tag);
    REQUIRE(symlink((kModels + name + "/model.safetensors").c_str(), (dir + "/model.safetensors").c_str()) == 0);
    cJSON *config = cJSON_Parse(llmbed_test::cli::slurp(kModels + name + "/config.json").c_str());
    REQUIRE(config != nullptr);
    cJSON_DeleteItemFromObject(config, "rope_scaling");
    cJSON *parameters = cJSON_GetObjectItem(config, "rope_parameters");  // 5.x layout: keep only rope_theta
    if (parameters != nullptr) {
        cJSON_AddNumberToObject(config, "rope_theta", cJSON_GetObjectItem(parameters, "rope_theta")->valuedouble);
        cJSON_DeleteItemFromObject(config, "rope_parameters");
    }
    if (scaling_json != nullptr) cJSON_AddItemToObject(config, "rope_scaling", cJSON_Parse(scaling_json));
    char *text = cJSON_Print(config);
    llmbed_test::cli::write_file(dir + "/config.json", text);
    std::free(text);
    cJSON_Delete(config);
    return dir;
}

ModelPtr load(const std::string &path, const char *rope_scaling) {
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    mp.rope_scaling = rope_scaling;
    llmbed_model *m = nullptr;
    llmbed_error e{};
    const llmbed_status st = llmbed_model_load(path.c_str(), &mp, &m, &e);
    INFO(path << ": " << e.message);
    REQUIRE(st == LLMBED_OK);
    return ModelPtr(m, llmbed_model_free);
}

// Mean-pooled raw rows of two sequences, one longer than max_positions
// (dynamic NTK only acts there).
std::vector<float> embed(const llmbed_model *model) {
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    std::mt19937 rng(11);
    std::vector<std::vector<int32_t>> seqs;
    for (int n : {info.max_positions + 40, 37}) {
        std::vector<int32_t> s((size_t)n);
        for (auto &t : s) t = (int32_t)(rng() % (unsigned)info.vocab_size);
        seqs.push_back(s);
    }
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 2;
    cp.batch_tokens = 2048;
    llmbed_ctx *raw = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &raw, nullptr) == LLMBED_OK);
    CtxPtr ctx(raw, llmbed_ctx_free);
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = LLMBED_POOLING_MEAN;
    p.attention = LLMBED_ATTENTION_CAUSAL;
    p.normalize = 0;
    std::vector<float> out;
    bool guards_ok = false;
    REQUIRE(llmbed_test::embed_packed(ctx.get(), seqs, nullptr, p, info.hidden_size, out, guards_ok) == LLMBED_OK);
    REQUIRE(guards_ok);
    return out;
}

}  // namespace

TEST_CASE("rope scaling override equals the same scaling in config.json", "[rope][override]") {
    struct Case {
        const char *model, *override_spec, *config_json;
    };
    const std::vector<Case> cases = {
        {"llama-linear", "linear:2", nullptr},  // the committed folder carries the scaling
        {"llama3-rope", "llama3:8:64", nullptr},
        {"qwen2-tiny", "yarn:4:32", nullptr},
        {"llama-tiny", "dynamic:2", R"({"rope_type": "dynamic", "factor": 2.0})"},
        {"llama-tiny", "yarn:3", R"({"rope_type": "yarn", "factor": 3.0})"},
        {"llama-tiny", "llama3:4", R"({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0})"},
    };
    for (const Case &c : cases) {
        INFO(c.model << " " << c.override_spec);
        const std::string with_config = c.config_json == nullptr ? kModels + c.model
                                                                 : folder_with_scaling(c.model, c.config_json, "cfg");
        const std::string plain = folder_with_scaling(c.model, nullptr, "plain");
        const std::vector<float> want = embed(load(with_config, nullptr).get());
        const std::vector<float> got = embed(load(plain, c.override_spec).get());
        CHECK(got == want);
        const std::vector<float> unscaled = embed(load(plain, nullptr).get());
        CHECK(llmbed_test::max_abs_diff(unscaled, want) > 1e-4);
        // "none" drops the config's scaling
        CHECK(embed(load(with_config, "none").get()) == unscaled);
    }
}

TEST_CASE("bad rope scaling overrides name the flag", "[rope][override][errors]") {
    for (const char *spec : {"", "linear", "linear:", "linear:0", "linear:-2", "linear:nan", "linear:2x", "cubic:2",
                             "linear:2:64", "yarn:2:0", "yarn:2:100000", "llama3:4:64:1"}) {
        INFO("spec '" << spec << "'");
        llmbed_model_params mp;
        llmbed_model_params_default(&mp);
        mp.rope_scaling = spec;
        llmbed_model *m = nullptr;
        llmbed_error e{};
        CHECK(llmbed_model_load((kModels + "llama-tiny").c_str(), &mp, &m, &e) == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK(m == nullptr);
        CHECK(std::string(e.message).find("--rope-scaling") != std::string::npos);
    }
    const std::string dir = llmbed_test::cli::scratch("rope", "cli");
    llmbed_test::cli::Result r = llmbed_test::cli::run(
        {"embed", "--model", kModels + "llama-tiny", "--rope-scaling", "linear:0", "--input", "/dev/null", "--output",
         dir + "/out.npy"},
        dir);
    CHECK(r.status == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(r.err.find("rope scaling 'linear:0' (--rope-scaling)") != std::string::npos);
}
