// `llmbed embed --document DOC` (suffix mode, issue 10 item 4) against an
// independent computation through the C API: each query appended to the
// document's tokens and embedded in one single-pass forward, pooled over the
// query's tokens (instruction_lens = the document's length).
#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/golden_compare.hpp"
#include "support/npy_reader.hpp"

using namespace llmbed_test::cli;

namespace {

// Causal, last-token pooling, EOS appended by the family: the EOS must end
// the query, not the document.
const std::string kModel = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;
using CtxPtr = std::unique_ptr<llmbed_ctx, decltype(&llmbed_ctx_free)>;

std::string filler_text(int words, unsigned seed) {
    static const char *const vocabulary[] = {"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog",
                                             "while", "memory", "keeps", "long", "context", "in", "cache"};
    std::mt19937 rng(seed);
    std::string s;
    for (int i = 0; i < words; i++) s += std::string(i ? " " : "") + vocabulary[rng() % 16];
    return s;
}

std::vector<int32_t> tokenize(const llmbed_model *model, const std::string &text, int add_special) {
    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    tp.add_special = add_special;
    std::vector<int32_t> ids(text.size() + 16);
    size_t n = 0;
    REQUIRE(llmbed_tokenize(model, text.data(), text.size(), &tp, ids.data(), ids.size(), &n, nullptr, nullptr) ==
            LLMBED_OK);
    ids.resize(n);
    return ids;
}

// The oracle: document (BOS, no EOS) + query (no BOS, the family's EOS) in one pass.
std::vector<double> joined_forward(const llmbed_model *model, const std::string &document,
                                   const std::vector<std::string> &queries, llmbed_pooling pooling) {
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    REQUIRE(info.appends_eos == 1);
    std::vector<int32_t> doc = tokenize(model, document, 1);
    if (doc.back() == info.eos_token_id) doc.pop_back();
    std::vector<std::vector<int32_t>> joined;
    for (const std::string &q : queries) {
        std::vector<int32_t> s = doc, tail = tokenize(model, q, 0);
        s.insert(s.end(), tail.begin(), tail.end());
        s.push_back(info.eos_token_id);
        joined.push_back(s);
    }
    const std::vector<int32_t> doc_lens(queries.size(), (int32_t)doc.size());
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 1;
    cp.batch_tokens = 4096;
    llmbed_ctx *raw = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &raw, nullptr) == LLMBED_OK);
    CtxPtr ctx(raw, llmbed_ctx_free);
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = pooling;
    std::vector<float> out;
    bool guards_ok = false;
    REQUIRE(llmbed_test::embed_packed(ctx.get(), joined, &doc_lens, p, info.hidden_size, out, guards_ok) ==
            LLMBED_OK);
    REQUIRE(guards_ok);
    return std::vector<double>(out.begin(), out.end());
}

}  // namespace

TEST_CASE("cli suffix mode: each input continues the cached document", "[cli][suffix]") {
    const std::string dir = scratch("suffix", "equal");
    const std::string document = filler_text(900, 7);
    const std::vector<std::string> queries = {"where is the fox", "lazy dog", "memory keeps the long context",
                                              "a"};
    write_file(dir + "/doc.txt", document);
    std::string lines;
    for (const std::string &q : queries) lines += q + "\n";
    write_file(dir + "/queries.txt", lines);

    llmbed_model *raw = nullptr;
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &raw, nullptr) == LLMBED_OK);
    ModelPtr model(raw, llmbed_model_free);
    for (const char *pooling : {"last", "mean"}) {
        const std::vector<double> want = joined_forward(model.get(), document, queries,
                                                        std::string(pooling) == "last" ? LLMBED_POOLING_LAST
                                                                                       : LLMBED_POOLING_MEAN);
        for (const char *chunk : {"64", "1000"}) {
            const std::string out = dir + "/out-" + pooling + "-" + chunk + ".npy";
            Result r = run({"embed", "--model", kModel, "--document", dir + "/doc.txt", "--input",
                            dir + "/queries.txt", "--output", out, "--pooling", pooling, "--chunk-tokens", chunk,
                            "--max-tokens", "4096", "--threads", "1", "--quiet"},
                           dir);
            INFO("pooling " << pooling << " chunk " << chunk << " stderr: " << r.err);
            REQUIRE(r.status == 0);
            CHECK(r.err.find("suffix mode") == std::string::npos);  // --quiet
            const llmbed_test::NpyArray got = llmbed_test::read_npy(out);
            REQUIRE(got.ok);
            REQUIRE(got.rows() == (int64_t)queries.size());
            const std::vector<float> rows(got.values.begin(), got.values.end());
            const llmbed_test::Agreement a = llmbed_test::compare_rows(rows.data(), want, (int)got.row_size());
            INFO("min cosine " << a.min_cosine << " max |diff| " << a.max_abs);
            CHECK(a.sane());
            CHECK(a.min_cosine >= 0.99999);
            CHECK(a.max_abs <= 1e-5);
            // the check can fail: the queries alone (no document) are far off
            std::vector<double> shifted(want.begin() + got.row_size(), want.end());
            shifted.insert(shifted.end(), want.begin(), want.begin() + got.row_size());
            CHECK(llmbed_test::compare_rows(rows.data(), shifted, (int)got.row_size()).max_abs > 1e-3);
        }
    }
}

TEST_CASE("cli suffix mode: bad documents get clear errors", "[cli][suffix][errors]") {
    const std::string dir = scratch("suffix", "errors");
    write_file(dir + "/q.txt", "query\n");
    write_file(dir + "/empty.txt", "");
    write_file(dir + "/long.txt", filler_text(900, 3));
    struct Case {
        std::vector<std::string> extra;
        int status;
        const char *needle;
    };
    const std::vector<Case> cases = {
        {{"--document", dir + "/missing.txt"}, LLMBED_ERR_FILE_NOT_FOUND, "--document"},
        {{"--document", dir + "/empty.txt"}, LLMBED_ERR_INVALID_ARGUMENT, "is empty"},
        {{"--document", dir + "/long.txt", "--max-tokens", "100"}, LLMBED_ERR_SEQUENCE_TOO_LONG, "--max-tokens 100"},
        {{"--document", dir + "/long.txt", "--attention", "bidirectional"}, LLMBED_ERR_INVALID_ARGUMENT,
         "--document: chunked prefill needs causal attention"},
    };
    for (const Case &c : cases) {
        std::vector<std::string> args = {"embed", "--model", kModel, "--input", dir + "/q.txt", "--output",
                                         dir + "/out.npy", "--max-tokens", "4096"};
        args.insert(args.end(), c.extra.begin(), c.extra.end());
        Result r = run(args, dir);
        INFO(c.needle << " stderr: " << r.err);
        CHECK(r.status == c.status);
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(slurp(dir + "/out.npy").empty());  // no output file left behind
    }
}
