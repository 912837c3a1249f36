/* End-to-end emulated forward of every tiny golden model through the real
 * CUDA backend host code (host/cuda, compiled against the emulated runtime
 * and cuBLASLt in emu_cuda_backend.cpp) driven by the one decoder loop
 * (host/decoder): bf16 weight upload, activation arena, pinned staging,
 * cached GEMM plans, the kernel sequence (RMSNorm, q/k norm, RoPE, flash
 * attention, SwiGLU, residual adds in the GEMMs, final norm), pooling and
 * the download. All golden sequences of a model run as ONE
 * packed batch (lengths 1..200 mixed):
 *   - hidden states, causal and bidirectional, all layers;
 *   - mean pooling with instruction masks (3 tokens where the goldens mask);
 *   - early exit after layer 1 with mean pooling;
 *   - last-token pooling.
 * Tolerance: cosine >= 0.999 per row against the float64 goldens (bf16
 * weights and activations, fp32 accumulation and residual stream), and
 * max |diff| within the bf16 rounding bound of the path relative to the
 * row's largest value (support/golden_compare.hpp); any non-finite value or
 * an all-zero row fails. */
#include "emu_harness.h"

#include <cblas.h>

#include <memory>

extern "C" {
#include "backend.h"
#include "decoder/decoder.h"
}
#include "support/golden_compare.hpp"
#include "support/golden_manifest.hpp"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

namespace {

constexpr double kEmuMinCosine = 0.999;

struct Request {
    std::string attention;
    int layer;           /* 0 = all layers, as in the manifest */
    std::string pooling; /* "none", "mean" or "last" */
    bool masked;         /* instruction_len 3 for sequences the goldens mask, else 0 */
};

void run_emulated_goldens(const char *name) {
    using namespace llmbed_test;
    GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, name);
    REQUIRE(m.error == "");
    llmbed_model *raw = nullptr;
    llmbed_error error;
    REQUIRE(llmbed_model_load(m.model_path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
    std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
    openblas_set_num_threads(1);

    std::vector<int32_t> tokens;
    std::vector<int> lens;
    for (const auto &seq : m.sequences) {
        tokens.insert(tokens.end(), seq.begin(), seq.end());
        lens.push_back((int)seq.size());
    }
    const harness::Buffer<int32_t> offsets = harness::offsets_of(lens);
    const int C = model->config.hidden_size, n = (int)lens.size(), T = (int)tokens.size();
    std::vector<int32_t> masks(n);
    for (int s = 0; s < n; s++) masks[s] = lens[s] > 3 ? 3 : 0;

    llmbed_backend *backend = nullptr;
    llmbed_status st = llmbed_emu_cuda_backend_create(model.get(), 0, T, &backend, &error);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);
    CHECK(std::string(backend->ops->name) == "cuda");

    const Request requests[] = {{"causal", 0, "none", false},
                                {"bidirectional", 0, "none", false},
                                {"causal", 0, "mean", true},
                                {"bidirectional", 1, "mean", false},
                                {"causal", 0, "last", false}};
    const double full_bound = bf16_path_relative_bound(model->config.n_layers);
    Agreement worst;
    size_t n_checked = 0;
    for (const Request &r : requests) {
        std::vector<int32_t> pool_begin(n), pool_end(n);
        for (int s = 0; s < n; s++) {
            pool_begin[s] = offsets[s] + (r.masked ? masks[s] : 0);
            pool_end[s] = offsets[s + 1];
        }
        llmbed_forward_request req{};
        req.n_seqs = n;
        req.n_tokens = T;
        req.tokens = tokens.data();
        req.seq_offsets = offsets.data();
        req.causal = r.attention == "causal";
        req.n_layers = r.layer > 0 ? r.layer : model->config.n_layers;
        req.attention_temperature = 1.0f;
        req.pool_kind = r.pooling == "none" ? 0 : (r.pooling == "mean" ? LLMBED_POOL_MEAN : LLMBED_POOL_LAST);
        req.n_pools = n;
        req.pool_begin = pool_begin.data();
        req.pool_end = pool_end.data();
        const size_t rows = r.pooling == "none" ? (size_t)T : (size_t)n;
        harness::Guarded<float> out(rows * C);
        llmbed_decoder decoder{};
        decoder.backend = backend;
        const double relative_bound = bf16_path_relative_bound(req.n_layers);
        st = llmbed_decoder_forward(&decoder, &req, out.data(), &error);
        llmbed_decoder_release(&decoder);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        REQUIRE(out.intact());
        for (const GoldenCase &gc : m.cases) {
            const int s = gc.sequence;
            if (gc.attention != r.attention || gc.layer != r.layer || gc.pooling != r.pooling) continue;
            if (r.pooling != "none" && gc.instruction_len != (r.masked ? masks[s] : 0)) continue;
            std::string err;
            std::vector<double> want = m.expected(gc, err);
            REQUIRE(err == "");
            const float *got = r.pooling == "none" ? out.data() + (size_t)offsets[s] * C : out.data() + (size_t)s * C;
            Agreement a = compare_rows(got, want, C);
            INFO(case_label(m, gc) << ": min cosine " << a.min_cosine << ", max |diff| " << a.max_abs
                                   << ", max |diff| / row scale " << a.max_scaled << " (bound " << relative_bound
                                   << ")");
            CHECK(a.within_bf16_tolerance(kEmuMinCosine, relative_bound));
            worst.merge(a);
            n_checked++;
        }
    }
    backend->ops->destroy(backend);
    CHECK(n_checked >= 2 * m.sequences.size());
    std::printf("[emu] backend %-13s %zu golden cases from 5 packed requests of %d sequences: min cosine %.6f, "
                "max |diff| %.3g, max |diff| / row scale %.3g (bound %.3g)\n",
                name, n_checked, n, worst.min_cosine, worst.max_abs, worst.max_scaled, full_bound);
}

} // namespace

TEST_CASE("emu backend: llama-tiny goldens", "[emu][forward]") { run_emulated_goldens("llama-tiny"); }
TEST_CASE("emu backend: llama3-rope goldens", "[emu][forward]") { run_emulated_goldens("llama3-rope"); }
TEST_CASE("emu backend: llama-linear goldens", "[emu][forward]") { run_emulated_goldens("llama-linear"); }
TEST_CASE("emu backend: mistral-tiny goldens", "[emu][forward]") { run_emulated_goldens("mistral-tiny"); }
TEST_CASE("emu backend: qwen2-tiny goldens", "[emu][forward]") { run_emulated_goldens("qwen2-tiny"); }
TEST_CASE("emu backend: qwen3-tiny goldens", "[emu][forward]") { run_emulated_goldens("qwen3-tiny"); }
TEST_CASE("emu backend: minicpm-tiny goldens", "[emu][forward]") { run_emulated_goldens("minicpm-tiny"); }
TEST_CASE("emu backend: llama-gguf goldens", "[emu][forward]") { run_emulated_goldens("llama-gguf"); }
TEST_CASE("emu backend: qwen2-gguf goldens", "[emu][forward]") { run_emulated_goldens("qwen2-gguf"); }
TEST_CASE("emu backend: qwen3-gguf goldens", "[emu][forward]") { run_emulated_goldens("qwen3-gguf"); }
TEST_CASE("emu backend: gemma3-tiny goldens", "[emu][forward][gemma]") { run_emulated_goldens("gemma3-tiny"); }
TEST_CASE("emu backend: gemma3-gguf goldens", "[emu][forward][gemma]") { run_emulated_goldens("gemma3-gguf"); }
TEST_CASE("emu backend: embeddinggemma-tiny goldens (bidirectional windows)", "[emu][forward][gemma]") {
    run_emulated_goldens("embeddinggemma-tiny");
}
