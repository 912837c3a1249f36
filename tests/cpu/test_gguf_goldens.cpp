// GGUF files written by gguf-py from tiny models (tests/gen_goldens.py):
// every quantised/half tensor must dequantise exactly as gguf-py does
// (max |diff| == 0), and the models must embed like transformers (float64)
// running the dequantised weights, at the golden tolerances. llama-gguf has
// its q/k rows permuted as llama.cpp's converter writes them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "container/gguf.h"
#include "container/tensor.h"
#include "support/golden_runner.hpp"
#include "support/npy_reader.hpp"

using namespace llmbed_test;

namespace {

void check_dequantisation(const char *name) {
    const GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, name);
    INFO(m.error);
    REQUIRE(m.ok);
    REQUIRE(!m.dequant.empty());
    llmbed_gguf *gguf = nullptr;
    llmbed_error error{};
    const llmbed_status st = llmbed_gguf_open(m.model_path.c_str(), &gguf, &error);
    INFO(m.model_path << ": " << error.message);
    REQUIRE(st == LLMBED_OK);
    int64_t n_quantised_in_file = 0;
    for (int64_t i = 0; i < llmbed_gguf_n_tensors(gguf); i++)
        if (llmbed_gguf_tensor(gguf, i)->dtype != LLMBED_DTYPE_F32) n_quantised_in_file++;
    CHECK(n_quantised_in_file == int64_t(m.dequant.size()));

    double worst = 0;
    for (const GoldenDequant &d : m.dequant) {
        INFO(name << ": " << d.tensor << " (" << d.type << ")");
        const NpyArray want = read_npy(m.dir + "/" + d.file);
        INFO(want.error);
        REQUIRE(want.ok);
        const llmbed_tensor_ref *t = llmbed_gguf_find_tensor(gguf, d.tensor.c_str());
        REQUIRE(t != nullptr);
        CHECK(std::string(llmbed_dtype_name(t->dtype)) == d.type);
        REQUIRE(t->n_dims == int(want.shape.size()));
        for (int k = 0; k < t->n_dims; k++) CHECK(t->shape[k] == want.shape[size_t(k)]);
        REQUIRE(llmbed_tensor_n_elements(t) == int64_t(want.values.size()));
        std::vector<float> got(want.values.size() + 1, -3.5f);
        REQUIRE(llmbed_tensor_to_f32(t, got.data(), &error) == LLMBED_OK);
        CHECK(got.back() == -3.5f);
        double diff = 0;
        for (size_t i = 0; i < want.values.size(); i++)
            diff = std::max(diff, std::fabs(double(got[i]) - want.values[i]));
        CHECK(diff == 0.0);
        worst = std::max(worst, diff);
    }
    llmbed_gguf_close(gguf);
    std::printf("gguf dequant %-10s %zu tensors: max|diff| vs gguf-py %.3g\n", name, m.dequant.size(), worst);
}

}  // namespace

TEST_CASE("gguf llama-gguf dequantises exactly like gguf-py", "[gguf][goldens]") { check_dequantisation("llama-gguf"); }
TEST_CASE("gguf qwen3-gguf dequantises exactly like gguf-py", "[gguf][goldens]") { check_dequantisation("qwen3-gguf"); }
TEST_CASE("gguf qwen2-gguf dequantises exactly like gguf-py", "[gguf][goldens]") { check_dequantisation("qwen2-gguf"); }

TEST_CASE("gguf llama-gguf (permuted q/k) embeds like its dequantised weights", "[gguf][goldens]") {
    run_model_goldens("llama-gguf");
}
TEST_CASE("gguf qwen3-gguf (q/k norm, head_dim 32) embeds like its dequantised weights", "[gguf][goldens]") {
    run_model_goldens("qwen3-gguf");
}
TEST_CASE("gguf qwen2-gguf (QKV bias) embeds like its dequantised weights", "[gguf][goldens]") {
    run_model_goldens("qwen2-gguf");
}
