// config.json parsing: Hugging Face defaults per model_type, both RoPE
// spellings (transformers 4.x rope_theta + rope_scaling, 5.x rope_parameters),
// MiniCPM scales, and each bad config with its status and the field named.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "model/config_parse.h"
#include "support/tiny_model_writer.hpp"

using namespace llmbed_test;

namespace {

const std::string BASE = "\"hidden_size\": 64, \"num_hidden_layers\": 4, \"num_attention_heads\": 8, "
                         "\"intermediate_size\": 96";

llmbed_status parse(const std::string &json, llmbed_config *c, std::string *message = nullptr) {
    llmbed_error error{};
    const llmbed_status st = llmbed_config_parse_json(json.data(), json.size(), "dir/config.json", c, &error);
    if (message) *message = error.message;
    if (st != LLMBED_OK) CHECK_THAT(error.message, Catch::Contains("dir/config.json"));
    return st;
}

llmbed_config ok(const std::string &json) {
    llmbed_config c{};
    std::string message;
    const llmbed_status st = parse(json, &c, &message);
    INFO(json << "\n" << message);
    REQUIRE(st == LLMBED_OK);
    return c;
}

} // namespace

TEST_CASE("loader config: llama defaults as LlamaConfig", "[loader][config]") {
    const llmbed_config c = ok("{\"model_type\": \"llama\", " + BASE + "}");
    CHECK(c.arch == LLMBED_ARCH_LLAMA);
    CHECK(c.n_layers == 4);
    CHECK(c.hidden_size == 64);
    CHECK(c.n_heads == 8);
    CHECK(c.n_kv_heads == 8);  // num_key_value_heads None -> heads
    CHECK(c.head_dim == 8);    // hidden / heads
    CHECK(c.intermediate_size == 96);
    CHECK(c.vocab_size == 32000);
    CHECK(c.max_positions == 2048);
    CHECK(c.rms_norm_eps == 1e-6f);
    CHECK(c.rope_theta == 10000.0f);
    CHECK(c.rope_scaling.type == LLMBED_ROPE_NONE);
    CHECK_FALSE(c.tie_word_embeddings);
    CHECK_FALSE(c.qkv_bias);
    CHECK_FALSE(c.qk_norm);
    CHECK(c.scale_emb == 1.0f);
    CHECK(c.residual_scale == 1.0f);
    const llmbed_config b = ok("{\"model_type\": \"llama\", \"attention_bias\": true, \"head_dim\": null, " + BASE + "}");
    CHECK(b.qkv_bias);
    CHECK(b.head_dim == 8);
}

TEST_CASE("loader config: qwen2 bias, qwen3 q/k norm and head_dim 128, mistral", "[loader][config]") {
    const llmbed_config q2 = ok("{\"model_type\": \"qwen2\", \"num_key_value_heads\": 2, " + BASE + "}");
    CHECK(q2.arch == LLMBED_ARCH_QWEN2);
    CHECK(q2.qkv_bias);
    CHECK(q2.n_kv_heads == 2);
    CHECK(q2.max_positions == 32768);
    CHECK(q2.vocab_size == 151936);
    const llmbed_config q3 = ok("{\"model_type\": \"qwen3\", \"tie_word_embeddings\": true, " + BASE + "}");
    CHECK(q3.arch == LLMBED_ARCH_QWEN3);
    CHECK(q3.qk_norm);
    CHECK_FALSE(q3.qkv_bias);
    CHECK(q3.head_dim == 128); // Qwen3Config's default, not hidden / heads
    CHECK(q3.tie_word_embeddings);
    const llmbed_config m = ok("{\"model_type\": \"mistral\", \"rms_norm_eps\": 1e-5, \"rope_theta\": 1000000.0, " + BASE + "}");
    CHECK(m.arch == LLMBED_ARCH_MISTRAL);
    CHECK(m.max_positions == 131072);
    CHECK(m.rms_norm_eps == 1e-5f);
    CHECK(m.rope_theta == 1000000.0f);
}

TEST_CASE("loader config: MiniCPM scales", "[loader][config]") {
    const llmbed_config c =
        ok("{\"model_type\": \"minicpm\", \"scale_emb\": 12, \"scale_depth\": 1.4, \"dim_model_base\": 256, "
           "\"rope_scaling\": null, " + BASE + "}");
    CHECK(c.arch == LLMBED_ARCH_MINICPM);
    CHECK(c.scale_emb == 12.0f);
    CHECK(c.dim_model_base == 256.0f);
    CHECK(c.residual_scale == Approx(1.4 / 2.0).epsilon(1e-6)); // scale_depth / sqrt(4 layers)
    CHECK(c.tie_word_embeddings); // MiniCPMConfig default
    const llmbed_config d = ok("{\"model_type\": \"minicpm\", " + BASE + "}");
    CHECK(d.scale_emb == 1.0f);
    CHECK(d.residual_scale == 0.5f); // scale_depth 1 / sqrt(4)
}

TEST_CASE("loader config: rope in transformers 4.x and 5.x spellings", "[loader][config]") {
    // 4.x, legacy "type" key
    llmbed_config c = ok("{\"model_type\": \"llama\", \"rope_theta\": 20000.0, "
                         "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, " + BASE + "}");
    CHECK(c.rope_scaling.type == LLMBED_ROPE_LINEAR);
    CHECK(c.rope_scaling.factor == 2.0f);
    CHECK(c.rope_theta == 20000.0f);
    // 5.x yarn: defaults beta_fast 32, beta_slow 1, truncate true, attention_factor derived (0)
    c = ok("{\"model_type\": \"qwen2\", \"max_position_embeddings\": 128, \"rope_parameters\": {\"rope_type\": "
           "\"yarn\", \"rope_theta\": 100000.0, \"factor\": 4.0, \"original_max_position_embeddings\": 32}, " + BASE + "}");
    CHECK(c.rope_scaling.type == LLMBED_ROPE_YARN);
    CHECK(c.rope_theta == 100000.0f);
    CHECK(c.rope_scaling.factor == 4.0f);
    CHECK(c.rope_scaling.original_max_positions == 32);
    CHECK(c.rope_scaling.beta_fast == 32.0f);
    CHECK(c.rope_scaling.beta_slow == 1.0f);
    CHECK(c.rope_scaling.truncate);
    CHECK(c.rope_scaling.attention_factor == 0.0f);
    // yarn without factor: max_position_embeddings / original (DeepSeek style); truncate false honoured
    c = ok("{\"model_type\": \"qwen2\", \"max_position_embeddings\": 256, \"rope_scaling\": {\"rope_type\": \"yarn\", "
           "\"original_max_position_embeddings\": 64, \"truncate\": false, \"beta_fast\": 16}, " + BASE + "}");
    CHECK(c.rope_scaling.factor == 4.0f);
    CHECK_FALSE(c.rope_scaling.truncate);
    CHECK(c.rope_scaling.beta_fast == 16.0f);
    // llama3 with a top-level original_max_position_embeddings (it wins)
    c = ok("{\"model_type\": \"llama\", \"max_position_embeddings\": 512, \"original_max_position_embeddings\": 48, "
           "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
           "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}, " + BASE + "}");
    CHECK(c.rope_scaling.type == LLMBED_ROPE_LLAMA3);
    CHECK(c.rope_scaling.original_max_positions == 48);
    CHECK(c.rope_scaling.low_freq_factor == 1.0f);
    CHECK(c.rope_scaling.high_freq_factor == 4.0f);
    // llama3 without any original: max_position_embeddings
    c = ok("{\"model_type\": \"llama\", \"max_position_embeddings\": 512, \"rope_parameters\": {\"rope_type\": "
           "\"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}, " + BASE + "}");
    CHECK(c.rope_scaling.original_max_positions == 512);
    c = ok("{\"model_type\": \"qwen3\", \"rope_parameters\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}, " + BASE + "}");
    CHECK(c.rope_scaling.type == LLMBED_ROPE_DYNAMIC);
    c = ok("{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}, " + BASE + "}");
    CHECK(c.rope_scaling.type == LLMBED_ROPE_NONE);
    CHECK(c.rope_theta == 500000.0f);
    CHECK(std::string(llmbed_rope_type_name(LLMBED_ROPE_LLAMA3)) == "llama3");
    CHECK(std::string(llmbed_arch_name(LLMBED_ARCH_QWEN3)) == "qwen3");
}

TEST_CASE("loader config: every committed test model's config.json parses", "[loader][config]") {
    const struct {
        const char *name;
        llmbed_rope_type rope;
    } models[] = {{"llama-tiny", LLMBED_ROPE_NONE},  {"llama3-rope", LLMBED_ROPE_LLAMA3},
                  {"llama-linear", LLMBED_ROPE_LINEAR}, {"mistral-tiny", LLMBED_ROPE_NONE},
                  {"qwen2-tiny", LLMBED_ROPE_YARN},  {"qwen3-tiny", LLMBED_ROPE_DYNAMIC},
                  {"minicpm-tiny", LLMBED_ROPE_NONE}};
    for (const auto &m : models) {
        INFO(m.name);
        const std::string path = std::string(LLMBED_TEST_DATA_DIR "/models/") + m.name + "/config.json";
        const llmbed_config c = ok(read_file(path));
        CHECK(c.rope_scaling.type == m.rope);
    }
}

TEST_CASE("loader config: unknown architecture names the value and file", "[loader][config][bad-input]") {
    llmbed_config c;
    std::string message;
    CHECK(parse("{\"model_type\": \"gpt_neox\", " + BASE + "}", &c, &message) == LLMBED_ERR_UNKNOWN_ARCH);
    CHECK_THAT(message, Catch::Contains("gpt_neox"));
}

TEST_CASE("loader config: unknown rope type names the value", "[loader][config][bad-input]") {
    llmbed_config c;
    std::string message;
    CHECK(parse("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"longrope\", \"factor\": 2}, " + BASE + "}",
                &c, &message) == LLMBED_ERR_UNKNOWN_ROPE);
    CHECK_THAT(message, Catch::Contains("longrope") && Catch::Contains("rope_scaling"));
    CHECK(parse("{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"su\"}, " + BASE + "}", &c,
                &message) == LLMBED_ERR_UNKNOWN_ROPE);
    CHECK_THAT(message, Catch::Contains("\"su\""));
}

TEST_CASE("loader config: missing or ill-typed fields name the field", "[loader][config][bad-input]") {
    llmbed_config c;
    std::string message;
    CHECK(parse("{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                "\"intermediate_size\": 8}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("\"hidden_size\""));
    CHECK(parse("{" + BASE + "}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("\"model_type\""));
    CHECK(parse("{\"model_type\": \"llama\", \"hidden_size\": \"64\", \"num_hidden_layers\": 4, "
                "\"num_attention_heads\": 8, \"intermediate_size\": 96}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("\"hidden_size\"") && Catch::Contains("integer"));
    CHECK(parse("{\"model_type\": \"llama\", \"num_key_value_heads\": 2.5, " + BASE + "}", &c, &message) ==
          LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("num_key_value_heads"));
    CHECK(parse("{\"model_type\": \"llama\", \"tie_word_embeddings\": 1, " + BASE + "}", &c, &message) ==
          LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("tie_word_embeddings"));
    CHECK(parse("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"linear\"}, " + BASE + "}", &c,
                &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("rope_scaling.factor"));
    CHECK(parse("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}, " + BASE + "}",
                &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("rope_scaling.low_freq_factor"));
    CHECK(parse("{\"model_type\": \"llama\", \"rope_scaling\": \"linear\", " + BASE + "}", &c, &message) ==
          LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("rope_scaling"));
}

TEST_CASE("loader config: inconsistent values are rejected by validation", "[loader][config][bad-input]") {
    llmbed_config c;
    std::string message;
    CHECK(parse("{\"model_type\": \"llama\", \"num_key_value_heads\": 3, " + BASE + "}", &c, &message) ==
          LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("num_key_value_heads"));
    CHECK(parse("{\"model_type\": \"llama\", \"head_dim\": 7, " + BASE + "}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("head_dim"));
    CHECK(parse("{\"model_type\": \"llama\", \"rms_norm_eps\": -1, " + BASE + "}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("rms_norm_eps"));
    CHECK(parse("{\"model_type\": \"llama\", \"hidden_size\": 0, \"num_hidden_layers\": 4, \"num_attention_heads\": 8, "
                "\"intermediate_size\": 96}", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK_THAT(message, Catch::Contains("hidden_size"));
    CHECK(parse("{\"model_type\": \"llama\", \"mlp_bias\": true, " + BASE + "}", &c, &message) == LLMBED_ERR_UNSUPPORTED);
    CHECK_THAT(message, Catch::Contains("mlp_bias"));
    CHECK(parse("{\"model_type\": \"llama\", \"partial_rotary_factor\": 0.5, " + BASE + "}", &c, &message) ==
          LLMBED_ERR_UNSUPPORTED);
    CHECK_THAT(message, Catch::Contains("partial_rotary_factor"));
}

TEST_CASE("loader config: malformed JSON names file, line and column", "[loader][config][bad-input]") {
    llmbed_config c;
    std::string message;
    CHECK(parse("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,,\n}", &c, &message) == LLMBED_ERR_BAD_JSON);
    CHECK_THAT(message, Catch::Contains("line 3"));
    CHECK(parse("", &c, &message) == LLMBED_ERR_BAD_JSON);
    CHECK(parse("[]", &c, &message) == LLMBED_ERR_BAD_CONFIG);
    CHECK(parse("{\"model_type\": \"llama\"} trailing", &c, &message) == LLMBED_ERR_BAD_JSON);
}
