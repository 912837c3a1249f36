// `llmbed embed --late-chunking` (issue 10 item 5): the rows against
// llmbed_embed of each whole line pooled over one span (instruction_lens =
// span start, pool_ends = span end), the row index file line by line, and
// bad inputs, each one error line and no file left behind.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/cli_process.hpp"
#include "support/golden_compare.hpp"
#include "support/npy_reader.hpp"

using namespace llmbed_test::cli;

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";  // causal, last token, EOS

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;
using CtxPtr = std::unique_ptr<llmbed_ctx, decltype(&llmbed_ctx_free)>;

std::vector<int32_t> tokenize(const llmbed_model *model, const std::string &text) {
    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    std::vector<int32_t> ids(text.size() + 16);
    size_t n = 0;
    REQUIRE(llmbed_tokenize(model, text.data(), text.size(), &tp, ids.data(), ids.size(), &n, nullptr, nullptr) ==
            LLMBED_OK);
    ids.resize(n);
    return ids;
}

// Rows of (sequence, span) pairs through llmbed_embed, each copy pooled over its span.
std::vector<double> oracle(const llmbed_model *model, const std::vector<std::vector<int32_t>> &seqs,
                           const std::vector<std::vector<int32_t>> &spans) {
    std::vector<int32_t> tokens, starts, ends;
    std::vector<int64_t> offsets{0};
    for (size_t s = 0; s < seqs.size(); s++) {
        for (size_t i = 0; i < spans[s].size(); i += 2) {
            tokens.insert(tokens.end(), seqs[s].begin(), seqs[s].end());
            offsets.push_back((int64_t)tokens.size());
            starts.push_back(spans[s][i]);
            ends.push_back(spans[s][i + 1]);
        }
    }
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 1;
    llmbed_ctx *raw = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &raw, nullptr) == LLMBED_OK);
    CtxPtr ctx(raw, llmbed_ctx_free);
    llmbed_batch batch{};
    batch.tokens = tokens.data();
    batch.offsets = offsets.data();
    batch.n_sequences = (int)starts.size();
    batch.instruction_lens = starts.data();
    batch.pool_ends = ends.data();
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = LLMBED_POOLING_MEAN;
    std::vector<float> out(starts.size() * 64, NAN);
    REQUIRE(llmbed_embed(ctx.get(), &batch, &p, out.data(), out.size()) == LLMBED_OK);
    out.resize(starts.size() * (size_t)llmbed_embed_dims(model, &p));
    return std::vector<double>(out.begin(), out.end());
}

}  // namespace

TEST_CASE("cli late chunking: rows equal each span of the whole line, with a row index", "[cli][late-chunking]") {
    const std::string dir = scratch("late", "rows");
    const std::string line1 = "the quick brown fox jumps over the lazy dog and keeps running far away from home";
    const std::string line3 = "memory keeps the long context";
    write_file(dir + "/in.jsonl", line1 + "\n{\"text\": \"a b c d e f g\", \"spans\": [[0, 3], [4, 6]], \"id\": 7}\n" +
                                      line3 + "\n");
    llmbed_model *raw = nullptr;
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &raw, nullptr) == LLMBED_OK);
    ModelPtr model(raw, llmbed_model_free);
    const std::vector<std::vector<int32_t>> seqs = {tokenize(model.get(), line1), tokenize(model.get(), "a b c d e f g"),
                                                    tokenize(model.get(), line3)};
    std::vector<std::vector<int32_t>> spans(3);
    for (int s : {0, 2})
        for (int a = 0; a < (int)seqs[s].size(); a += 5)
            spans[s].insert(spans[s].end(), {a, std::min(a + 5, (int)seqs[s].size())});
    spans[1] = {0, 3, 4, 6};
    const std::vector<double> want = oracle(model.get(), seqs, spans);

    Result r = run({"embed", "--model", kModel, "--input", dir + "/in.jsonl", "--output", dir + "/out.npy",
                    "--late-chunking", "tokens:5", "--pooling", "mean", "--id-field", "id", "--chunk-tokens", "8",
                    "--threads", "1"},
                   dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const llmbed_test::NpyArray got = llmbed_test::read_npy(dir + "/out.npy");
    REQUIRE(got.ok);
    REQUIRE((size_t)got.rows() * (size_t)got.row_size() == want.size());
    const std::vector<float> rows(got.values.begin(), got.values.end());
    const llmbed_test::Agreement a = llmbed_test::compare_rows(rows.data(), want, (int)got.row_size());
    INFO("min cosine " << a.min_cosine << " max |diff| " << a.max_abs);
    CHECK(a.sane());
    CHECK(a.min_cosine >= 0.99999);
    CHECK(a.max_abs <= 1e-5);  // chunks of 8 over the cache vs one pass

    std::string index;
    int64_t row = 0;
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < spans[s].size(); i += 2)
            index += "{\"row\": " + std::to_string(row++) + ", \"line\": " + std::to_string(s + 1) + ", \"span\": [" +
                     std::to_string(spans[s][i]) + ", " + std::to_string(spans[s][i + 1]) + "]" +
                     (s == 1 ? ", \"id\": 7" : "") + "}\n";
    CHECK(slurp(dir + "/out.rows.jsonl") == index);
}

TEST_CASE("cli late chunking: bad specs, spans and combinations get clear errors", "[cli][late-chunking][errors]") {
    const std::string dir = scratch("late", "errors");
    write_file(dir + "/text.txt", "one two three\n");
    write_file(dir + "/range.jsonl", "{\"text\": \"a b\", \"spans\": [[0, 99]]}\n");
    write_file(dir + "/order.jsonl", "{\"text\": \"a b c d e\", \"spans\": [[2, 4], [0, 1]]}\n");
    write_file(dir + "/overlap.jsonl", "{\"input_ids\": [1, 2, 3, 4], \"spans\": [[0, 3], [2, 4]]}\n");
    write_file(dir + "/empty.jsonl", "{\"text\": \"a b\", \"spans\": []}\n");
    struct Case {
        std::vector<std::string> args;
        int status;
        const char *needle;
    };
    const std::vector<Case> cases = {
        {{"--input", dir + "/text.txt", "--late-chunking", "tokens:0"}, LLMBED_ERR_INVALID_ARGUMENT,
         "--late-chunking 'tokens:0': expected tokens:N"},
        {{"--input", dir + "/text.txt", "--late-chunking", "words:3"}, LLMBED_ERR_INVALID_ARGUMENT,
         "--late-chunking 'words:3'"},
        {{"--input", dir + "/text.txt", "--late-chunking", "tokens:2", "--shard-rows", "5"},
         LLMBED_ERR_INVALID_ARGUMENT, "cannot be combined with --shard-rows"},
        {{"--input", dir + "/text.txt", "--late-chunking", "tokens:2", "--prompt", "q: "}, LLMBED_ERR_INVALID_ARGUMENT,
         "cannot be combined with --prompt"},
        {{"--input", dir + "/text.txt", "--late-chunking", "spans"}, LLMBED_ERR_INPUT_FORMAT,
         "text.txt:1: no \"spans\" field"},
        {{"--input", dir + "/range.jsonl", "--late-chunking", "spans"}, LLMBED_ERR_INVALID_ARGUMENT,
         "range.jsonl:1: spans: span 0 [0, 99) is empty or outside the sequence's"},
        {{"--input", dir + "/order.jsonl", "--late-chunking", "spans"}, LLMBED_ERR_INVALID_ARGUMENT,
         "order.jsonl:1: spans: span 1 [0, 1) starts before span 0 ends (4)"},
        {{"--input", dir + "/overlap.jsonl", "--late-chunking", "spans"}, LLMBED_ERR_INVALID_ARGUMENT,
         "overlap.jsonl:1: spans: span 1 [2, 4) starts before span 0 ends (3)"},
        {{"--input", dir + "/empty.jsonl", "--late-chunking", "tokens:1"}, LLMBED_ERR_INPUT_FORMAT,
         "empty.jsonl:1: field \"spans\" is empty"},
        {{"--input", dir + "/text.txt", "--late-chunking", "tokens:1", "--max-tokens", "2"},
         LLMBED_ERR_SEQUENCE_TOO_LONG, "text.txt:1: "},
        {{"--input", dir + "/range.jsonl"}, LLMBED_ERR_INPUT_FORMAT, "field \"spans\" is for late chunking"},
    };
    for (const Case &c : cases) {
        std::vector<std::string> args = {"embed", "--model", kModel, "--output", dir + "/out.npy"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        Result r = run(args, dir);
        INFO(c.needle << "\nstderr: " << r.err);
        CHECK(r.status == c.status);
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(slurp(dir + "/out.npy").empty());
        CHECK(slurp(dir + "/out.rows.jsonl").empty());
    }
}
