/* Token offsets (llmbed_tokenizer_encode_spans, llmbed_tokenize_offsets):
 * ids and byte offsets equal HF tokenizers' offsets on byte-level BPE
 * (GPT-2, Qwen2-style with NFC), SentencePiece with byte fallback (Llama-2
 * from GGUF, Metaspace variant) and a normaliser-heavy tokenizer.json
 * (NFKC, Lowercase, Replace, Strip); goldens from
 * tests/tokenizer/gen_offset_goldens.py. Plus the cases HF cannot show:
 * invalid UTF-8, NFC composition, special tokens and truncation. */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "llmbed.h"
#include "tokenizer_test_util.h"

using namespace tokenizer_test;

namespace {

struct encoded {
    std::vector<int32_t> ids;
    std::vector<std::pair<size_t, size_t>> spans;
    llmbed_status status;
};

encoded encode_spans(const llmbed_tokenizer *t, const std::string &text, bool add_special, size_t max_tokens = 0) {
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = add_special;
    o.max_tokens = max_tokens;
    llmbed_encode_result r = {};
    tok_spans s = {};
    llmbed_error e = {};
    encoded out;
    out.status = llmbed_tokenizer_encode_spans(t, text.data(), text.size(), &o, &r, &s, &e);
    out.ids.assign(r.ids, r.ids + r.n_ids);
    for (size_t i = 0; i < s.len; i++) out.spans.emplace_back(s.data[i].start, s.data[i].end);
    llmbed_encode_result_free(&r);
    tok_spans_free(&s);
    return out;
}

llmbed_tokenizer *load(const std::string &how) {
    llmbed_tokenizer *t = nullptr;
    llmbed_error e = {};
    const size_t colon = how.find(':');
    const std::string kind = how.substr(0, colon), what = how.substr(colon + 1);
    if (kind == "gguf") {
        REQUIRE(load_gguf_tokenizer(shared_dir() + what + "/vocab.gguf", &t, &e) == LLMBED_OK);
    } else {
        const std::string path = kind == "generated" ? generated_dir() + what + "/tokenizer.json"
                                                     : std::string(LLMBED_TEST_DATA_DIR) + "/" + what;
        if (!std::ifstream(path).good()) return nullptr;
        REQUIRE(llmbed_tokenizer_load_json(path.c_str(), &t, &e) == LLMBED_OK);
    }
    return t;
}

using span_list = std::vector<std::pair<size_t, size_t>>;

span_list read_offsets(const cJSON *array) {
    span_list out;
    for (const cJSON *p = array->child; p; p = p->next)
        out.emplace_back((size_t)p->child->valuedouble, (size_t)p->child->next->valuedouble);
    return out;
}

}  // namespace

TEST_CASE("offsets: ids and byte offsets equal HF tokenizers", "[tokenizer][offsets]") {
    const std::string json = read_all(std::string(LLMBED_TEST_DATA_DIR) + "/offsets/hf_offsets.json");
    cJSON *root = cJSON_Parse(json.c_str());
    REQUIRE(root != nullptr);
    int checked_tokenizers = 0;
    for (const cJSON *tk = cJSON_GetObjectItem(root, "tokenizers")->child; tk; tk = tk->next) {
        const std::string name = tk->string;
        llmbed_tokenizer *t = load(cJSON_GetObjectItem(tk, "load")->valuestring);
        if (t == nullptr) {
            WARN(name << ": tokenizer.json not generated (run tests/tokenizer/gguf_to_hf.py)");
            continue;
        }
        int cases = 0;
        for (const cJSON *c = cJSON_GetObjectItem(tk, "cases")->child; c; c = c->next, cases++) {
            const std::string text = cJSON_GetObjectItem(c, "text")->valuestring;
            std::vector<int32_t> ids;
            for (const cJSON *v = cJSON_GetObjectItem(c, "ids")->child; v; v = v->next) ids.push_back(v->valueint);
            const span_list expected = read_offsets(cJSON_GetObjectItem(c, "offsets"));
            INFO(name << ": \"" << text << "\"");
            const encoded got = encode_spans(t, text, false);
            REQUIRE(got.status == LLMBED_OK);
            CHECK(got.ids == ids);
            CHECK(got.spans == expected);
            /* The comparison sees a one-byte shift (it can fail). */
            if (!expected.empty()) {
                span_list wrong = expected;
                wrong.back().second += 1;
                CHECK(got.spans != wrong);
            }
        }
        CHECK(cases == 12);
        checked_tokenizers++;
        llmbed_tokenizer_free(t);
    }
    CHECK(checked_tokenizers >= 3); /* the GGUF ones and tiny_bpe.json never need generated files */
    cJSON_Delete(root);
}

TEST_CASE("offsets: invalid UTF-8 maps the U+FFFD token to the invalid bytes", "[tokenizer][offsets]") {
    llmbed_tokenizer *t = load("gguf:gpt-2");
    /* "ab" + 0xFF + "c": the replacement character's byte tokens cover byte 2 only. */
    const std::string text = std::string("ab\xff") + "c";
    const encoded got = encode_spans(t, text, false);
    REQUIRE(got.status == LLMBED_OK);
    REQUIRE(!got.spans.empty());
    size_t covered_invalid = 0;
    for (auto &s : got.spans) {
        CHECK(s.second <= text.size());
        if (s.first <= 2 && s.second >= 3) covered_invalid++;
    }
    CHECK(covered_invalid >= 1);
    CHECK(got.spans.front().first == 0);
    CHECK(got.spans.back().second == 4);
    llmbed_tokenizer_free(t);
}

TEST_CASE("offsets: NFC composition maps the composed character to all its sources", "[tokenizer][offsets]") {
    llmbed_tokenizer *t = load("generated:gpt-2-qwen2-style");
    if (t == nullptr) {
        WARN("gpt-2-qwen2-style tokenizer.json not generated (run tests/tokenizer/gguf_to_hf.py)");
        return;
    }
    /* "x a" + U+0308 U+0304 + "y": NFC makes U+01DF (2 bytes) from 5 bytes at [2, 7). */
    const std::string text = "x a\xcc\x88\xcc\x84y";
    const encoded got = encode_spans(t, text, false);
    REQUIRE(got.status == LLMBED_OK);
    bool composed = false;
    for (auto &s : got.spans) {
        CHECK(s.second <= text.size());
        if (s.first <= 2 && s.second == 7) composed = true;
        CHECK(!(s.first > 2 && s.first < 7)); /* nothing starts inside the composed character */
    }
    CHECK(composed);
    CHECK(got.spans.back() == std::make_pair(size_t(7), size_t(8)));
    llmbed_tokenizer_free(t);
}

TEST_CASE("offsets: special tokens are empty and truncation cuts the offsets too", "[tokenizer][offsets]") {
    llmbed_tokenizer *t = load("gguf:llama-spm"); /* adds BOS */
    const encoded all = encode_spans(t, "Hello big world", true);
    REQUIRE(all.status == LLMBED_OK);
    REQUIRE(all.ids.size() == all.spans.size());
    REQUIRE(all.ids.size() >= 4);
    CHECK(all.ids[0] == llmbed_tokenizer_bos_id(t));
    CHECK(all.spans[0] == std::make_pair(size_t(0), size_t(0)));
    CHECK(all.spans.back().second == 15);
    const encoded cut = encode_spans(t, "Hello big world", true, 3);
    REQUIRE(cut.status == LLMBED_OK);
    REQUIRE(cut.ids.size() == 3);
    REQUIRE(cut.spans.size() == 3);
    CHECK(std::vector<int32_t>(all.ids.begin(), all.ids.begin() + 3) == cut.ids);
    CHECK(span_list(all.spans.begin(), all.spans.begin() + 3) == cut.spans);
    /* Same ids as the plain encode. */
    CHECK(encode(t, "Hello big world", true) == all.ids);
    llmbed_tokenizer_free(t);
}

TEST_CASE("offsets: llmbed_tokenize_offsets through the public API", "[tokenizer][offsets][api]") {
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    mp.vocab_only = 1;
    llmbed_model *model = nullptr;
    llmbed_error e = {};
    REQUIRE(llmbed_model_load((shared_dir() + "gpt-2/vocab.gguf").c_str(), &mp, &model, &e) == LLMBED_OK);
    const std::string text = "héllo wörld";
    int32_t ids[32];
    int64_t offsets[64 + 2];
    offsets[64] = offsets[65] = -7; /* guard */
    size_t n = 0;
    REQUIRE(llmbed_tokenize_offsets(model, text.data(), text.size(), nullptr, ids, offsets, 32, &n, nullptr, &e) ==
            LLMBED_OK);
    REQUIRE(n > 1);
    CHECK(offsets[0] == 0);
    CHECK(offsets[2 * n - 1] == (int64_t)text.size());
    for (size_t i = 0; i + 1 < n; i++) CHECK(offsets[2 * i + 1] <= offsets[2 * i + 2]);
    CHECK(offsets[64] == -7);
    size_t small = 0;
    CHECK(llmbed_tokenize_offsets(model, text.data(), text.size(), nullptr, ids, offsets, 1, &small, nullptr, &e) ==
          LLMBED_ERR_BUFFER_TOO_SMALL);
    CHECK(small == n);
    CHECK(llmbed_tokenize_offsets(model, text.data(), text.size(), nullptr, ids, nullptr, 32, &small, nullptr, &e) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_model_free(model);
}
