// The streaming API (include/llmbed.h llmbed_stream_*): inputs submitted
// from several threads, each with a tag, come back once each through the
// callback; their rows equal llmbed_embed_texts' rows (the same spec, the
// same tokenisation) up to the last bits a different batch may change; a
// row honours its input's width and normalisation; a bad input gets its
// error, the others their rows; close delivers everything queued.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llmbed.h"
#include "support/golden_compare.hpp"

namespace {

const std::string kModel = LLMBED_TEST_DATA_DIR "/models/families/e5-mistral";

struct Result {
    llmbed_status status;
    std::string message;
    std::vector<float> row;
    int64_t tokens;
};

struct Collector {
    std::mutex lock;
    std::map<intptr_t, Result> by_tag;
    std::atomic<int> calls{0};
    std::atomic<int> batch_inputs{0};       // on_batch: inputs run
    std::atomic<int64_t> batch_tokens{0};   // on_batch: tokens run
};

void collect(void *user, const llmbed_stream_row *row) {
    auto *c = static_cast<Collector *>(user);
    Result r{row->status, row->message, {}, row->tokens};
    if (row->row != nullptr) r.row.assign(row->row, row->row + row->dims);
    std::lock_guard<std::mutex> guard(c->lock);
    c->by_tag[(intptr_t)row->tag] = r;
    c->calls++;
}

std::vector<std::string> texts_for(int n) {
    static const char *const words[] = {"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "again"};
    std::vector<std::string> texts;
    for (int i = 0; i < n; i++) {
        std::string t;
        for (int w = 0; w <= i % 9; w++) t += std::string(w ? " " : "") + words[(i * 7 + w * 3) % 10];
        texts.push_back(t);
    }
    return texts;
}

// llmbed_embed_texts rows (float32, `width` wide) of `texts`, with dims / normalize.
std::vector<float> reference(llmbed_ctx *ctx, const std::vector<std::string> &texts, int dims, int width,
                             int normalize) {
    std::vector<const char *> p;
    std::vector<size_t> n;
    for (auto &t : texts) {
        p.push_back(t.data());
        n.push_back(t.size());
    }
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    params.dims = dims;
    params.normalize = normalize;
    std::vector<float> out(texts.size() * (size_t)width);
    REQUIRE(llmbed_embed_texts(ctx, p.data(), n.data(), (int)texts.size(), nullptr, &params, out.data(),
                               out.size() * sizeof(float), nullptr, nullptr) == LLMBED_OK);
    return out;
}

}  // namespace

TEST_CASE("stream: tagged inputs from several threads come back once each, equal to embed_texts rows", "[stream]") {
    llmbed_model *model = nullptr;
    llmbed_error e{};
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &model, &e) == LLMBED_OK);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 1;
    cp.batch_tokens = 64;  // small: several batches
    llmbed_ctx *ctx = nullptr, *reference_ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    REQUIRE(llmbed_ctx_create(model, &cp, &reference_ctx, &e) == LLMBED_OK);
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    const int hidden = info.hidden_size;

    const std::vector<std::string> texts = texts_for(40);
    Collector c;
    llmbed_stream_params sp;
    llmbed_stream_params_default(&sp);
    sp.max_wait_us = 500;
    sp.tokenize_threads = 2;
    llmbed_stream *stream = nullptr;
    REQUIRE(llmbed_stream_open(&ctx, 1, nullptr, nullptr, &sp, collect, &c, &stream, &e) == LLMBED_OK);
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; t++) {
        clients.emplace_back([&, t] {
            for (size_t i = (size_t)t; i < texts.size(); i += 4) {
                llmbed_stream_input in{};
                in.text = texts[i].data();
                in.text_len = texts[i].size();
                in.dims = i % 2 ? 8 : 0;  // odd inputs ask for 8 dims
                in.normalize = -1;
                in.tag = (void *)(intptr_t)i;
                llmbed_error err{};
                REQUIRE(llmbed_stream_submit(stream, &in, 1, &err) == LLMBED_OK);
            }
        });
    }
    for (auto &t : clients) t.join();
    // a bad input (an id outside the vocabulary) fails alone
    const int32_t bad_ids[2] = {1, info.vocab_size + 5};
    llmbed_stream_input bad{};
    bad.ids = bad_ids;
    bad.n_ids = 2;
    bad.normalize = -1;
    bad.tag = (void *)(intptr_t)1000;
    REQUIRE(llmbed_stream_submit(stream, &bad, 1, &e) == LLMBED_OK);
    llmbed_stream_input wrong{};
    wrong.normalize = 3;
    CHECK(llmbed_stream_submit(stream, &wrong, 1, &e) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_stream_close(stream);

    REQUIRE(c.calls == (int)texts.size() + 1);
    CHECK(c.by_tag[1000].status == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
    CHECK(c.by_tag[1000].message.find("position 1: token id") != std::string::npos);
    const std::vector<float> full = reference(reference_ctx, texts, 0, hidden, -1);
    const std::vector<float> eight = reference(reference_ctx, texts, 8, 8, -1);
    for (size_t i = 0; i < texts.size(); i++) {
        const Result &r = c.by_tag[(intptr_t)i];
        REQUIRE(r.status == LLMBED_OK);
        const int dims = i % 2 ? 8 : hidden;
        REQUIRE((int)r.row.size() == dims);
        const float *want = i % 2 ? &eight[i * 8] : &full[i * (size_t)hidden];
        const auto a = llmbed_test::compare_rows(r.row.data(), std::vector<double>(want, want + dims), dims);
        INFO("input " << i << " max |diff| " << a.max_abs << " min cosine " << a.min_cosine);
        CHECK(a.sane());
        CHECK(a.max_abs <= 1e-5);  // fp32, another batch: reduction order only
        CHECK(a.min_cosine >= 0.99999);
    }
    // the comparison can fail: input 0's row is not input 2's
    const float *other = &full[2 * (size_t)hidden];
    CHECK(llmbed_test::compare_rows(c.by_tag[0].row.data(), std::vector<double>(other, other + hidden), hidden).max_abs >
          1e-3);
    llmbed_ctx_free(ctx);
    llmbed_ctx_free(reference_ctx);
    llmbed_model_free(model);
}

TEST_CASE("stream: a lone input runs after max_wait, without more input to fill the batch", "[stream]") {
    llmbed_model *model = nullptr;
    llmbed_error e{};
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &model, &e) == LLMBED_OK);
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, nullptr, &ctx, &e) == LLMBED_OK);
    Collector c;
    llmbed_stream *stream = nullptr;
    REQUIRE(llmbed_stream_open(&ctx, 1, nullptr, nullptr, nullptr, collect, &c, &stream, &e) == LLMBED_OK);
    llmbed_stream_input in{};
    in.text = "a lone query";
    in.text_len = strlen(in.text);
    in.normalize = -1;
    REQUIRE(llmbed_stream_submit(stream, &in, 1, &e) == LLMBED_OK);
    for (int i = 0; i < 2000 && c.calls == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(c.calls == 1);  // not stuck waiting for the budget to fill
    CHECK(llmbed_stream_pending(stream) == 0);
    llmbed_stream_close(stream);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}

TEST_CASE("stream: is_cancelled drops inputs without a row, on_batch counts what ran", "[stream]") {
    llmbed_model *model = nullptr;
    llmbed_error e{};
    REQUIRE(llmbed_model_load(kModel.c_str(), nullptr, &model, &e) == LLMBED_OK);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = 1;
    cp.batch_tokens = 32;
    llmbed_ctx *ctx = nullptr;
    REQUIRE(llmbed_ctx_create(model, &cp, &ctx, &e) == LLMBED_OK);
    Collector c;
    llmbed_stream_params sp;
    llmbed_stream_params_default(&sp);
    sp.is_cancelled = [](void *, void *tag) { return (int)((intptr_t)tag % 3 == 1); };  // inputs 1, 4, 7, ...
    sp.on_batch = [](void *user, int n, int64_t tokens) {
        auto *col = static_cast<Collector *>(user);
        col->batch_inputs += n;
        col->batch_tokens += tokens;
    };
    llmbed_stream *stream = nullptr;
    REQUIRE(llmbed_stream_open(&ctx, 1, nullptr, nullptr, &sp, collect, &c, &stream, &e) == LLMBED_OK);
    const std::vector<std::string> texts = texts_for(13);
    std::vector<llmbed_stream_input> inputs(texts.size());
    for (size_t i = 0; i < texts.size(); i++) {
        inputs[i].text = texts[i].data();
        inputs[i].text_len = texts[i].size();
        inputs[i].normalize = -1;
        inputs[i].tag = (void *)(intptr_t)i;
    }
    REQUIRE(llmbed_stream_submit(stream, inputs.data(), (int)inputs.size(), &e) == LLMBED_OK);
    llmbed_stream_close(stream);
    REQUIRE(c.calls == (int)texts.size());
    int ran = 0;
    int64_t tokens = 0;
    for (size_t i = 0; i < texts.size(); i++) {
        const Result &r = c.by_tag[(intptr_t)i];
        INFO("input " << i << ": " << r.message);
        if (i % 3 == 1) {
            CHECK(r.status == LLMBED_ERR_INTERRUPTED);
            CHECK(r.row.empty());
            CHECK(r.message.find("cancelled") != std::string::npos);
        } else {
            CHECK(r.status == LLMBED_OK);
            CHECK(!r.row.empty());
            ran++;
            tokens += r.tokens;
        }
    }
    CHECK(c.batch_inputs == ran);  // 9 of 13: the cancelled ones never ran
    CHECK(c.batch_tokens == tokens);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}
