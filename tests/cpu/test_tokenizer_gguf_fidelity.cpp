// Issue 15 item 7: a GGUF vocabulary carries no normalizer, so the
// pre-tokenizer type must imply the one the model's tokenizer.json has, and a
// BOS the file asks for must exist. The GPT-2 vocabulary (shared testdata)
// is rewritten with tokenizer.ggml.pre = "qwen2"; the expected ids are HF
// tokenizers 0.23 on tests/data/generated/tokenizer/gpt-2-qwen2-style/
// tokenizer.json (NFC + the Qwen2 split + byte-level), encode(text,
// add_special_tokens=False). Without NFC, HF's ids would be the decomposed
// ones (e.g. "Café résumé" -> [34, 8635, 136, 223, ...]).
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "support/tiny_model_writer.hpp"
#include "tokenizer_test_util.h"

extern "C" {
#include "container/gguf.h"
}

namespace {

const std::string kGpt2 = LLMBED_SHARED_TESTDATA_DIR "/tokenizer/gpt-2/vocab.gguf";

std::vector<std::string> strings(const llmbed_gguf *g, const char *key) {
    llmbed_gguf_type type;
    uint64_t count = 0;
    std::vector<std::string> out;
    REQUIRE(llmbed_gguf_get_array(g, key, &type, &count));
    bool ok = true;
    for (uint64_t i = 0; i < count && ok; i++) {
        llmbed_gguf_string s;
        ok = llmbed_gguf_array_string(g, key, i, &s);
        if (ok) out.emplace_back(s.data, (size_t)s.length);
    }
    REQUIRE(ok);
    return out;
}

// The GPT-2 tokens and merges with another pre-tokenizer name and extra keys.
std::string rewritten(const std::string &pre, const std::function<void(llmbed_test::GgufWriter &)> &extra) {
    llmbed_gguf *g = nullptr;
    llmbed_error e{};
    REQUIRE(llmbed_gguf_open(kGpt2.c_str(), &g, &e) == LLMBED_OK);
    llmbed_test::GgufWriter w;
    w.kv_string("general.architecture", "qwen2");
    w.kv_string("tokenizer.ggml.model", "gpt2");
    w.kv_string("tokenizer.ggml.pre", pre);
    w.kv_string_array("tokenizer.ggml.tokens", strings(g, "tokenizer.ggml.tokens"));
    w.kv_string_array("tokenizer.ggml.merges", strings(g, "tokenizer.ggml.merges"));
    extra(w);
    llmbed_gguf_close(g);
    return w.bytes();
}

void kv_bool(llmbed_test::GgufWriter &w, const std::string &key, bool v) {
    w.kv_raw(key, llmbed_test::GGUF_BOOL, std::string(1, v ? '\1' : '\0'));
}

}  // namespace

TEST_CASE("GGUF tokenizer: Qwen2 pre-tokenizer implies NFC as its tokenizer.json", "[tokenizer][gguf-fidelity]") {
    llmbed_test::TempDir tmp;
    llmbed_test::write_file(tmp.file("qwen2.gguf"), rewritten("qwen2", [](llmbed_test::GgufWriter &) {}));
    llmbed_tokenizer *t = nullptr;
    llmbed_error e{};
    REQUIRE(tokenizer_test::load_gguf_tokenizer(tmp.file("qwen2.gguf"), &t, &e) == LLMBED_OK);
    CHECK(tokenizer_test::encode(t, "Cafe\xCC\x81 re\xCC\x81sume\xCC\x81", false) ==
          std::vector<int32_t>{34, 1878, 2634, 40560, 16345, 2634});
    CHECK(tokenizer_test::encode(t, "A\xCC\x8Angstro\xCC\x88m n\xCC\x83", false) ==
          std::vector<int32_t>{127, 227, 782, 2536, 9101, 76, 6184, 109});
    // Precomposed input gives the same ids (NFC is idempotent).
    CHECK(tokenizer_test::encode(t, "Caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9", false) ==
          std::vector<int32_t>{34, 1878, 2634, 40560, 16345, 2634});
    llmbed_tokenizer_free(t);
}

TEST_CASE("GGUF tokenizer: add_bos_token with an unusable bos_token_id is an error", "[tokenizer][gguf-fidelity]") {
    llmbed_test::TempDir tmp;
    llmbed_error e{};
    llmbed_tokenizer *t = nullptr;
    llmbed_test::write_file(tmp.file("bad_bos.gguf"), rewritten("qwen2", [](llmbed_test::GgufWriter &w) {
                                kv_bool(w, "tokenizer.ggml.add_bos_token", true);
                                w.kv_u32("tokenizer.ggml.bos_token_id", 999999);
                            }));
    CHECK(tokenizer_test::load_gguf_tokenizer(tmp.file("bad_bos.gguf"), &t, &e) == LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::string(e.message).find("tokenizer.ggml.bos_token_id = 999999 is outside the vocabulary [0, 50257) but "
                                      "tokenizer.ggml.add_bos_token is true") != std::string::npos);
    llmbed_test::write_file(tmp.file("no_bos.gguf"), rewritten("qwen2", [](llmbed_test::GgufWriter &w) {
                                kv_bool(w, "tokenizer.ggml.add_bos_token", true);
                            }));
    CHECK(tokenizer_test::load_gguf_tokenizer(tmp.file("no_bos.gguf"), &t, &e) == LLMBED_ERR_TOKENIZER_MALFORMED);
    CHECK(std::string(e.message).find("tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing") !=
          std::string::npos);
    // In range: BOS is prepended.
    llmbed_test::write_file(tmp.file("ok.gguf"), rewritten("qwen2", [](llmbed_test::GgufWriter &w) {
                                kv_bool(w, "tokenizer.ggml.add_bos_token", true);
                                w.kv_u32("tokenizer.ggml.bos_token_id", 50256);
                            }));
    REQUIRE(tokenizer_test::load_gguf_tokenizer(tmp.file("ok.gguf"), &t, &e) == LLMBED_OK);
    CHECK(tokenizer_test::encode(t, "Hello", true) == std::vector<int32_t>{50256, 15496});
    llmbed_tokenizer_free(t);
}
