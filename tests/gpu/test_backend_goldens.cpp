/* The CUDA backend end to end on a real device: every tiny golden model
 * through llmbed_ctx_create(device CUDA) and llmbed_embed, all golden
 * sequences packed in one batch, cosine >= 0.999 per row (bf16 weights and
 * activations, fp32 accumulation) and max |diff| within the bf16 path bound
 * (support/golden_compare.hpp) against the float64 goldens; non-finite
 * values and all-zero rows fail. */
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "llmbed.h"
#include "support/golden_compare.hpp"
#include "support/golden_manifest.hpp"

namespace {

constexpr double kGpuMinCosine = 0.999;

/* tests/data; the bundle of bench/gpu_check.sh carries it elsewhere and says where. */
const char *data_dir() {
    const char *dir = std::getenv("LLMBED_TEST_DATA_DIR");
    return dir != nullptr && dir[0] != '\0' ? dir : LLMBED_TEST_DATA_DIR;
}

void run_backend_goldens(const char *name) {
    using namespace llmbed_test;
    GoldenManifest m = read_manifest(data_dir(), name);
    REQUIRE(m.error == "");
    llmbed_model *model = nullptr;
    llmbed_error error;
    REQUIRE(llmbed_model_load(m.model_path.c_str(), nullptr, &model, &error) == LLMBED_OK);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.device = LLMBED_DEVICE_CUDA;
    cp.device_index = 0;
    llmbed_ctx *ctx = nullptr;
    llmbed_status st = llmbed_ctx_create(model, &cp, &ctx, &error);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);

    Agreement worst;
    for (const GoldenCase &gc : m.cases) {
        llmbed_embed_params ep;
        llmbed_embed_params_default(&ep);
        ep.pooling = pooling_from_name(gc.pooling);
        ep.attention = attention_from_name(gc.attention);
        ep.normalize = 0;
        ep.layer = gc.layer;
        std::vector<std::vector<int32_t>> one{m.sequences[(size_t)gc.sequence]};
        std::vector<int32_t> instr{gc.instruction_len};
        std::vector<float> got;
        bool guards_ok = false;
        REQUIRE(embed_packed(ctx, one, &instr, ep, m.hidden_size, got, guards_ok) == LLMBED_OK);
        CHECK(guards_ok);
        std::string err;
        std::vector<double> want = m.expected(gc, err);
        REQUIRE(err == "");
        Agreement a = compare_rows(got.data(), want, m.hidden_size);
        const double relative_bound = bf16_path_relative_bound(gc.layer > 0 ? gc.layer : m.n_layers);
        INFO(case_label(m, gc) << ": min cosine " << a.min_cosine << ", max |diff| " << a.max_abs
                               << ", max |diff| / row scale " << a.max_scaled << " (bound " << relative_bound << ")");
        CHECK(a.within_bf16_tolerance(kGpuMinCosine, relative_bound));
        worst.merge(a);
    }
    std::printf("[gpu] backend %-13s %zu cases: min cosine %.6f, max |diff| %.3g\n", name, m.cases.size(),
                worst.min_cosine, worst.max_abs);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
}

} // namespace

TEST_CASE("gpu backend: tiny golden models", "[gpu][backend]") {
    for (const char *name : {"llama-tiny", "llama3-rope", "llama-linear", "mistral-tiny", "qwen2-tiny", "qwen3-tiny",
                             "minicpm-tiny", "llama-gguf", "qwen2-gguf", "qwen3-gguf"}) {
        SECTION(name) { run_backend_goldens(name); }
    }
}
