// Golden tests of the CPU engine against transformers run in float64
// (tests/gen_goldens.py): every architecture and rope variant, causal and
// bidirectional, lengths 1..200, every pooling with and without an
// instruction mask, early exit; then packed batches against one-by-one runs.
// Tolerances (issue 3): cosine >= 0.99999 and max |diff| <= 1e-4 per case.
#include <catch2/catch.hpp>

#include "support/golden_runner.hpp"

using llmbed_test::run_model_goldens;

TEST_CASE("goldens llama-tiny (GQA 3:1, head_dim 16)", "[goldens][llama]") { run_model_goldens("llama-tiny"); }
TEST_CASE("goldens llama3-rope (llama3 rope scaling)", "[goldens][llama]") { run_model_goldens("llama3-rope"); }
TEST_CASE("goldens llama-linear (linear rope, legacy config)", "[goldens][llama]") {
    run_model_goldens("llama-linear");
}
TEST_CASE("goldens mistral-tiny (untied lm_head in file)", "[goldens][mistral]") { run_model_goldens("mistral-tiny"); }
TEST_CASE("goldens qwen2-tiny (QKV bias, yarn rope)", "[goldens][qwen2]") { run_model_goldens("qwen2-tiny"); }
TEST_CASE("goldens qwen3-tiny (q/k norm, dynamic NTK, no name prefix)", "[goldens][qwen3]") {
    run_model_goldens("qwen3-tiny");
}
TEST_CASE("goldens minicpm-tiny (scale_emb, scale_depth)", "[goldens][minicpm]") { run_model_goldens("minicpm-tiny"); }
