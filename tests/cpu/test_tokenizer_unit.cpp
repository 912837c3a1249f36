/* Tokenizer pipeline pieces on a hand-written tokenizer.json
 * (tests/data/tokenizer/tiny_bpe.json: NFKC + Lowercase + Replace + Strip,
 * WhitespaceSplit, added tokens with lstrip/rstrip and normalized, template
 * post-processor, unk with fuse_unk). Expected ids were produced by HF
 * tokenizers 0.23 `Tokenizer.from_file(...).encode(text).ids`. */
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <time.h>

#include "tokenizer_test_util.h"

using namespace tokenizer_test;

static llmbed_tokenizer *load_tiny() {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/tokenizer/tiny_bpe.json";
    INFO(e.message);
    REQUIRE(llmbed_tokenizer_load_json(path.c_str(), &t, &e) == LLMBED_OK);
    return t;
}

TEST_CASE("tokenizer.json pipeline matches HF on a hand-written tokenizer", "[tokenizer]") {
    llmbed_tokenizer *t = load_tiny();
    struct {
        const char *text;
        std::vector<int32_t> ids;
    } cases[] = {
        {"ABC abc", {14, 5, 5, 15}},          /* Lowercase, merges a b -> ab c */
        {"x", {14, 4, 15}},                   /* Replace x -> ab */
        {"\xEF\xAC\x81", {14, 7, 15}},        /* NFKC: U+FB01 ligature -> "fi" */
        {"  a  [MASK]  b ", {14, 1, 16, 2, 15}}, /* Strip; lstrip/rstrip special token */
        {"zz abz", {14, 0, 4, 0, 15}},        /* unknown characters, fused */
        {"Hello c", {14, 17, 3, 15}},         /* normalized added token after Lowercase */
        {"<s>c</s>", {14, 14, 3, 15, 15}},    /* special tokens in text */
        {"", {14, 15}},
        {"HELLO", {14, 17, 15}},
        {"ab\xC3\xBF", {14, 4, 0, 15}},
    };
    for (auto &c : cases) {
        INFO("text: " << c.text);
        CHECK(encode(t, c.text, true) == c.ids);
    }
    /* Without special tokens and without parsing them. */
    CHECK(encode(t, "ABC", false) == std::vector<int32_t>{5});
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = 0;
    o.parse_special = 0;
    llmbed_encode_result r = {};
    REQUIRE(llmbed_tokenizer_encode(t, "<s>", 3, &o, &r, nullptr) == LLMBED_OK);
    CHECK(std::vector<int32_t>(r.ids, r.ids + r.n_ids) == std::vector<int32_t>{0}); /* "<s>" as text: unk */
    llmbed_encode_result_free(&r);
    CHECK(llmbed_tokenizer_bos_id(t) == 14);
    CHECK(llmbed_tokenizer_eos_id(t) == 15);
    CHECK(llmbed_tokenizer_token_id(t, "[MASK]") == 16);
    CHECK(llmbed_tokenizer_token_id(t, "nope") == -1);
    llmbed_tokenizer_free(t);
}

TEST_CASE("truncation keeps the special tokens and reports the cut", "[tokenizer]") {
    llmbed_tokenizer *t = load_tiny();
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.max_tokens = 4;
    llmbed_encode_result r = {};
    REQUIRE(llmbed_tokenizer_encode(t, "abc abc abc abc", 15, &o, &r, nullptr) == LLMBED_OK);
    CHECK(std::vector<int32_t>(r.ids, r.ids + r.n_ids) == std::vector<int32_t>{14, 5, 5, 15});
    CHECK(r.truncated == 1);
    CHECK(r.n_untruncated == 6);
    REQUIRE(llmbed_tokenizer_encode(t, "abc", 3, &o, &r, nullptr) == LLMBED_OK);
    CHECK(r.truncated == 0);
    CHECK(r.n_ids == 3);
    llmbed_encode_result_free(&r);
    llmbed_tokenizer_free(t);
}

TEST_CASE("family suffix is appended once after the post-processor", "[tokenizer]") {
    llmbed_tokenizer *t = load_tiny();
    int32_t endoftext = 17;
    llmbed_error e = {};
    REQUIRE(llmbed_tokenizer_set_family_suffix(t, &endoftext, 1, &e) == LLMBED_OK);
    CHECK(encode(t, "abc", true) == std::vector<int32_t>{14, 5, 15, 17});
    CHECK(encode(t, "abc", false) == std::vector<int32_t>{5});
    CHECK(llmbed_tokenizer_n_special_added(t) == 3);
    /* Already the post-processor's last token: not doubled. */
    int32_t eos = 15;
    REQUIRE(llmbed_tokenizer_set_family_suffix(t, &eos, 1, &e) == LLMBED_OK);
    CHECK(encode(t, "abc", true) == std::vector<int32_t>{14, 5, 15});
    int32_t bad = 1000;
    CHECK(llmbed_tokenizer_set_family_suffix(t, &bad, 1, &e) == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
    llmbed_tokenizer_free(t);
}

TEST_CASE("invalid UTF-8 is replaced by U+FFFD as HF and counted", "[tokenizer]") {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    REQUIRE(load_gguf_tokenizer(shared_dir() + "gpt-2/vocab.gguf", &t, &e) == LLMBED_OK);
    /* Python's bytes.decode("utf-8", "replace"): one U+FFFD per maximal invalid subpart. */
    const std::string bad = std::string("a\xff b\xe2\x82 c\xed\xa0\x80", 11);
    const std::string repaired = "a\xEF\xBF\xBD b\xEF\xBF\xBD c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD";
    llmbed_status st;
    size_t n_invalid = 0;
    auto ids = encode(t, bad, false, &st, &n_invalid);
    CHECK(st == LLMBED_OK);
    CHECK(n_invalid == 5);
    CHECK(ids == encode(t, repaired, false));
    size_t valid_invalid = 1;
    encode(t, repaired, false, &st, &valid_invalid);
    CHECK(valid_invalid == 0);
    llmbed_tokenizer_free(t);
}

TEST_CASE("decode round-trips byte-level and SentencePiece text", "[tokenizer]") {
    const std::string text = "Hello  wörld\n\t🦙 你好 <0x41>";
    for (const char *name : {"gpt-2", "llama-spm", "deepseek-llm"}) {
        llmbed_tokenizer *t = nullptr;
        llmbed_error e = {};
        REQUIRE(load_gguf_tokenizer(shared_dir() + name + "/vocab.gguf", &t, &e) == LLMBED_OK);
        auto ids = encode(t, text, false);
        char *out = nullptr;
        size_t len = 0;
        REQUIRE(llmbed_tokenizer_decode(t, ids.data(), ids.size(), &out, &len, &e) == LLMBED_OK);
        INFO(name);
        CHECK(std::string(out, len) == text);
        std::free(out);
        int32_t bad = llmbed_tokenizer_n_vocab(t);
        CHECK(llmbed_tokenizer_decode(t, &bad, 1, &out, &len, &e) == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
        CHECK(std::strstr(e.message, "outside the vocabulary") != nullptr);
        llmbed_tokenizer_free(t);
    }
}

/* Process CPU time: what the encode costs, whatever else the machine runs. */
static double cpu_seconds() {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

TEST_CASE("a 1 MB line without spaces has no quadratic path", "[tokenizer]") {
    for (const char *name : {"gpt-2", "llama-spm"}) {
        llmbed_tokenizer *t = nullptr;
        llmbed_error e = {};
        REQUIRE(load_gguf_tokenizer(shared_dir() + name + "/vocab.gguf", &t, &e) == LLMBED_OK);
        /* Pseudo-random letters (fixed LCG seed) so merges do not collapse into one pattern. */
        std::string text(1 << 20, 'a');
        uint32_t state = 12345;
        for (auto &c : text) {
            state = state * 1664525u + 1013904223u;
            c = (char)('a' + (state >> 24) % 26);
        }
        /* 16x the bytes cost 16-35x the CPU time here (2026-12-07); a quadratic merge or regex scan costs 256x.
         * The 64 KiB line takes the best of three (the first run warms caches). */
        const std::string small = text.substr(0, 1 << 16);
        llmbed_status st;
        double small_seconds = 1e30;
        for (int run = 0; run < 3; run++) {
            const double start = cpu_seconds();
            encode(t, small, false, &st);
            small_seconds = std::min(small_seconds, cpu_seconds() - start);
        }
        const double start = cpu_seconds();
        auto ids = encode(t, text, false, &st);
        const double seconds = cpu_seconds() - start;
        std::printf("1 MiB line, %s: %zu tokens in %.3f s CPU (64 KiB: %.3f s)\n", name, ids.size(), seconds,
                    small_seconds);
        CHECK(st == LLMBED_OK);
        CHECK(seconds < 96.0 * small_seconds + 0.05);
        char *out = nullptr;
        size_t len = 0;
        REQUIRE(llmbed_tokenizer_decode(t, ids.data(), ids.size(), &out, &len, &e) == LLMBED_OK);
        CHECK(std::string(out, len) == text);
        std::free(out);
        llmbed_tokenizer_free(t);
    }
}

TEST_CASE("one tokenizer encodes from many threads at once", "[tokenizer]") {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    REQUIRE(load_gguf_tokenizer(shared_dir() + "starcoder/vocab.gguf", &t, &e) == LLMBED_OK);
    auto cases = read_inp(shared_dir() + "starcoder/cases.inp");
    std::vector<std::vector<int32_t>> expected;
    for (auto &c : cases) expected.push_back(encode(t, c, false));
    const int n_threads = 4;
    std::vector<int> mismatches(n_threads, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < n_threads; k++)
        threads.emplace_back([&, k] {
            for (int rep = 0; rep < 20; rep++)
                for (size_t i = (size_t)k; i < cases.size() + (size_t)k; i++) {
                    size_t j = i % cases.size();
                    if (encode(t, cases[j], false) != expected[j]) mismatches[k]++;
                }
        });
    for (auto &th : threads) th.join();
    for (int k = 0; k < n_threads; k++) CHECK(mismatches[k] == 0);
    llmbed_tokenizer_free(t);
}
