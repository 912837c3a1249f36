// Batch-invariant rows (issue 24 item 3): the same 20 sequences embedded
// alone, then shuffled (with repeats) into token budgets that pack 1..64
// sequences per forward, with 1 and 2 threads, mean and last pooling: each
// row bit-identical to the sequence's row alone. A model
// of F32 safetensors and a GGUF of Q8_0/Q4_0/Q4_1/F16/BF16 blocks held
// natively. (Resumed jobs: tests/cpu/test_cli_jobs.cpp, kill + --resume.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/golden_compare.hpp"

using namespace llmbed_test;

namespace {

struct Model {
    llmbed_model *model = nullptr;
    explicit Model(const std::string &path) {
        llmbed_error error{};
        INFO(path);
        REQUIRE(llmbed_model_load(path.c_str(), nullptr, &model, &error) == LLMBED_OK);
    }
    ~Model() { llmbed_model_free(model); }
};

struct Ctx {
    llmbed_ctx *ctx = nullptr;
    Ctx(const llmbed_model *m, int64_t budget, int threads) {
        llmbed_ctx_params p;
        llmbed_ctx_params_default(&p);
        p.batch_tokens = budget;
        p.n_threads = threads;
        llmbed_error error{};
        REQUIRE(llmbed_ctx_create(m, &p, &ctx, &error) == LLMBED_OK);
    }
    ~Ctx() { llmbed_ctx_free(ctx); }
};

void check_model(const std::string &path) {
    Model m(path);
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(m.model, &info) == LLMBED_OK);
    const int hidden = info.hidden_size;
    std::mt19937 rng(2024);
    std::vector<std::vector<int32_t>> seqs(20);
    for (auto &s : seqs) {
        s.resize(1 + rng() % 40);
        for (auto &t : s) t = (int32_t)(rng() % (uint32_t)info.vocab_size);
    }
    for (llmbed_pooling pooling : {LLMBED_POOLING_MEAN, LLMBED_POOLING_LAST}) {
        llmbed_embed_params p;
        llmbed_embed_params_default(&p);
        p.pooling = pooling;
        p.normalize = 1;
        std::vector<std::vector<float>> alone(seqs.size());
        {
            Ctx one(m.model, 64, 1);
            for (size_t i = 0; i < seqs.size(); i++) {
                bool guards = false;
                REQUIRE(embed_packed(one.ctx, {seqs[i]}, nullptr, p, hidden, alone[i], guards) == LLMBED_OK);
                CHECK(guards);
            }
        }
        // 64 entries: every sequence at least thrice, shuffled.
        std::vector<int> order;
        for (int i = 0; i < 64; i++) order.push_back(i % 20);
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<std::vector<int32_t>> batch;
        for (int i : order) batch.push_back(seqs[size_t(i)]);
        int mismatches = 0, checked = 0;
        for (int threads : {1, 2}) {
            for (int64_t budget : {40, 100, 400, 3000}) { // ~1, 4, 19, all 64 sequences per forward
                Ctx c(m.model, budget, threads);
                std::vector<float> got;
                bool guards = false;
                REQUIRE(embed_packed(c.ctx, batch, nullptr, p, hidden, got, guards) == LLMBED_OK);
                CHECK(guards);
                for (size_t r = 0; r < order.size(); r++, checked++)
                    mismatches += std::memcmp(&got[r * hidden], alone[size_t(order[r])].data(),
                                              sizeof(float) * hidden) != 0;
            }
        }
        INFO(path << " pooling " << (int)pooling << ": " << mismatches << " of " << checked << " rows differ");
        CHECK(mismatches == 0);
    }
}

} // namespace

TEST_CASE("batch invariance: a row is bit-identical alone, shuffled, in any batch, with 1 or 2 threads",
          "[batch_invariance]") {
    check_model(std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen3-tiny");
    check_model(std::string(LLMBED_TEST_DATA_DIR) + "/models/llama-gguf.gguf");
}
