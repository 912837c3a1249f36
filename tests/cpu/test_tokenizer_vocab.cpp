/* llama.cpp's tokenizer vectors (ids written by HF AutoTokenizer with
 * add_special_tokens=False) for every vocabulary in
 * ../shared/testdata/tokenizer: every case must match exactly, on the GGUF
 * path, and on the tokenizer.json path when tests/tokenizer/gguf_to_hf.py
 * has generated the HF files. */
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>

#include <cjson/cJSON.h>

#include "tokenizer_test_util.h"

using namespace tokenizer_test;

static size_t count_matches(const llmbed_tokenizer *t, const std::string &name) {
    auto cases = read_inp(shared_dir() + name + "/cases.inp");
    auto expected = read_out(shared_dir() + name + "/cases.out");
    REQUIRE(cases.size() == 46);
    REQUIRE(expected.size() == cases.size());
    size_t ok = 0;
    for (size_t i = 0; i < cases.size(); i++) {
        auto ids = encode(t, cases[i], false);
        if (ids == expected[i]) {
            ok++;
        } else {
            UNSCOPED_INFO("case " << i << " differs: \"" << cases[i].substr(0, 60) << "\"");
        }
    }
    return ok;
}

static void check_vocab(const std::string &name) {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    INFO(e.message);
    REQUIRE(load_gguf_tokenizer(shared_dir() + name + "/vocab.gguf", &t, &e) == LLMBED_OK);
    size_t ok = count_matches(t, name);
    CHECK(ok == 46);
    std::printf("tokenizer vectors %-15s gguf: %zu/46\n", name.c_str(), ok);
    llmbed_tokenizer_free(t);

    std::string json = generated_dir() + name + "/tokenizer.json";
    if (!std::ifstream(json).good()) {
        WARN("tokenizer.json path not checked for " << name << ": run tests/tokenizer/gguf_to_hf.py first");
        return;
    }
    REQUIRE(llmbed_tokenizer_load_json(json.c_str(), &t, &e) == LLMBED_OK);
    ok = count_matches(t, name);
    CHECK(ok == 46);
    std::printf("tokenizer vectors %-15s json: %zu/46\n", name.c_str(), ok);
    llmbed_tokenizer_free(t);
}

TEST_CASE("tokenizer vectors: gpt-2", "[tokenizer][vocab]") { check_vocab("gpt-2"); }
TEST_CASE("tokenizer vectors: deepseek-coder", "[tokenizer][vocab]") { check_vocab("deepseek-coder"); }
TEST_CASE("tokenizer vectors: deepseek-llm", "[tokenizer][vocab]") { check_vocab("deepseek-llm"); }
TEST_CASE("tokenizer vectors: falcon", "[tokenizer][vocab]") { check_vocab("falcon"); }
TEST_CASE("tokenizer vectors: mpt", "[tokenizer][vocab]") { check_vocab("mpt"); }
TEST_CASE("tokenizer vectors: refact", "[tokenizer][vocab]") { check_vocab("refact"); }
TEST_CASE("tokenizer vectors: starcoder", "[tokenizer][vocab]") { check_vocab("starcoder"); }
TEST_CASE("tokenizer vectors: llama-spm", "[tokenizer][vocab]") { check_vocab("llama-spm"); }
TEST_CASE("tokenizer vectors: phi-3", "[tokenizer][vocab]") { check_vocab("phi-3"); }

TEST_CASE("tokenizer vectors: bert-bge WordPiece is reported unsupported", "[tokenizer][vocab]") {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    CHECK(load_gguf_tokenizer(shared_dir() + "bert-bge/vocab.gguf", &t, &e) == LLMBED_ERR_TOKENIZER_UNSUPPORTED);
    CHECK(std::strstr(e.message, "bert WordPiece") != nullptr);
    CHECK(t == nullptr);
}

TEST_CASE("tokenizer vectors: llama2.c SentencePiece cases with BOS", "[tokenizer][vocab]") {
    /* llama2c/tokenizer.model holds the same 32000 pieces and scores as llama-spm/vocab.gguf. */
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    REQUIRE(load_gguf_tokenizer(shared_dir() + "llama-spm/vocab.gguf", &t, &e) == LLMBED_OK);
    std::string json = read_all(shared_dir() + "llama2c/cases.json");
    /* Minimal reader for {"text": "...", "ids": [...]} pairs via the Python-free cJSON. */
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    int n = 0, ok = 0;
    for (const cJSON *c = cases->child; c; c = c->next, n++) {
        std::string text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
        std::vector<int32_t> expected;
        for (const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "ids")->child; id; id = id->next)
            expected.push_back(id->valueint);
        auto ids = encode(t, text, true);
        if (ids == expected) ok++;
        else UNSCOPED_INFO("llama2c case " << n << " differs");
    }
    CHECK(n == 5);
    CHECK(ok == n);
    cJSON_Delete(root);
    llmbed_tokenizer_free(t);
}

TEST_CASE("tokenizer vectors: vocab-only baichuan and gpt-neox load and round-trip", "[tokenizer][vocab]") {
    for (const char *name : {"baichuan", "gpt-neox"}) {
        llmbed_tokenizer *t = nullptr;
        llmbed_error e = {};
        INFO(name << ": " << e.message);
        REQUIRE(load_gguf_tokenizer(shared_dir() + name + "/vocab.gguf", &t, &e) == LLMBED_OK);
        const std::string text = "Hello world, this is 2024!";
        auto ids = encode(t, text, false);
        CHECK(!ids.empty());
        char *decoded = nullptr;
        size_t len = 0;
        REQUIRE(llmbed_tokenizer_decode(t, ids.data(), ids.size(), &decoded, &len, &e) == LLMBED_OK);
        CHECK(std::string(decoded, len) == text);
        std::free(decoded);
        llmbed_tokenizer_free(t);
    }
}
