// The C API the Python package binds (include/llmbed.h, "bindings and
// high-level calls"): llmbed_embed_texts against llmbed_tokenize +
// llmbed_embed, precisions against llmbed_quantize_rows, prompts, resolved
// params, status names and llmbed_embed_file. Here so the ASan build covers
// these paths too; python/tests checks them end to end.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "llmbed.h"

namespace {

const std::string kWeights = LLMBED_TEST_DATA_DIR "/models/llama-tiny";

void write_file(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string copy_of(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The tiny llama + the test tokenizer of python/tests/data + prompts.
std::string make_model() {
    char tmpl[] = "/tmp/llmbed-api-texts-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    REQUIRE(symlink((kWeights + "/config.json").c_str(), (dir + "/config.json").c_str()) == 0);
    REQUIRE(symlink((kWeights + "/model.safetensors").c_str(), (dir + "/model.safetensors").c_str()) == 0);
    write_file(dir + "/tokenizer.json", copy_of(LLMBED_SOURCE_DIR "/python/tests/data/tiny_llama_tokenizer.json"));
    write_file(dir + "/config_sentence_transformers.json", R"({"prompts": {"query": "Query: ", "doc": ""}})");
    return dir;
}

struct Loaded {
    std::string dir = make_model();
    llmbed_model *model = nullptr;
    llmbed_ctx *ctx = nullptr;
    Loaded() {
        llmbed_error e{};
        REQUIRE(llmbed_model_load(dir.c_str(), nullptr, &model, &e) == LLMBED_OK);
        llmbed_ctx_params cp;
        llmbed_ctx_params_default(&cp);
        cp.n_threads = 1;
        REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    }
    ~Loaded() {
        llmbed_ctx_free(ctx);
        llmbed_model_free(model);
        std::system(("rm -rf '" + dir + "'").c_str());
    }
};

const std::vector<std::string> kTexts = {"the cat sat on the mat", "Hello, World!", "a", "weird chars and spaces",
                                         "the quick brown fox jumps over the lazy dog"};

std::vector<const char *> pointers(const std::vector<std::string> &t) {
    std::vector<const char *> p;
    for (auto &s : t) p.push_back(s.data());
    return p;
}

std::vector<size_t> lengths(const std::vector<std::string> &t) {
    std::vector<size_t> n;
    for (auto &s : t) n.push_back(s.size());
    return n;
}

}  // namespace

TEST_CASE("embed_texts equals tokenize + embed, in every precision", "[api][texts]") {
    Loaded l;
    llmbed_embed_params ep;
    llmbed_embed_params_default(&ep);
    llmbed_embed_params resolved;
    int dims = 0;
    llmbed_error e{};
    REQUIRE(llmbed_embed_params_resolve(l.model, &ep, &resolved, &dims, &e) == LLMBED_OK);
    CHECK(dims == 48);
    CHECK(resolved.pooling == LLMBED_POOLING_LAST);
    CHECK(resolved.normalize == 1);

    // reference: the ids of each text, one packed batch in length order as the job plans it
    std::vector<int32_t> tokens;
    std::vector<int64_t> offsets{0};
    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    for (auto &t : kTexts) {
        std::vector<int32_t> ids(t.size() + 16);
        size_t n = 0;
        REQUIRE(llmbed_tokenize(l.model, t.data(), t.size(), &tp, ids.data(), ids.size(), &n, nullptr, &e) == LLMBED_OK);
        tokens.insert(tokens.end(), ids.begin(), ids.begin() + long(n));
        offsets.push_back(long(tokens.size()));
    }
    std::vector<float> reference(kTexts.size() * 48);
    llmbed_batch batch{tokens.data(), offsets.data(), int(kTexts.size()), nullptr};
    REQUIRE(llmbed_embed(l.ctx, &batch, &ep, reference.data(), reference.size()) == LLMBED_OK);

    auto texts = pointers(kTexts);
    auto lens = lengths(kTexts);
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    std::vector<float> rows(kTexts.size() * 48 + 8, -7777.25f);  // guard floats after the rows
    llmbed_text_stats stats{};
    REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), int(kTexts.size()), &text, &ep, rows.data(),
                               kTexts.size() * 48 * 4, nullptr, &stats) == LLMBED_OK);
    CHECK(stats.tokens == offsets.back());
    CHECK(stats.batches == 1);
    for (size_t i = kTexts.size() * 48; i < rows.size(); i++) CHECK(rows[i] == -7777.25f);
    double worst = 0;
    for (size_t i = 0; i < reference.size(); i++) worst = std::fmax(worst, std::fabs(rows[i] - reference[i]));
    CHECK(worst <= 1e-6);  // other packing order: fp32 rounding only

    for (llmbed_precision p : {LLMBED_PRECISION_FLOAT16, LLMBED_PRECISION_INT8, LLMBED_PRECISION_UBINARY}) {
        INFO("precision " << int(p));
        const size_t row_bytes = llmbed_precision_row_bytes(p, 48);
        CHECK(row_bytes == (p == LLMBED_PRECISION_FLOAT16 ? 96u : p == LLMBED_PRECISION_INT8 ? 48u : 6u));
        std::vector<unsigned char> got(kTexts.size() * row_bytes), want(got.size());
        std::vector<float> scales(kTexts.size()), want_scales(kTexts.size());
        text.precision = p;
        REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), int(kTexts.size()), &text, &ep, got.data(),
                                   got.size(), scales.data(), nullptr) == LLMBED_OK);
        REQUIRE(llmbed_quantize_rows(p, rows.data(), kTexts.size(), 48, want.data(), want.size(), want_scales.data(),
                                     &e) == LLMBED_OK);
        CHECK(got == want);
        CHECK(scales == want_scales);
        CHECK(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), int(kTexts.size()), &text, &ep, got.data(),
                                 got.size() - 1, scales.data(), nullptr) == LLMBED_ERR_BUFFER_TOO_SMALL);
    }
    CHECK(llmbed_quantize_rows(LLMBED_PRECISION_INT8, rows.data(), 1, 48, rows.data(), 48, nullptr, &e) ==
          LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("embed_texts: prompts, truncation and errors name the text", "[api][texts]") {
    Loaded l;
    llmbed_embed_params ep;
    llmbed_embed_params_default(&ep);
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    std::vector<std::string> long_texts = {"a b", std::string(600, 'a') + " the"};
    auto texts = pointers(long_texts);
    auto lens = lengths(long_texts);
    std::vector<float> rows(2 * 48);
    text.truncate = 0;
    CHECK(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, rows.data(), rows.size() * 4, nullptr,
                             nullptr) == LLMBED_ERR_SEQUENCE_TOO_LONG);
    CHECK(std::string(llmbed_last_error(l.ctx)).find("text 1:") == 0);
    text.truncate = 1;
    llmbed_text_stats stats{};
    REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, rows.data(), rows.size() * 4, nullptr,
                               &stats) == LLMBED_OK);
    CHECK(stats.truncated == 1);
    CHECK(stats.tokens == 256 + 3);  // max_positions 256 + "<s> ▁a ▁b"

    ep.pooling = LLMBED_POOLING_NONE;
    CHECK(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, rows.data(), rows.size() * 4, nullptr,
                             nullptr) == LLMBED_ERR_UNSUPPORTED);
    ep.pooling = LLMBED_POOLING_MEAN;
    ep.dims = 49;
    CHECK(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, rows.data(), rows.size() * 4, nullptr,
                             nullptr) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(llmbed_last_error(l.ctx)).find("dims 49") != std::string::npos);
    ep.dims = 0;
    text.struct_size = 1;
    CHECK(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, rows.data(), rows.size() * 4, nullptr,
                             nullptr) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_text_params_default(&text);

    // prompt: "Query: " + text equals the joined text; excluded tokens change the mean
    std::vector<float> with_prompt(2 * 48), joined(2 * 48), excluded(2 * 48);
    text.prompt = "Query: ";
    REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, with_prompt.data(), 2 * 48 * 4,
                               nullptr, nullptr) == LLMBED_OK);
    text.exclude_prompt = 1;
    REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), 2, &text, &ep, excluded.data(), 2 * 48 * 4, nullptr,
                               nullptr) == LLMBED_OK);
    std::vector<std::string> prefixed = {"Query: a b", "Query: " + long_texts[1]};
    auto ptexts = pointers(prefixed);
    auto plens = lengths(prefixed);
    llmbed_text_params_default(&text);
    REQUIRE(llmbed_embed_texts(l.ctx, ptexts.data(), plens.data(), 2, &text, &ep, joined.data(), 2 * 48 * 4, nullptr,
                               nullptr) == LLMBED_OK);
    CHECK(with_prompt == joined);
    CHECK(std::fabs(excluded[0] - with_prompt[0]) + std::fabs(excluded[1] - with_prompt[1]) > 1e-4);
    int32_t prompt_len = 0;
    llmbed_error e{};
    REQUIRE(llmbed_prompt_length(l.model, "Query: ", &prompt_len, &e) == LLMBED_OK);
    // BOS + the prompt's own tokens (this tokenizer adds no EOS): its full encoding
    int32_t ids[32];
    size_t n_ids = 0;
    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    REQUIRE(llmbed_tokenize(l.model, "Query: ", 7, &tp, ids, 32, &n_ids, nullptr, &e) == LLMBED_OK);
    CHECK(ids[0] == 1);
    CHECK(prompt_len == int32_t(n_ids));
}

TEST_CASE("prompts of the folder, status names", "[api][prompts]") {
    Loaded l;
    char buffer[64];
    size_t n = 0;
    llmbed_error e{};
    REQUIRE(llmbed_model_prompt_names(l.model, buffer, sizeof buffer, &n, &e) == LLMBED_OK);
    CHECK(std::string(buffer) == "query\ndoc\n");
    REQUIRE(llmbed_model_prompt(l.model, "query", buffer, sizeof buffer, &n, &e) == LLMBED_OK);
    CHECK(std::string(buffer) == "Query: ");
    CHECK(llmbed_model_prompt(l.model, "query", buffer, 3, &n, &e) == LLMBED_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 7);
    CHECK(llmbed_model_prompt(l.model, "passage", buffer, sizeof buffer, &n, &e) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(e.message).find("it has: query, doc") != std::string::npos);
    CHECK(std::string(llmbed_status_name(LLMBED_ERR_RESUME_MISMATCH)) == "LLMBED_ERR_RESUME_MISMATCH");
    CHECK(llmbed_status_name((llmbed_status)999) == nullptr);
    CHECK(llmbed_suggested_batch_tokens(l.model) >= 1024);
}

TEST_CASE("embed_file runs the CLI job on a context", "[api][file]") {
    Loaded l;
    const std::string input = l.dir + "/in.jsonl", output = l.dir + "/out.npy";
    std::string lines;
    for (auto &t : kTexts) lines += "{\"text\": \"" + t + "\"}\n";
    write_file(input, lines);
    llmbed_file_params f;
    llmbed_file_params_default(&f);
    f.input_path = input.c_str();
    f.output_path = output.c_str();
    llmbed_file_stats stats{};
    INFO(llmbed_last_error(l.ctx));
    REQUIRE(llmbed_embed_file(l.ctx, &f, nullptr, &stats) == LLMBED_OK);
    CHECK(stats.sequences == long(kTexts.size()));
    std::string npy = copy_of(output);
    REQUIRE(npy.size() == 128 + kTexts.size() * 48 * 4);
    auto texts = pointers(kTexts);
    auto lens = lengths(kTexts);
    std::vector<float> rows(kTexts.size() * 48);
    REQUIRE(llmbed_embed_texts(l.ctx, texts.data(), lens.data(), int(kTexts.size()), nullptr, nullptr, rows.data(),
                               rows.size() * 4, nullptr, nullptr) == LLMBED_OK);
    CHECK(std::memcmp(npy.data() + 128, rows.data(), rows.size() * 4) == 0);  // the same window: the same bits
    f.resume = 1;
    CHECK(llmbed_embed_file(l.ctx, &f, nullptr, &stats) == LLMBED_ERR_INVALID_ARGUMENT);  // resume needs shards
    f.resume = 0;
    f.output_path = "/nonexistent-dir/out.npy";
    CHECK(llmbed_embed_file(l.ctx, &f, nullptr, &stats) == LLMBED_ERR_OUTPUT_WRITE);
}
