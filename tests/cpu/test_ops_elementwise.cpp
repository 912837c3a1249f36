// Embedding gather, RMSNorm and SwiGLU against double-precision references
// at odd sizes, with guard canaries around every output.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <omp.h>

#include "cpu/cpu_ops.h"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

TEST_CASE("embedding gathers rows and applies scale_emb", "[ops][embedding]") {
    std::mt19937 rng(11);
    for (int hidden : {1, 7, 129}) {
        const int vocab = 37, T = 23;
        const float scale = 12.0f; // MiniCPM scale_emb
        auto table = random_floats((size_t)vocab * hidden, rng);
        std::vector<int32_t> tokens(T);
        for (int t = 0; t < T; t++) tokens[t] = (t * 13 + 5) % vocab;
        tokens[0] = 0;
        tokens[T - 1] = vocab - 1;
        GuardedBuffer out((size_t)T * hidden);
        llmbed_embedding_params p{T, hidden, vocab, scale};
        const llmbed_weight table_f32 = llmbed_weight_of_f32(table.data(), vocab, hidden);
        llmbed_cpu_embedding(&p, tokens.data(), &table_f32, out.data());
        std::vector<double> want((size_t)T * hidden);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < hidden; c++) want[(size_t)t * hidden + c] = (double)table[(size_t)tokens[t] * hidden + c] * scale;
        CHECK(max_abs_diff(out.data(), want) <= 1e-6 * scale);
        CHECK(out.guards_intact());
    }
}

TEST_CASE("rmsnorm matches x / sqrt(mean(x^2) + eps) * w", "[ops][rmsnorm]") {
    std::mt19937 rng(12);
    for (int dim : {1, 7, 129, 1024}) {
        for (int rows : {1, 7, 33}) {
            const float eps = 1e-6f;
            auto x = random_floats((size_t)rows * dim, rng, -3.0f, 3.0f);
            auto w = random_floats(dim, rng, 0.5f, 1.5f);
            GuardedBuffer out(x.size());
            llmbed_rmsnorm_params p{rows, dim, eps};
            llmbed_cpu_rmsnorm(&p, x.data(), w.data(), out.data());
            std::vector<double> want(x.size());
            for (int r = 0; r < rows; r++) {
                double ss = 0;
                for (int c = 0; c < dim; c++) ss += (double)x[(size_t)r * dim + c] * x[(size_t)r * dim + c];
                const double inv = 1.0 / std::sqrt(ss / dim + eps);
                for (int c = 0; c < dim; c++) want[(size_t)r * dim + c] = x[(size_t)r * dim + c] * inv * w[c];
            }
            const double err = max_abs_diff(out.data(), want);
            INFO("dim " << dim << " rows " << rows << " max |d| " << err);
            CHECK(err <= 5e-6); // outputs up to ~|x|/rms * 1.5 ~ 10 for dim 1: a few fp32 ulps
            CHECK(out.guards_intact());

            // in place gives the same bits
            std::vector<float> inplace = x;
            llmbed_cpu_rmsnorm(&p, inplace.data(), w.data(), inplace.data());
            CHECK(max_abs_diff(inplace.data(), out.data(), x.size()) == 0.0);
        }
    }
}

TEST_CASE("swiglu is silu(gate) * up", "[ops][swiglu]") {
    std::mt19937 rng(13);
    for (int inter : {1, 7, 129}) {
        const int T = 9;
        auto gate = random_floats((size_t)T * inter, rng, -8.0f, 8.0f);
        auto up = random_floats((size_t)T * inter, rng, -2.0f, 2.0f);
        gate[0] = -100.0f; // exp overflow side: silu -> -0
        GuardedBuffer out(gate.size());
        llmbed_swiglu_params p{T, inter};
        llmbed_cpu_swiglu(&p, gate.data(), up.data(), out.data());
        std::vector<double> want(gate.size());
        for (size_t i = 0; i < gate.size(); i++) want[i] = gate[i] / (1.0 + std::exp(-(double)gate[i])) * up[i];
        const double err = max_abs_diff(out.data(), want);
        INFO("intermediate " << inter << " max |d| " << err);
        CHECK(err <= 1e-5); // |out| <= 16: ~4 fp32 ulps
        CHECK(out.guards_intact());
    }
}

TEST_CASE("linear is x W^T + b, and accumulates with alpha for the residual", "[ops][gemm]") {
    std::mt19937 rng(14);
    for (int n_in : {1, 7, 129}) {
        for (int n_out : {1, 7, 129}) {
            const int T = 7;
            auto x = random_floats((size_t)T * n_in, rng);
            auto w = random_floats((size_t)n_out * n_in, rng);
            auto b = random_floats(n_out, rng);
            auto y0 = random_floats((size_t)T * n_out, rng);
            std::vector<double> plain((size_t)T * n_out), acc((size_t)T * n_out);
            for (int t = 0; t < T; t++)
                for (int o = 0; o < n_out; o++) {
                    double s = 0;
                    for (int i = 0; i < n_in; i++) s += (double)x[(size_t)t * n_in + i] * w[(size_t)o * n_in + i];
                    plain[(size_t)t * n_out + o] = s + b[o];
                    acc[(size_t)t * n_out + o] = y0[(size_t)t * n_out + o] + 0.5 * s;
                }
            GuardedBuffer y((size_t)T * n_out);
            std::vector<float> scratch(llmbed_cpu_gemm_scratch_floats(n_in, omp_get_max_threads()));
            llmbed_cpu_linear(T, n_in, n_out, x.data(), w.data(), b.data(), 1.0f, 0, y.data(), n_out, scratch.data());
            const double tol = 1e-6 * (n_in + 1); // fp32 sum of n_in products <= 1
            CHECK(max_abs_diff(y.data(), plain) <= tol);
            std::copy(y0.begin(), y0.end(), y.data());
            llmbed_cpu_linear(T, n_in, n_out, x.data(), w.data(), nullptr, 0.5f, 1, y.data(), n_out, scratch.data());
            CHECK(max_abs_diff(y.data(), acc) <= tol);
            CHECK(y.guards_intact());
        }
    }
}

TEST_CASE("fused projections equal separate ones bit for bit", "[ops][gemm]") {
    std::mt19937 rng(15);
    const int T = 9, n_in = 129;
    std::vector<float> scratch(llmbed_cpu_gemm_scratch_floats(n_in, omp_get_max_threads()));
    for (auto outs : {std::vector<int>{130, 7, 7}, std::vector<int>{1, 200}, std::vector<int>{64, 64, 64}}) {
        auto x = random_floats((size_t)T * n_in, rng);
        std::vector<std::vector<float>> w, b;
        std::vector<GuardedBuffer> fused, alone;
        std::vector<llmbed_cpu_projection> proj;
        std::vector<llmbed_weight> weights;
        for (int n : outs) {
            w.push_back(random_floats((size_t)n * n_in, rng));
            weights.push_back(llmbed_weight_of_f32(w.back().data(), n, n_in));
            b.push_back(random_floats(n, rng));
            fused.emplace_back((size_t)T * n);
            alone.emplace_back((size_t)T * n);
        }
        for (size_t i = 0; i < outs.size(); i++)
            proj.push_back({&weights[i], i == 0 ? b[i].data() : nullptr, outs[i], 1.0f, 0, fused[i].data(), outs[i]});
        llmbed_cpu_linear_fused(T, n_in, x.data(), (int)proj.size(), proj.data(), scratch.data());
        for (size_t i = 0; i < outs.size(); i++) {
            llmbed_cpu_linear(T, n_in, outs[i], x.data(), w[i].data(), i == 0 ? b[i].data() : nullptr, 1.0f, 0,
                              alone[i].data(), outs[i], scratch.data());
            // gemm_kernels.h: one FMA chain per element, whatever columns a thread or panel holds
            CHECK(max_abs_diff(fused[i].data(), alone[i].data(), fused[i].size()) == 0.0);
            CHECK(fused[i].guards_intact());
        }
    }
}
