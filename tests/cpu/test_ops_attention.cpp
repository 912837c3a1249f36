// Varlen GQA attention (online softmax over key tiles) against a naive
// double-precision softmax(q k^T * scale) v per sequence and head.
#include <catch2/catch.hpp>
#include <cmath>
#include <omp.h>
#include <vector>

#include <cblas.h>

#include "cpu/cpu_ops.h"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

namespace {

std::vector<double> naive_attention(const llmbed_attention_params &p, const std::vector<float> &q,
                                    const std::vector<float> &k, const std::vector<float> &v) {
    const int D = p.head_dim, qs = p.n_heads * D, kvs = p.n_kv_heads * D, group = p.n_heads / p.n_kv_heads;
    const int T = p.seq_offsets[p.n_seqs];
    std::vector<double> out((size_t)T * qs, 0.0);
    for (int s = 0; s < p.n_seqs; s++) {
        const int b = p.seq_offsets[s], e = p.seq_offsets[s + 1];
        for (int h = 0; h < p.n_heads; h++) {
            const int g = h / group;
            for (int i = b; i < e; i++) {
                const int last = p.causal ? i : e - 1;
                std::vector<double> logit(last - b + 1);
                double mx = -INFINITY;
                for (int j = b; j <= last; j++) {
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double)q[(size_t)i * qs + h * D + d] * k[(size_t)j * kvs + g * D + d];
                    logit[j - b] = dot * p.scale;
                    mx = std::fmax(mx, logit[j - b]);
                }
                double den = 0;
                for (auto &l : logit) den += (l = std::exp(l - mx));
                for (int j = b; j <= last; j++)
                    for (int d = 0; d < D; d++)
                        out[(size_t)i * qs + h * D + d] += logit[j - b] / den * v[(size_t)j * kvs + g * D + d];
            }
        }
    }
    return out;
}

double run_case(const std::vector<int> &lengths, int n_heads, int n_kv_heads, int head_dim, int causal,
                float q_range, uint32_t seed) {
    std::mt19937 rng(seed);
    const auto off = offsets_of(lengths);
    const int T = off.back();
    auto q = random_floats((size_t)T * n_heads * head_dim, rng, -q_range, q_range);
    auto k = random_floats((size_t)T * n_kv_heads * head_dim, rng);
    auto v = random_floats((size_t)T * n_kv_heads * head_dim, rng);
    llmbed_attention_params p{(int)lengths.size(), off.data(), n_heads, n_kv_heads, head_dim, causal,
                              (float)(1.0 / std::sqrt((double)head_dim))};
    std::vector<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
    openblas_set_num_threads(1); // cpu_ops.h: one BLAS thread per OpenMP thread
    GuardedBuffer out(q.size());
    llmbed_cpu_attention(&p, q.data(), k.data(), v.data(), out.data(), scratch.data());
    REQUIRE(out.guards_intact());
    return max_abs_diff(out.data(), naive_attention(p, q, k, v));
}

} // namespace

TEST_CASE("attention matches naive softmax for GQA ratios, causal and bidirectional", "[ops][attention]") {
    // 300 spans two key tiles, 129 three query blocks; 1 and 2 are edge sequences.
    const std::vector<int> lengths = {1, 7, 129, 2, 300};
    double worst = 0;
    for (int ratio : {1, 2, 4}) {
        for (int head_dim : {7, 64, 128}) {
            for (int causal : {1, 0}) {
                const double err = run_case(lengths, 4, 4 / ratio, head_dim, causal, 1.0f, 100 + ratio + head_dim + causal);
                INFO("ratio " << ratio << " head_dim " << head_dim << " causal " << causal << " max |d| " << err);
                CHECK(err <= 2e-6); // outputs are convex combinations of |v| <= 1
                worst = std::fmax(worst, err);
            }
        }
    }
    std::printf("attention: worst max |d| %.3g over GQA 1/2/4, head_dim 7/64/128 (tolerance 2e-6)\n", worst);
}

TEST_CASE("attention stays exact on long sequences and peaked logits", "[ops][attention]") {
    // 1100 tokens: five key tiles with rescaling of the running maximum;
    // logits up to ~|q||k| * scale ~ 30 stress the online softmax.
    for (int causal : {1, 0}) {
        const double err = run_case({1100}, 2, 1, 16, causal, 8.0f, 7 + causal);
        INFO("causal " << causal << " max |d| " << err);
        CHECK(err <= 5e-6);
    }
}
