// Every bad input to llmbed_ctx_create / llmbed_embed returns its own status
// and a message naming the field, sequence and position; the output buffer is
// not touched past its capacity.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/random_model.hpp"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

namespace {

struct Fixture {
    ModelPtr model = make_random_model(RandomModelSpec{});
    llmbed_ctx *ctx = nullptr;
    std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7};
    std::vector<int64_t> offsets = {0, 3, 7};
    std::vector<int32_t> instr = {1, 0};
    llmbed_embed_params params;
    GuardedBuffer out{2 * 48};
    Fixture() {
        llmbed_error err{};
        REQUIRE(llmbed_ctx_create(model.get(), nullptr, &ctx, &err) == LLMBED_OK);
        llmbed_embed_params_default(&params);
    }
    ~Fixture() { llmbed_ctx_free(ctx); }
    llmbed_batch batch() { return {tokens.data(), offsets.data(), (int)offsets.size() - 1, instr.data()}; }
    llmbed_status run(size_t capacity = 2 * 48) {
        auto b = batch();
        return llmbed_embed(ctx, &b, &params, out.data(), capacity);
    }
    std::string message() const { return llmbed_last_error(ctx); }
};

bool has(const std::string &haystack, const std::string &needle) { return haystack.find(needle) != std::string::npos; }

} // namespace

TEST_CASE("a valid call succeeds and clears the last error", "[engine][errors]") {
    Fixture f;
    f.tokens[0] = 500;
    CHECK(f.run() == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
    CHECK(f.message() != "");
    f.tokens[0] = 1;
    CHECK(f.run() == LLMBED_OK);
    CHECK(f.message() == "");
    CHECK(f.out.guards_intact());
}

TEST_CASE("token ids outside the vocabulary name sequence, position and id", "[engine][errors]") {
    Fixture f;
    f.tokens[5] = 101; // vocab is 101: sequence 1, position 2
    CHECK(f.run() == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
    CHECK(has(f.message(), "sequence 1, position 2: token id 101"));
    f.tokens[5] = -1;
    CHECK(f.run() == LLMBED_ERR_TOKEN_OUT_OF_RANGE);
    CHECK(has(f.message(), "token id -1"));
}

TEST_CASE("empty sequences are rejected by index", "[engine][errors]") {
    Fixture f;
    f.offsets = {0, 3, 3, 7};
    f.instr = {0, 0, 0};
    CHECK(f.run(3 * 48) == LLMBED_ERR_EMPTY_SEQUENCE);
    CHECK(has(f.message(), "sequence 1 is empty"));
}

TEST_CASE("malformed batches are invalid arguments", "[engine][errors]") {
    Fixture f;
    f.offsets = {0, 5, 3};
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "offsets[2]"));
    f.offsets = {1, 3, 7};
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "offsets[0]"));
    f.offsets = {0, 3, 7};
    llmbed_batch b = f.batch();
    b.n_sequences = 0;
    CHECK(llmbed_embed(f.ctx, &b, &f.params, f.out.data(), f.out.size()) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "n_sequences"));
    b = f.batch();
    b.tokens = nullptr;
    CHECK(llmbed_embed(f.ctx, &b, &f.params, f.out.data(), f.out.size()) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(llmbed_embed(f.ctx, nullptr, &f.params, f.out.data(), f.out.size()) == LLMBED_ERR_INVALID_ARGUMENT);
    b = f.batch();
    CHECK(llmbed_embed(f.ctx, &b, &f.params, nullptr, 96) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(llmbed_embed(nullptr, &b, &f.params, f.out.data(), 96) == LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("instruction lengths outside [0, length] are rejected", "[engine][errors]") {
    Fixture f;
    f.instr = {0, 5};
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "instruction_lens[1]: 5"));
    f.instr = {-1, 0};
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "instruction_lens[0]"));
}

TEST_CASE("layer outside [0, n_layers] is LAYER_OUT_OF_RANGE", "[engine][errors]") {
    Fixture f;
    f.params.layer = 3;
    CHECK(f.run() == LLMBED_ERR_LAYER_OUT_OF_RANGE);
    CHECK(has(f.message(), "layer 3 outside [0, 2]"));
    f.params.layer = -1;
    CHECK(f.run() == LLMBED_ERR_LAYER_OUT_OF_RANGE);
    f.params.layer = 2;
    CHECK(f.run() == LLMBED_OK);
}

TEST_CASE("bad embed params are invalid arguments naming the field", "[engine][errors]") {
    Fixture f;
    f.params.dims = 49;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "dims 49"));
    CHECK(llmbed_embed_dims(f.model.get(), &f.params) == 0);
    f.params.dims = -2;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_embed_params_default(&f.params);
    f.params.struct_size = 8;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "struct_size"));
    llmbed_embed_params_default(&f.params);
    f.params.pooling = (llmbed_pooling)17;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "pooling 17"));
    llmbed_embed_params_default(&f.params);
    f.params.attention = (llmbed_attention)-3;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_embed_params_default(&f.params);
    f.params.normalize = 2;
    CHECK(f.run() == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(f.message(), "normalize 2"));
}

TEST_CASE("a small output buffer states needed vs given", "[engine][errors]") {
    Fixture f;
    CHECK(f.run(95) == LLMBED_ERR_BUFFER_TOO_SMALL);
    CHECK(has(f.message(), "95 floats given"));
    CHECK(has(f.message(), "96 needed"));
    f.params.dims = 5;
    CHECK(f.run(10) == LLMBED_OK);
    CHECK(f.run(9) == LLMBED_ERR_BUFFER_TOO_SMALL);
    f.params.dims = 0;
    f.params.pooling = LLMBED_POOLING_NONE; // 7 tokens x 48
    CHECK(f.run(96) == LLMBED_ERR_BUFFER_TOO_SMALL);
    CHECK(has(f.message(), "336 needed"));
    CHECK(f.out.guards_intact());
}

TEST_CASE("context creation rejects bad params", "[engine][errors]") {
    auto model = make_random_model(RandomModelSpec{});
    llmbed_ctx *ctx = nullptr;
    llmbed_error err{};
    llmbed_ctx_params p;
    llmbed_ctx_params_default(&p);
    CHECK(llmbed_ctx_create(nullptr, &p, &ctx, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(ctx == nullptr);
    p.batch_tokens = -5;
    CHECK(llmbed_ctx_create(model.get(), &p, &ctx, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(err.message, "batch_tokens -5"));
    llmbed_ctx_params_default(&p);
    p.n_threads = -1;
    CHECK(llmbed_ctx_create(model.get(), &p, &ctx, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(has(err.message, "n_threads"));
    llmbed_ctx_params_default(&p);
    p.device = (llmbed_device)7;
    CHECK(llmbed_ctx_create(model.get(), &p, &ctx, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    llmbed_ctx_params_default(&p);
    p.struct_size = 3;
    CHECK(llmbed_ctx_create(model.get(), &p, &ctx, &err) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(ctx == nullptr);
    llmbed_ctx_free(nullptr);
    CHECK(std::string(llmbed_last_error(nullptr)) == "");
}

TEST_CASE("a model without some weights cannot get a CPU context", "[engine][errors]") {
    RandomModelSpec spec;
    spec.qk_norm = true;
    auto model = make_random_model(spec);
    llmbed_ctx *ctx = nullptr;
    llmbed_error err{};
    float *saved = model->weights.layers[1].k_norm;
    model->weights.layers[1].k_norm = nullptr;
    CHECK(llmbed_ctx_create(model.get(), nullptr, &ctx, &err) == LLMBED_ERR_MISSING_TENSOR);
    CHECK(has(err.message, "layer 1 has no k_norm"));
    model->weights.layers[1].k_norm = saved;
    void *embedding = model->weights.token_embedding.data;
    model->weights.token_embedding.data = nullptr;
    CHECK(llmbed_ctx_create(model.get(), nullptr, &ctx, &err) == LLMBED_ERR_MISSING_TENSOR);
    CHECK(has(err.message, "no weights"));
    CHECK(ctx == nullptr);
    model->weights.token_embedding.data = embedding;
}
