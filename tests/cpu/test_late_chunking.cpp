// llmbed_embed_spans (late chunking, issue 10 item 5): span i of one forward
// must equal llmbed_embed of the whole sequence pooled over that span alone
// (instruction_lens = span start, pool_ends = span end), a path that shares
// no staging with the spans run; long causal sequences chunked over the cache
// must equal the single pass to the chunked tolerance.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/golden_compare.hpp"

namespace {

constexpr double kChunkedMaxAbs = 1e-5;  // issue 10: chunked vs single pass in fp32

using ModelPtr = std::unique_ptr<llmbed_model, decltype(&llmbed_model_free)>;
using CtxPtr = std::unique_ptr<llmbed_ctx, decltype(&llmbed_ctx_free)>;

ModelPtr load(const std::string &name) {
    llmbed_model *m = nullptr;
    llmbed_error e{};
    const llmbed_status st =
        llmbed_model_load((std::string(LLMBED_TEST_DATA_DIR) + "/models/" + name).c_str(), nullptr, &m, &e);
    INFO(e.message);
    REQUIRE(st == LLMBED_OK);
    return ModelPtr(m, llmbed_model_free);
}

CtxPtr context(const llmbed_model *model, int64_t batch_tokens) {
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 2;
    cp.batch_tokens = batch_tokens;
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &ctx, nullptr) == LLMBED_OK);
    return CtxPtr(ctx, llmbed_ctx_free);
}

int vocab_of(const llmbed_model *model) {
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    return info.vocab_size;
}

std::vector<int32_t> random_ids(int n, int vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> ids((size_t)n);
    for (auto &t : ids) t = (int32_t)(rng() % (unsigned)vocab);
    return ids;
}

// The oracle: n_spans copies of the sequence, copy i pooled over span i.
std::vector<float> spans_by_embed(llmbed_ctx *ctx, const llmbed_model *model, const std::vector<int32_t> &ids,
                                  const std::vector<int32_t> &spans, const llmbed_embed_params &p) {
    const int n = (int)spans.size() / 2;
    std::vector<int32_t> tokens, starts, ends;
    std::vector<int64_t> offsets{0};
    for (int i = 0; i < n; i++) {
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        offsets.push_back((int64_t)tokens.size());
        starts.push_back(spans[2 * i]);
        ends.push_back(spans[2 * i + 1]);
    }
    llmbed_batch batch{};
    batch.tokens = tokens.data();
    batch.offsets = offsets.data();
    batch.n_sequences = n;
    batch.instruction_lens = starts.data();
    batch.pool_ends = ends.data();
    std::vector<float> out((size_t)n * (size_t)llmbed_embed_dims(model, &p), NAN);
    REQUIRE(llmbed_embed(ctx, &batch, &p, out.data(), out.size()) == LLMBED_OK);
    return out;
}

std::vector<float> spans_by_late_chunking(llmbed_ctx *ctx, const llmbed_model *model, const std::vector<int32_t> &ids,
                                          const std::vector<int32_t> &spans, const llmbed_embed_params &p) {
    const int n = (int)spans.size() / 2;
    std::vector<float> out((size_t)n * (size_t)llmbed_embed_dims(model, &p), NAN);
    const llmbed_status st = llmbed_embed_spans(ctx, ids.data(), ids.size(), spans.data(), n, &p, out.data(), out.size());
    INFO(llmbed_last_error(ctx));
    REQUIRE(st == LLMBED_OK);
    return out;
}

llmbed_embed_params params_for(llmbed_pooling pooling, llmbed_attention attention) {
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = pooling;
    p.attention = attention;
    p.normalize = 0;
    return p;
}

}  // namespace

TEST_CASE("late chunking: each span equals the full forward pooled over it", "[late-chunking]") {
    for (const char *name : {"llama-tiny", "qwen3-tiny", "mistral-tiny"}) {
        ModelPtr model = load(name);
        const std::vector<int32_t> ids = random_ids(90, vocab_of(model.get()), 5);
        const std::vector<int32_t> spans = {0, 17, 17, 40, 52, 53, 60, 90};  // a gap, a one-token span
        for (llmbed_attention attention : {LLMBED_ATTENTION_CAUSAL, LLMBED_ATTENTION_BIDIRECTIONAL}) {
            for (llmbed_pooling pooling : {LLMBED_POOLING_MEAN, LLMBED_POOLING_LAST, LLMBED_POOLING_FIRST,
                                           LLMBED_POOLING_WEIGHTED_MEAN}) {
                INFO(name << " attention " << attention << " pooling " << pooling);
                const llmbed_embed_params p = params_for(pooling, attention);
                CtxPtr ctx = context(model.get(), 512);
                const std::vector<float> want = spans_by_embed(ctx.get(), model.get(), ids, spans, p);
                const std::vector<float> got = spans_by_late_chunking(ctx.get(), model.get(), ids, spans, p);
                const std::vector<double> want64(want.begin(), want.end());
                const llmbed_test::Agreement a =
                    llmbed_test::compare_rows(got.data(), want64, (int)(want.size() / (spans.size() / 2)));
                INFO("max |diff| " << a.max_abs);
                CHECK(a.sane());
                CHECK(a.max_abs <= 1e-6);
                // the check can fail: rows in the wrong order do not pass
                std::vector<double> rotated(want64.begin() + (long)(want.size() / 4), want64.end());
                rotated.insert(rotated.end(), want64.begin(), want64.begin() + (long)(want.size() / 4));
                CHECK(llmbed_test::compare_rows(got.data(), rotated, (int)(want.size() / 4)).max_abs > 1e-3);
            }
        }
    }
}

TEST_CASE("late chunking: a long causal sequence chunked over the cache equals the single pass", "[late-chunking]") {
    ModelPtr model = load("qwen3-tiny");
    const std::vector<int32_t> ids = random_ids(300, vocab_of(model.get()), 9);
    std::vector<int32_t> spans;
    for (int a = 0; a < 300; a += 37) spans.insert(spans.end(), {a, a + 37 < 300 ? a + 37 : 300});
    for (llmbed_pooling pooling : {LLMBED_POOLING_MEAN, LLMBED_POOLING_LAST}) {
        llmbed_embed_params p = params_for(pooling, LLMBED_ATTENTION_CAUSAL);
        CtxPtr whole = context(model.get(), 512);
        const std::vector<float> want = spans_by_late_chunking(whole.get(), model.get(), ids, spans, p);
        for (int chunk : {64, 128}) {
            p.chunk_tokens = chunk;
            CtxPtr ctx = context(model.get(), chunk);
            const std::vector<float> got = spans_by_late_chunking(ctx.get(), model.get(), ids, spans, p);
            const double err = llmbed_test::max_abs_diff(got, want);
            INFO("pooling " << pooling << " chunk " << chunk << " max |diff| " << err);
            CHECK(err <= kChunkedMaxAbs);
        }
        // automatic chunking: the sequence is longer than the budget
        p.chunk_tokens = 0;
        CtxPtr small = context(model.get(), 100);
        CHECK(llmbed_test::max_abs_diff(spans_by_late_chunking(small.get(), model.get(), ids, spans, p), want) <=
              kChunkedMaxAbs);
    }
}

TEST_CASE("late chunking: bad spans get clear errors", "[late-chunking][errors]") {
    ModelPtr model = load("llama-tiny");
    CtxPtr ctx = context(model.get(), 256);
    const std::vector<int32_t> ids = random_ids(20, vocab_of(model.get()), 2);
    struct Case {
        std::vector<int32_t> spans;
        const char *needle;
    };
    const std::vector<Case> cases = {
        {{0, 21}, "span 0 [0, 21) is empty or outside the sequence's 20 tokens"},
        {{-1, 3}, "span 0 [-1, 3)"},
        {{4, 4}, "span 0 [4, 4) is empty"},
        {{5, 9, 2, 4}, "span 1 [2, 4) starts before span 0 ends (9)"},
        {{0, 10, 9, 12}, "span 1 [9, 12) starts before span 0 ends (10)"},
    };
    llmbed_embed_params p = params_for(LLMBED_POOLING_MEAN, LLMBED_ATTENTION_CAUSAL);
    std::vector<float> out(1024);
    for (const Case &c : cases) {
        INFO(c.needle);
        CHECK(llmbed_embed_spans(ctx.get(), ids.data(), ids.size(), c.spans.data(), (int)c.spans.size() / 2, &p,
                                 out.data(), out.size()) == LLMBED_ERR_INVALID_ARGUMENT);
        CHECK(std::string(llmbed_last_error(ctx.get())).find(c.needle) != std::string::npos);
    }
    const int32_t one[2] = {0, 5};
    CHECK(llmbed_embed_spans(ctx.get(), ids.data(), ids.size(), one, 0, &p, out.data(), out.size()) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(llmbed_embed_spans(ctx.get(), ids.data(), ids.size(), one, 1, &p, out.data(), 3) ==
          LLMBED_ERR_BUFFER_TOO_SMALL);
    p.pooling = LLMBED_POOLING_NONE;
    CHECK(llmbed_embed_spans(ctx.get(), ids.data(), ids.size(), one, 1, &p, out.data(), out.size()) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    p.pooling = LLMBED_POOLING_MEAN;
    const std::vector<int32_t> bad_ids = {1, 2, 100000};
    const int32_t all[2] = {0, 3};
    CHECK(llmbed_embed_spans(ctx.get(), bad_ids.data(), bad_ids.size(), all, 1, &p, out.data(), out.size()) ==
          LLMBED_ERR_TOKEN_OUT_OF_RANGE);
}
