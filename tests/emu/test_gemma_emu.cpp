/* Gemma 3's kernels in the emulator against the CPU reference ops that take
 * the same params (op harness conventions of test_ops.cpp): the sliding
 * window of the varlen attention kernel (causal and bidirectional, windows
 * shorter and longer than the sequences), the GELU-tanh gate, the
 * post-branch norm into the residual, and the chunked prefill of a
 * windowed model over the bf16 cache (attention_cache.cu's window) against
 * the float64 goldens of the same sequences.
 *
 * Tolerances (u = 2^-8): attention u(|ref| + max|v|) as in test_ops.cpp;
 * the gate 2u|ref| + 1e-6 (one bf16 rounding, tanh/exp differences); the
 * residual update 1e-5 (1 + |ref|) (fp32 output, summation order); the
 * chunked forward the bf16 path bound of support/golden_compare.hpp. */
#include "emu_harness.h"

#include <cblas.h>
#include <omp.h>

#include <memory>

extern "C" {
#include "backend.h"
#include "decoder/decoder.h"
}
#include "cpu/cpu_ops.h"
#include "kernels/attention.cuh"
#include "kernels/rmsnorm.cuh"
#include "kernels/swiglu.cuh"
#include "support/golden_compare.hpp"
#include "support/golden_manifest.hpp"

extern "C" llmbed_status llmbed_emu_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                                        int64_t max_tokens, llmbed_backend **out,
                                                        llmbed_error *error);

using harness::ErrorStats;
using harness::Guarded;
using harness::kBf16Unit;
using harness::OpReport;
using harness::Rng;
template <typename T>
using Buf = harness::Buffer<T>;

TEST_CASE("op: attention with a sliding window", "[emu][ops][gemma]") {
    OpReport report{"attention window", "u(|ref|+max|v|)", {}, {}};
    Rng rng(23);
    struct Case {
        int head_dim, n_heads, n_kv_heads;
        std::vector<int> lens;
    };
    const std::vector<Case> cases = {{16, 4, 2, {1, 7, 40}}, {64, 2, 1, {129}}, {128, 4, 2, {65, 0, 100}},
                                     {32, 2, 1, {33, 31}}};
    for (const Case &c : cases) {
        for (int causal : {1, 0}) {
            for (int window : {1, 5, 33, 70, 1000}) {
                Buf<int32_t> off = harness::offsets_of(c.lens);
                const int T = off.back(), D = c.head_dim;
                int max_len = 0;
                for (int l : c.lens) max_len = std::max(max_len, l);
                llmbed_attention_params p = {(int)c.lens.size(), off.data(), c.n_heads, c.n_kv_heads, D, causal,
                                             (float)(1.0 / std::sqrt((double)D)), nullptr, nullptr, window};
                const size_t nq = (size_t)T * c.n_heads * D, nkv = (size_t)T * c.n_kv_heads * D;
                Buf<float> q = rng.bf16_values(nq, -2.0f, 2.0f), k = rng.bf16_values(nkv, -2.0f, 2.0f),
                           v = rng.bf16_values(nkv, -1.0f, 1.0f), want(nq);
                Buf<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
                llmbed_cpu_attention(&p, q.data(), k.data(), v.data(), want.data(), scratch.data());
                Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k), v16 = harness::to_bf16(v);
                const int64_t qd = (int64_t)c.n_heads * D, kvd = (int64_t)c.n_kv_heads * D;
                const llmbed_cuda_qkv view = {q16.data(), k16.data(), v16.data(), qd, kvd};
                Guarded<uint16_t> got(nq);
                REQUIRE(llmbed_cuda_attention(&p, max_len, &view, nullptr, got.data(), nullptr, nullptr) == LLMBED_OK);
                harness::sync();
                REQUIRE(got.intact());
                double max_v = 0.0;
                for (float x : v) max_v = std::max(max_v, (double)std::fabs(x));
                ErrorStats s;
                for (size_t i = 0; i < nq; i++)
                    s.add(harness::bf16_value(got[i]), want[i], kBf16Unit * (std::fabs(want[i]) + max_v), i);
                report.add("D" + std::to_string(D) + (causal ? " causal" : " bidir") + " w" + std::to_string(window) +
                               " " + harness::lens_name(c.lens),
                           s);
                CHECK(s.worst_ratio <= 1.0);
            }
        }
    }
    /* the window must matter: without it the kernel's output for window 5 differs */
    Buf<int32_t> off = harness::offsets_of({40});
    llmbed_attention_params narrow = {1, off.data(), 2, 1, 16, 1, 0.25f, nullptr, nullptr, 5}, wide = narrow;
    wide.window = 0;
    Buf<float> q = rng.bf16_values(40 * 2 * 16, -2.0f, 2.0f), kv = rng.bf16_values(40 * 16, -2.0f, 2.0f);
    Buf<uint16_t> q16 = harness::to_bf16(q), kv16 = harness::to_bf16(kv);
    Guarded<uint16_t> a(40 * 2 * 16), b(40 * 2 * 16);
    const llmbed_cuda_qkv view = {q16.data(), kv16.data(), kv16.data(), 2 * 16, 16};
    REQUIRE(llmbed_cuda_attention(&narrow, 40, &view, nullptr, a.data(), nullptr, nullptr) == LLMBED_OK);
    REQUIRE(llmbed_cuda_attention(&wide, 40, &view, nullptr, b.data(), nullptr, nullptr) == LLMBED_OK);
    harness::sync();
    double differ = 0;
    for (size_t i = 0; i < a.size(); i++)
        differ = std::max(differ, (double)std::fabs(harness::bf16_value(a[i]) - harness::bf16_value(b[i])));
    CHECK(differ > 1e-2);
}

TEST_CASE("op: GELU-tanh gate (Gemma's gelu_pytorch_tanh)", "[emu][ops][gemma]") {
    OpReport report{"gelu_tanh gate", "2u|ref|+1e-6", {}, {}};
    Rng rng(24);
    for (int T : {1, 7, 129}) {
        for (int I : {1, 129}) {
            llmbed_swiglu_params p = {T, I, LLMBED_GATE_GELU_TANH};
            Buf<float> gate = rng.bf16_values((size_t)T * I, -6.0f, 6.0f), up = rng.bf16_values((size_t)T * I, -2.0f, 2.0f);
            Buf<float> want((size_t)T * I), silu((size_t)T * I);
            llmbed_cpu_swiglu(&p, gate.data(), up.data(), want.data());
            Buf<uint16_t> g16 = harness::to_bf16(gate), u16 = harness::to_bf16(up);
            Guarded<uint16_t> got((size_t)T * I);
            REQUIRE(llmbed_cuda_swiglu(&p, g16.data(), u16.data(), I, got.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (size_t i = 0; i < want.size(); i++)
                s.add(harness::bf16_value(got[i]), want[i], 2 * kBf16Unit * std::fabs(want[i]) + 1e-6, i);
            report.add(std::to_string(T) + "x" + std::to_string(I), s);
            CHECK(s.worst_ratio <= 1.0);
            /* a silu gate is a different function: the comparison above would catch a wrong branch */
            llmbed_swiglu_params silu_p = {T, I, LLMBED_GATE_SILU};
            llmbed_cpu_swiglu(&silu_p, gate.data(), up.data(), silu.data());
            double apart = 0;
            for (size_t i = 0; i < want.size(); i++) apart = std::max(apart, (double)std::fabs(want[i] - silu[i]));
            if (T * I > 100) CHECK(apart > 0.05);
        }
    }
    /* a row stride below the width is refused (an activation outside the enum cannot be built in
     * C++ without undefined behaviour, which UBSan rejects) */
    llmbed_swiglu_params bad = {1, 2, LLMBED_GATE_GELU_TANH};
    uint16_t x[2] = {0, 0};
    CHECK(llmbed_cuda_swiglu(&bad, x, x, 1, x, nullptr, nullptr) == LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("op: post-branch norm into the residual (Gemma 3)", "[emu][ops][gemma]") {
    OpReport report{"rmsnorm into residual", "1e-5(1+|ref|)", {}, {}};
    Rng rng(25);
    for (int rows : {1, 7, 129}) {
        for (int dim : {1, 48, 640}) {
            llmbed_rmsnorm_params p = {rows, dim, 1e-6f};
            Buf<float> x = rng.bf16_values((size_t)rows * dim, -3.0f, 3.0f), weight(dim),
                       residual = rng.bf16_values((size_t)rows * dim, -1.0f, 1.0f);
            for (float &w : weight) w = rng.uniform(0.5f, 1.5f);
            Buf<float> want(residual.size());
            std::memcpy(want.data(), residual.data(), residual.size() * 4);
            llmbed_cpu_rmsnorm_add(&p, x.data(), weight.data(), want.data());
            Buf<uint16_t> x16 = harness::to_bf16(x);
            Guarded<float> got(residual.size());
            std::memcpy(got.data(), residual.data(), residual.size() * 4);
            REQUIRE(llmbed_cuda_rmsnorm_into_residual(&p, x16.data(), LLMBED_CUDA_BF16, weight.data(), got.data(),
                                                      nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 1e-5 * (1 + std::fabs(want[i])), i);
            report.add(std::to_string(rows) + "x" + std::to_string(dim), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
}

/* gemma3-tiny (window 6, sliding and full layers) in chunks of 7 and 13 over
 * the emulated cache: the windowed cache attention against the float64
 * hidden states of the single pass. */
TEST_CASE("emu backend: gemma3 chunked prefill over the windowed cache", "[emu][chunked][gemma]") {
    using namespace llmbed_test;
    GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, "gemma3-tiny");
    REQUIRE(m.error == "");
    llmbed_model *raw = nullptr;
    llmbed_error error;
    REQUIRE(llmbed_model_load(m.model_path.c_str(), nullptr, &raw, &error) == LLMBED_OK);
    std::unique_ptr<llmbed_model, void (*)(llmbed_model *)> model(raw, llmbed_model_free);
    openblas_set_num_threads(1);
    llmbed_backend *backend = nullptr;
    REQUIRE(llmbed_emu_cuda_backend_create(model.get(), 0, 64, &backend, &error) == LLMBED_OK);
    const int C = model->config.hidden_size;
    const double bound = bf16_path_relative_bound(model->config.n_layers);
    Agreement worst;
    size_t checked = 0;
    for (const GoldenCase &gc : m.cases) {
        const std::vector<int32_t> &ids = m.sequences[(size_t)gc.sequence];
        if (gc.attention != "causal" || gc.pooling != "none" || ids.size() < 13) continue;
        std::string err;
        const std::vector<double> want = m.expected(gc, err);
        REQUIRE(err == "");
        for (int chunk : {7, 13}) {
            llmbed_chunked_request req{};
            req.n_tokens = (int)ids.size();
            req.tokens = ids.data();
            req.chunk_tokens = chunk;
            req.n_layers = model->config.n_layers;
            req.attention_temperature = 1.0f;
            harness::Guarded<float> out(ids.size() * (size_t)C);
            llmbed_decoder decoder{};
            decoder.backend = backend;
            const llmbed_status st = llmbed_decoder_forward_chunked(&decoder, &req, out.data(), &error);
            llmbed_decoder_release(&decoder);
            INFO(error.message);
            REQUIRE(st == LLMBED_OK);
            REQUIRE(out.intact());
            const Agreement a = compare_rows(out.data(), want, C);
            INFO("n " << ids.size() << " chunk " << chunk << ": min cosine " << a.min_cosine << ", max |diff| "
                      << a.max_abs << " (relative " << a.max_scaled << ", bound " << bound << ")");
            CHECK(a.within_bf16_tolerance(0.999, bound));
            worst.merge(a);
            checked++;
        }
    }
    backend->ops->destroy(backend);
    CHECK(checked == 4);
    std::printf("[emu] gemma3-tiny chunked (7, 13) over the windowed cache, %zu cases: min cosine %.6f, max |diff| "
                "%.3g\n",
                checked, worst.min_cosine, worst.max_abs);
}
