/* CUDA graphs of uncached forwards (host/cuda/cuda_graph.h, issue 20 item
 * 4) on the emulated device, where a graph is the recorded launches of its
 * capture, replayed by cudaGraphLaunch:
 *   - a batch of other lengths in the same token bucket replays the first
 *     batch's graph (its launch log then holds no kernel: one graph launch
 *     did the work) and its rows equal, bit for bit, those of the same batch
 *     run eagerly (LLMBED_CUDA_GRAPHS=0) on a fresh backend;
 *   - a batch in another bucket captures a graph of its own.
 * (The golden tests, test_forward.cpp, run every packed request through the
 * graph path against the float64 references.) */
#include "emu_harness.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "backend.h"
#include "decoder/decoder.h"
#include "model/model.h"
}
#include "launch_log.h"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

namespace {

struct Batch {
    std::vector<int32_t> tokens, offsets, begin, end;
};

Batch batch_of(const std::vector<int> &lens, int vocab) {
    Batch b;
    b.offsets.push_back(0);
    for (int len : lens) {
        for (int t = 0; t < len; t++) b.tokens.push_back((int32_t)((b.tokens.size() * 7 + 3) % (size_t)vocab));
        b.begin.push_back(b.offsets.back());
        b.offsets.push_back((int32_t)b.tokens.size());
        b.end.push_back(b.offsets.back());
    }
    return b;
}

/* The batch's L2-normalised mean-pooled rows; kernels_launched receives the
 * kernels and GEMMs the log saw outside a graph launch (the postprocess
 * kernel runs after the graph, so a replayed forward shows 1). */
std::vector<float> embed(llmbed_backend *backend, const Batch &b, int *kernels_launched) {
    llmbed_forward_request req{};
    req.n_seqs = (int)b.begin.size();
    req.n_tokens = (int)b.tokens.size();
    req.tokens = b.tokens.data();
    req.seq_offsets = b.offsets.data();
    req.causal = 1;
    req.n_layers = backend->model->config.n_layers;
    req.attention_temperature = 1.0f;
    req.pool_kind = LLMBED_POOL_MEAN;
    req.n_pools = req.n_seqs;
    req.pool_begin = b.begin.data();
    req.pool_end = b.end.data();
    const int hidden = backend->model->config.hidden_size;
    const llmbed_postprocess_params post = {0, 0, hidden, 1, LLMBED_PRECISION_FLOAT32};
    req.post = &post;
    std::vector<float> rows((size_t)req.n_seqs * hidden);
    llmbed_decoder decoder{};
    decoder.backend = backend;
    llmbed_emu_launch_log log{};
    llmbed_emu_log_open(&log, 0);
    llmbed_error error{};
    const llmbed_status st = llmbed_decoder_forward(&decoder, &req, rows.data(), &error);
    llmbed_emu_log_close();
    llmbed_decoder_release(&decoder);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);
    *kernels_launched = 0;
    for (size_t i = 0; i < log.count; i++)
        *kernels_launched += log.launches[i].kind == LLMBED_EMU_KERNEL || log.launches[i].kind == LLMBED_EMU_GEMM;
    llmbed_emu_log_free(&log);
    return rows;
}

llmbed_backend *new_backend(const llmbed_model *model) {
    llmbed_backend *backend = nullptr;
    llmbed_error error{};
    REQUIRE(llmbed_emu_cuda_backend_create(model, 0, 256, &backend, &error) == LLMBED_OK);
    return backend;
}

} // namespace

TEST_CASE("graphs: a batch in a cached bucket replays its graph, bit for bit the eager rows", "[emu][graphs]") {
    llmbed_model *raw = nullptr;
    llmbed_error error{};
    const std::string path = std::string(LLMBED_TEST_DATA_DIR) + "/models/qwen3-tiny";
    REQUIRE(llmbed_model_load(path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
    std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
    const int vocab = model->config.vocab_size;
    /* 47 tokens in 3 sequences each: bucket 64 tokens, 4 sequences, 64 positions, 4 pools */
    const Batch first = batch_of({5, 30, 12}, vocab), second = batch_of({20, 7, 20}, vocab);
    const Batch other = batch_of({100, 3}, vocab); /* bucket 128 */

    llmbed_backend *graphs = new_backend(model.get());
    int launched = 0;
    embed(graphs, first, &launched);
    CHECK(launched > 0); /* captured: every kernel logged once */
    const std::vector<float> replayed = embed(graphs, second, &launched);
    CHECK(launched == 1); /* the first batch's graph did the work */
    embed(graphs, other, &launched);
    CHECK(launched > 0); /* another bucket: another capture */
    const std::vector<float> replayed_again = embed(graphs, second, &launched);
    CHECK(launched == 1);
    CHECK(replayed_again == replayed);
    graphs->ops->destroy(graphs);

    setenv("LLMBED_CUDA_GRAPHS", "0", 1);
    llmbed_backend *eager = new_backend(model.get());
    unsetenv("LLMBED_CUDA_GRAPHS");
    int eager_launched = 0;
    const std::vector<float> want = embed(eager, second, &eager_launched);
    CHECK(eager_launched > 0);
    eager->ops->destroy(eager);
    CHECK(std::memcmp(replayed.data(), want.data(), want.size() * 4) == 0);
    double norm = 0.0;
    for (int c = 0; c < model->config.hidden_size; c++) norm += (double)replayed[(size_t)c] * replayed[(size_t)c];
    CHECK(std::fabs(norm - 1.0) <= 1e-5); /* a real row: unit length after the device's L2 */
}
