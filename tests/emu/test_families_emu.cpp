/* Issue 12 on the emulated CUDA backend: every family golden of
 * tests/gen_family_goldens.py through the real host/cuda code (bf16 weights
 * and activations), and NV-Embed's latent block through host/cuda/cuda_latent.c
 * (cuBLASLt GEMMs + kernels/latent_attention.cu): first against the CPU
 * reference op on the same hidden states, then end to end, as an op of the
 * decoder loop, against the float64 golden. Tolerances: cosine >= 0.999 per row (issue 12, bf16), and
 * max |diff| <= 2e-2 on unit vectors (bf16 keeps 8 significant bits; the
 * observed worst is printed). */
#include "emu_harness.h"

#include <cblas.h>
#include <omp.h>

#include <memory>

extern "C" {
#include "backend.h"
#include "cpu/cpu_ops.h"
#include "decoder/decoder.h"
}
#include "support/family_manifest.hpp"
#include "support/golden_compare.hpp"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);
extern "C" llmbed_status llmbed_emu_latent_block(const struct llmbed_model *model, int n_tokens, const float *hidden,
                                                 float *out, int chunk_tokens, llmbed_error *error);

namespace {

constexpr double kEmuMinCosine = 0.999, kEmuMaxAbs = 2e-2;

int pool_kind_of(const std::string &pooling) {
    if (pooling == "last") return LLMBED_POOL_LAST;
    if (pooling == "weighted_mean") return LLMBED_POOL_WEIGHTED_MEAN;
    if (pooling == "latent") return LLMBED_POOL_LATENT; /* the latent block op, then the mean */
    return LLMBED_POOL_MEAN;
}

} // namespace

TEST_CASE("emu: latent block (cuBLASLt + kernels) against the CPU reference op", "[emu][ops]") {
    using namespace llmbed_test;
    FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, "nv-embed");
    REQUIRE(g.error.empty());
    llmbed_model *raw = nullptr;
    llmbed_error error;
    REQUIRE(llmbed_model_load(g.model_path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
    std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
    openblas_set_num_threads(1);
    const llmbed_latent_config &l = model->config.latent;
    harness::OpReport report{"latent block", "u(|ref| + max|H|) x 4 (bf16 GEMM operands)", {}, {}};
    harness::Rng rng(24);
    for (int T : {1, 7, 129}) {
        for (int chunk : {1, 64}) {
            const int d = l.latent_dim;
            harness::Buffer<float> h = rng.bf16_values((size_t)T * d, -2.0f, 2.0f), want((size_t)T * d);
            llmbed_latent_attention_params p = {T, d, l.n_heads, l.n_latents, l.ff_inner, l.eps, chunk};
            harness::Buffer<float> scratch(llmbed_cpu_latent_attention_scratch_floats(&p, omp_get_max_threads()));
            llmbed_cpu_latent_attention(&p, &model->weights.latent, h.data(), want.data(), scratch.data());
            harness::Guarded<float> got(want.size());
            REQUIRE(llmbed_emu_latent_block(model.get(), T, h.data(), got.data(), chunk, &error) == LLMBED_OK);
            REQUIRE(got.intact());
            double scale = 0;
            for (float v : want) scale = std::max(scale, (double)std::fabs(v));
            harness::ErrorStats s;
            for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 4 * harness::kBf16Unit * scale, i);
            report.add("T" + std::to_string(T) + " chunk " + std::to_string(chunk), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
}

TEST_CASE("emu backend: every family golden (latent pooling included)", "[emu][forward]") {
    using namespace llmbed_test;
    for (const char *name : {"nv-embed", "gte-qwen2", "llm2vec", "llm2vec-lora", "gritlm", "qwen3-embedding",
                             "e5-mistral", "minicpm-embedding"}) {
        FamilyGolden g = read_family_golden(LLMBED_TEST_DATA_DIR, name);
        INFO(name << ": " << g.error);
        REQUIRE(g.error.empty());
        llmbed_model_params mp;
        llmbed_model_params_default(&mp);
        std::vector<const char *> dirs;
        for (const auto &a : g.adapters) dirs.push_back(a.c_str());
        mp.adapters = dirs.empty() ? nullptr : dirs.data();
        mp.n_adapters = (int)dirs.size();
        llmbed_model *raw = nullptr;
        llmbed_error error;
        REQUIRE(llmbed_model_load(g.model_path.c_str(), &mp, &raw, &error) == LLMBED_OK);
        std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
        openblas_set_num_threads(1);
        std::vector<int32_t> tokens, begins;
        std::vector<int> lens;
        for (const auto &c : g.cases) {
            tokens.insert(tokens.end(), c.ids.begin(), c.ids.end());
            lens.push_back((int)c.ids.size());
            begins.push_back(c.pool_begin);
        }
        const harness::Buffer<int32_t> offsets = harness::offsets_of(lens);
        const int n = (int)lens.size(), T = (int)tokens.size(), d = g.hidden;
        llmbed_backend *backend = nullptr;
        REQUIRE(llmbed_emu_cuda_backend_create(model.get(), 0, T, &backend, &error) == LLMBED_OK);
        std::vector<int32_t> pool_begin(n), pool_end(n);
        for (int i = 0; i < n; i++) {
            pool_begin[i] = offsets[i] + begins[i];
            pool_end[i] = offsets[i + 1];
        }
        llmbed_forward_request req{};
        req.n_seqs = n;
        req.n_tokens = T;
        req.tokens = tokens.data();
        req.seq_offsets = offsets.data();
        req.causal = g.attention == "causal";
        req.n_layers = model->config.n_layers;
        req.attention_temperature = 1.0f;
        req.pool_kind = pool_kind_of(g.pooling);
        req.n_pools = n;
        req.pool_begin = pool_begin.data();
        req.pool_end = pool_end.data();
        /* L2-normalised on the device by the backend's postprocess op */
        const llmbed_postprocess_params post = {0, 0, d, 1, LLMBED_PRECISION_FLOAT32};
        req.post = &post;
        std::vector<float> rows((size_t)n * d);
        llmbed_decoder decoder{};
        decoder.backend = backend;
        const llmbed_status st = llmbed_decoder_forward(&decoder, &req, rows.data(), &error);
        llmbed_decoder_release(&decoder);
        INFO(error.message);
        REQUIRE(st == LLMBED_OK);
        backend->ops->destroy(backend);
        std::vector<double> want(g.embeddings.values.begin(), g.embeddings.values.end());
        const Agreement a = compare_rows(rows.data(), want, d);
        std::printf("[emu] family %-18s %d cases in one packed batch: min cosine %.6f, max |diff| %.3g\n", name, n,
                    a.min_cosine, a.max_abs);
        CHECK(a.sane());
        CHECK(a.min_cosine >= kEmuMinCosine);
        CHECK(a.max_abs <= kEmuMaxAbs);
    }
}
