/* Bad tokenizer definitions: each gets its own status and a message naming
 * the file and the field or entry at fault. */
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "tokenizer_test_util.h"

using namespace tokenizer_test;

static llmbed_status load_text(const std::string &json, llmbed_error *e) {
    llmbed_tokenizer *t = nullptr;
    llmbed_status st = llmbed_tokenizer_load_json_memory(json.data(), json.size(), nullptr, 0, "bad.json", &t, e);
    if (st == LLMBED_OK) llmbed_tokenizer_free(t);
    else CHECK(t == nullptr);
    return st;
}

static const std::string vocab = "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}";

TEST_CASE("tokenizer.json: malformed definitions are rejected with named entries", "[tokenizer][errors]") {
    llmbed_error e = {};
    CHECK(load_text("{\"model\": {\"type\": \"BPE\", " + vocab + ", \"merges\": [\"a b\"]}}", &e) == LLMBED_OK);

    CHECK(load_text("{\"model\": ", &e) == LLMBED_ERR_BAD_JSON);
    CHECK(std::strstr(e.message, "bad.json") != nullptr);

    CHECK(load_text("{\"normalizer\": null}", &e) == LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "\"model\": missing") != nullptr);

    CHECK(load_text("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", &e) == LLMBED_ERR_TOKENIZER_UNSUPPORTED);
    CHECK(std::strstr(e.message, "Unigram") != nullptr);
    CHECK(load_text("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", &e) == LLMBED_ERR_TOKENIZER_UNSUPPORTED);
    CHECK(std::strstr(e.message, "WordPiece") != nullptr);

    CHECK(load_text("{\"model\": {\"type\": \"BPE\", " + vocab + ", \"merges\": [\"a b\", \"ab\"]}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "model.merges[1] \"ab\"") != nullptr);
    CHECK(load_text("{\"model\": {\"type\": \"BPE\", " + vocab + ", \"merges\": [\"a z\"]}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "\"z\" is not in the vocabulary") != nullptr);
    CHECK(load_text("{\"model\": {\"type\": \"BPE\", " + vocab + ", \"merges\": [\"b a\"]}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "merged token") != nullptr);

    CHECK(load_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "id 0 given to both \"a\" and \"b\"") != nullptr);
    CHECK(load_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(load_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999}, \"merges\": []}}", &e) ==
          LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(load_text("{\"added_tokens\": [{\"id\": 0, \"content\": \"x\"}, {\"id\": 0, \"content\": \"y\"}], "
                    "\"model\": {\"type\": \"BPE\", " + vocab + ", \"merges\": []}}",
                    &e) == LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "id 0 appears twice") != nullptr);

    CHECK(load_text("{\"normalizer\": {\"type\": \"Precompiled\"}, \"model\": {\"type\": \"BPE\", " + vocab +
                        ", \"merges\": []}}",
                    &e) == LLMBED_ERR_TOKENIZER_UNSUPPORTED);
    CHECK(std::strstr(e.message, "Precompiled") != nullptr);
    CHECK(load_text("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}}, \"model\": "
                    "{\"type\": \"BPE\", " + vocab + ", \"merges\": []}}",
                    &e) == LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::strstr(e.message, "pre_tokenizer") != nullptr);
}

TEST_CASE("tokenizer: missing files and GGUF without tokenizer metadata", "[tokenizer][errors]") {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    CHECK(llmbed_tokenizer_load_folder("/nonexistent-llmbed-folder", &t, &e) == LLMBED_ERR_TOKENIZER_MISSING);
    CHECK(std::strstr(e.message, "no tokenizer.json") != nullptr);
    CHECK(llmbed_tokenizer_load_json("/nonexistent-llmbed-folder/tokenizer.json", &t, &e) ==
          LLMBED_ERR_FILE_NOT_FOUND);

    /* GGUF v3 with one key (general.architecture = "llama") and no tensors. */
    std::string g("GGUF", 4);
    auto u32 = [&](uint32_t v) { g.append((const char *)&v, 4); };
    auto u64 = [&](uint64_t v) { g.append((const char *)&v, 8); };
    auto str = [&](const std::string &s) { u64(s.size()); g += s; };
    u32(3);
    u64(0);
    u64(1);
    str("general.architecture");
    u32(8);
    str("llama");
    llmbed_gguf *gguf = nullptr;
    REQUIRE(llmbed_gguf_open_memory(g.data(), g.size(), "no_tokenizer.gguf", &gguf, &e) == LLMBED_OK);
    CHECK(llmbed_tokenizer_load_gguf(gguf, &t, &e) == LLMBED_ERR_TOKENIZER_MISSING);
    CHECK(std::strstr(e.message, "no_tokenizer.gguf") != nullptr);
    CHECK(t == nullptr);
    llmbed_gguf_close(gguf);
}
