/* Op harness: each emulated kernel against the CPU reference op that
 * consumes the same params struct (host/cpu/cpu_ops.h), over a table of
 * shapes: odd sizes (1, 7, 129), GQA ratios 1/2/4/8, causal and
 * bidirectional, empty and single-token sequences, mixed lengths in one
 * pack. Inputs are rounded to bf16 first, so both backends see identical
 * values and the only differences are the kernel's own roundings.
 *
 * Tolerances (u = 2^-8, the bf16 unit roundoff: 8 significant bits):
 *   fp32 outputs                 : 1e-5 * (1 + |ref|)   (summation order only)
 *   one bf16 rounding of output  : 2u * |ref| + 1e-6   (u for the rounding, u for fp32
 *                                                       rsqrt/exp differences that move a
 *                                                       value across a rounding boundary)
 *   rope (bf16 in/out)           : u * (|ref| + |x1| + |x2|) * attention_scaling
 *   attention                    : u * (|ref| + max|v|)  (P rounded to bf16 before P V:
 *                                                        u/2 relative per weight, then the
 *                                                        output rounded: u/2 |ref|)
 * Every output buffer has guard canaries on both sides. */
#include "emu_harness.h"

#include "cpu/cpu_ops.h"
#include "model/rope_frequencies.h"
#include "kernels/attention.cuh"
#include "kernels/bias.cuh"
#include "kernels/embedding.cuh"
#include "kernels/latent_attention.cuh"
#include "kernels/pooling.cuh"
#include "kernels/postprocess.cuh"
#include "kernels/quantize.cuh"
#include "kernels/rmsnorm.cuh"
#include "kernels/rope.cuh"
#include "kernels/swiglu.cuh"

#include <omp.h>

using harness::ErrorStats;
using harness::Guarded;
using harness::kBf16Unit;
using harness::OpReport;
using harness::Rng;
template <typename T>
using Buf = harness::Buffer<T>;

namespace {

const std::vector<std::vector<int>> kPacks = {
    {1}, {7}, {129}, {0, 5, 0}, {1, 1, 1}, {3, 129, 0, 1, 64, 65, 7},
};

} // namespace

TEST_CASE("op: embedding", "[emu][ops]") {
    OpReport report{"embedding", "exact (bf16 table, fp32 scale)", {}, {}};
    Rng rng(1);
    for (int hidden : {1, 7, 129}) {
        for (float scale : {1.0f, 12.0f}) {
            const int vocab = 37, n = 129;
            Buf<float> table = rng.bf16_values((size_t)vocab * hidden, -1.0f, 1.0f);
            Buf<uint16_t> table16 = harness::to_bf16(table);
            Buf<int32_t> tokens(n);
            for (int &t : tokens) t = rng.integer(0, vocab - 1);
            llmbed_embedding_params p = {n, hidden, vocab, scale};
            Buf<float> want((size_t)n * hidden);
            llmbed_cpu_embedding(&p, tokens.data(), table.data(), want.data());
            Guarded<float> got(want.size());
            REQUIRE(llmbed_cuda_embedding(&p, tokens.data(), table16.data(), got.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 1e-30, i);
            report.add("hidden " + std::to_string(hidden), s);
            CHECK(s.max_abs == 0.0);
        }
    }
}

TEST_CASE("op: rmsnorm, fused residual add, q/k norm", "[emu][ops]") {
    OpReport report{"rmsnorm", "f32 out 1e-5(1+|ref|); bf16 out 2u|ref|+1e-6", {}, {}};
    Rng rng(2);
    for (int rows : {1, 7, 129}) {
        for (int dim : {1, 7, 129, 1024}) {
            llmbed_rmsnorm_params p = {rows, dim, 1e-6f};
            size_t n = (size_t)rows * dim;
            Buf<float> x = rng.bf16_values(n, -3.0f, 3.0f), w = rng.bf16_values(dim, 0.5f, 1.5f);
            Buf<float> want(n);
            llmbed_cpu_rmsnorm(&p, x.data(), w.data(), want.data());
            std::string name = std::to_string(rows) + "x" + std::to_string(dim);

            Guarded<float> out32(n);
            REQUIRE(llmbed_cuda_rmsnorm(&p, x.data(), LLMBED_CUDA_F32, w.data(), out32.data(), LLMBED_CUDA_F32,
                                        nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(out32.intact());
            ErrorStats s32;
            for (size_t i = 0; i < n; i++) s32.add(out32[i], want[i], 1e-5 * (1 + std::fabs(want[i])), i);
            report.add(name + " f32", s32);
            CHECK(s32.worst_ratio <= 1.0);

            /* bf16 in place, as the q/k norm runs on the bf16 projections */
            Buf<uint16_t> xb = harness::to_bf16(x);
            Guarded<uint16_t> inplace(n);
            std::memcpy(inplace.data(), xb.data(), n * 2);
            REQUIRE(llmbed_cuda_rmsnorm(&p, inplace.data(), LLMBED_CUDA_BF16, w.data(), inplace.data(),
                                        LLMBED_CUDA_BF16, nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(inplace.intact());
            ErrorStats sb;
            for (size_t i = 0; i < n; i++)
                sb.add(harness::bf16_value(inplace[i]), want[i], 2 * kBf16Unit * std::fabs(want[i]) + 1e-6, i);
            report.add(name + " bf16 in place", sb);
            CHECK(sb.worst_ratio <= 1.0);

            /* residual += delta * scale, then norm -> bf16 */
            Buf<float> delta = rng.bf16_values(n, -1.0f, 1.0f);
            const float delta_scale = 0.35f;
            Buf<float> summed(n), want_add(n);
            for (size_t i = 0; i < n; i++) summed[i] = x[i] + delta[i] * delta_scale;
            llmbed_cpu_rmsnorm(&p, summed.data(), w.data(), want_add.data());
            Guarded<float> residual(n);
            std::memcpy(residual.data(), x.data(), n * 4);
            Guarded<uint16_t> normed(n);
            REQUIRE(llmbed_cuda_add_rmsnorm(&p, residual.data(), delta.data(), delta_scale, w.data(), normed.data(),
                                            LLMBED_CUDA_BF16, nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(residual.intact());
            REQUIRE(normed.intact());
            ErrorStats sa;
            for (size_t i = 0; i < n; i++) {
                sa.add(residual[i], summed[i], 1e-6 * (1 + std::fabs(summed[i])), i);
                sa.add(harness::bf16_value(normed[i]), want_add[i], 2 * kBf16Unit * std::fabs(want_add[i]) + 1e-6,
                       i);
            }
            report.add(name + " add", sa);
            CHECK(sa.worst_ratio <= 1.0);
        }
    }
    llmbed_rmsnorm_params bad = {4, 0, 1e-6f};
    float dummy = 0.0f;
    CHECK(llmbed_cuda_rmsnorm(&bad, &dummy, LLMBED_CUDA_F32, &dummy, &dummy, LLMBED_CUDA_F32, nullptr, nullptr) ==
          LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("op: rope with every scaling type", "[emu][ops]") {
    OpReport report{"rope", "u(|ref|+|x1|+|x2|)", {}, {}};
    Rng rng(3);
    const llmbed_rope_type types[] = {LLMBED_ROPE_NONE, LLMBED_ROPE_LINEAR, LLMBED_ROPE_DYNAMIC, LLMBED_ROPE_YARN,
                                      LLMBED_ROPE_LLAMA3};
    const char *type_names[] = {"none", "linear", "dynamic", "yarn", "llama3"};
    for (int type_index = 0; type_index < 5; type_index++) {
        const llmbed_rope_type type = types[type_index];
        for (int head_dim : {64, 80, 128}) {
            for (const std::vector<int> &lens : kPacks) {
                llmbed_config config;
                std::memset(&config, 0, sizeof(config));
                config.head_dim = head_dim;
                config.max_positions = 64; /* small, so dynamic NTK kicks in for the 129-token sequences */
                config.rope_theta = 10000.0f;
                config.rope_scaling.type = type;
                config.rope_scaling.factor = 4.0f;
                config.rope_scaling.original_max_positions = 32;
                config.rope_scaling.low_freq_factor = 1.0f;
                config.rope_scaling.high_freq_factor = 4.0f;
                config.rope_scaling.beta_fast = 32.0f;
                config.rope_scaling.beta_slow = 1.0f;
                config.rope_scaling.truncate = true;
                const int n_seqs = (int)lens.size(), half = head_dim / 2, heads = 3;
                Buf<int32_t> off = harness::offsets_of(lens);
                const int T = off.back();
                Buf<float> inv_freq((size_t)n_seqs * half);
                float attention_scaling = 1.0f;
                for (int s = 0; s < n_seqs; s++) {
                    llmbed_error error;
                    REQUIRE(llmbed_rope_frequencies(&config, lens[s], &inv_freq[(size_t)s * half],
                                                        &attention_scaling, &error) == LLMBED_OK);
                }
                /* rows wider than the rotated heads: q and k share a row in a fused layout */
                const int row_stride = heads * head_dim + 8;
                /* head dim 80: sequences continue a cached prefix (positions start past 0) */
                const bool shifted = head_dim == 80;
                Buf<int32_t> first_position(n_seqs);
                for (int s = 0; s < n_seqs; s++) first_position[s] = 61 * s + 5;
                llmbed_rope_params p = {n_seqs,           off.data(),        heads,
                                        head_dim,         row_stride,        inv_freq.data(),
                                        attention_scaling, shifted ? first_position.data() : nullptr};
                Buf<float> x = rng.bf16_values((size_t)T * row_stride, -1.0f, 1.0f), want = x;
                llmbed_cpu_rope(&p, want.data());
                Guarded<uint16_t> got((size_t)T * row_stride);
                Buf<uint16_t> xb = harness::to_bf16(x);
                if (T) std::memcpy(got.data(), xb.data(), xb.size() * 2);
                REQUIRE(llmbed_cuda_rope(&p, T, got.data(), nullptr, nullptr) == LLMBED_OK);
                harness::sync();
                REQUIRE(got.intact());
                ErrorStats s;
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < heads; h++)
                        for (int i = 0; i < head_dim; i++) {
                            size_t at = (size_t)t * row_stride + h * head_dim + i;
                            size_t pair = (size_t)t * row_stride + h * head_dim + (i < half ? i + half : i - half);
                            double tol = kBf16Unit * (std::fabs(want[at]) + std::fabs(x[at]) + std::fabs(x[pair]));
                            s.add(harness::bf16_value(got[at]), want[at], tol * attention_scaling + 1e-6, at);
                        }
                for (int t = 0; t < T; t++)
                    for (int i = heads * head_dim; i < row_stride; i++)
                        REQUIRE(got[(size_t)t * row_stride + i] == xb[(size_t)t * row_stride + i]);
                report.add(std::string(type_names[type_index]) + " D" + std::to_string(head_dim) + " " +
                               harness::lens_name(lens) + (shifted ? " +pos" : ""),
                           s);
                CHECK(s.worst_ratio <= 1.0);
            }
        }
    }
}

TEST_CASE("op: swiglu", "[emu][ops]") {
    OpReport report{"swiglu", "2u|ref|+1e-6", {}, {}};
    Rng rng(4);
    for (int T : {1, 7, 129}) {
        for (int I : {1, 7, 129}) {
            for (bool fused : {false, true}) {
                llmbed_swiglu_params p = {T, I};
                const int stride = fused ? 2 * I : I;
                Buf<float> gate_up = rng.bf16_values((size_t)T * 2 * I, -6.0f, 6.0f);
                Buf<float> gate((size_t)T * I), up((size_t)T * I), want((size_t)T * I);
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < I; i++) {
                        gate[(size_t)t * I + i] = gate_up[(size_t)t * 2 * I + i];
                        up[(size_t)t * I + i] = gate_up[(size_t)t * 2 * I + I + i];
                    }
                llmbed_cpu_swiglu(&p, gate.data(), up.data(), want.data());
                Buf<uint16_t> gu16 = harness::to_bf16(gate_up), g16 = harness::to_bf16(gate),
                                      u16 = harness::to_bf16(up);
                Guarded<uint16_t> got((size_t)T * I);
                const uint16_t *gp = fused ? gu16.data() : g16.data();
                const uint16_t *upp = fused ? gu16.data() + I : u16.data();
                REQUIRE(llmbed_cuda_swiglu(&p, gp, upp, stride, got.data(), nullptr, nullptr) == LLMBED_OK);
                harness::sync();
                REQUIRE(got.intact());
                ErrorStats s;
                for (size_t i = 0; i < want.size(); i++)
                    s.add(harness::bf16_value(got[i]), want[i], 2 * kBf16Unit * std::fabs(want[i]) + 1e-6, i);
                report.add(std::to_string(T) + "x" + std::to_string(I) + (fused ? " fused" : ""), s);
                CHECK(s.worst_ratio <= 1.0);
            }
        }
    }
}

TEST_CASE("op: bias add (Qwen2 q/k/v)", "[emu][ops]") {
    OpReport report{"bias", "u|ref| (one rounding of the fp32 sum)", {}, {}};
    Rng rng(10);
    for (int rows : {1, 7, 129}) {
        for (int cols : {1, 7, 129}) {
            Buf<float> x = rng.bf16_values((size_t)rows * cols, -2.0f, 2.0f), bias(cols);
            for (float &b : bias) b = rng.uniform(-1.0f, 1.0f);
            Guarded<uint16_t> got(x.size());
            Buf<uint16_t> x16 = harness::to_bf16(x);
            std::memcpy(got.data(), x16.data(), x16.size() * 2);
            REQUIRE(llmbed_cuda_add_bias(rows, cols, got.data(), bias.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    size_t i = (size_t)r * cols + c;
                    /* the fp32 sum the kernel rounds: then one rounding, at most u|ref| */
                    const float want = x[i] + bias[c];
                    s.add(harness::bf16_value(got[i]), want, kBf16Unit * std::fabs(want) + 1e-12, i);
                }
            report.add(std::to_string(rows) + "x" + std::to_string(cols), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
}

namespace {

struct AttentionCase {
    int head_dim, n_heads, n_kv_heads;
    std::vector<int> lens;
};

void run_attention_case(const AttentionCase &c, int causal, Rng &rng, OpReport &report) {
    Buf<int32_t> off = harness::offsets_of(c.lens);
    const int T = off.back(), D = c.head_dim;
    int max_len = 0;
    for (int l : c.lens) max_len = std::max(max_len, l);
    /* scale 1/sqrt(D) times a temperature of 0.7 (TempScale), so the scale path is not the default */
    llmbed_attention_params p = {(int)c.lens.size(), off.data(), c.n_heads, c.n_kv_heads, D, causal,
                                 (float)(1.0 / std::sqrt((double)D) / 0.7), nullptr, nullptr};
    size_t nq = (size_t)T * c.n_heads * D, nkv = (size_t)T * c.n_kv_heads * D;
    Buf<float> q = rng.bf16_values(nq, -2.0f, 2.0f), k = rng.bf16_values(nkv, -2.0f, 2.0f),
                       v = rng.bf16_values(nkv, -1.0f, 1.0f);
    Buf<float> want(nq);
    Buf<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
    if (T) llmbed_cpu_attention(&p, q.data(), k.data(), v.data(), want.data(), scratch.data());
    Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k), v16 = harness::to_bf16(v);
    Guarded<uint16_t> got(nq);
    REQUIRE(llmbed_cuda_attention(&p, max_len, q16.data(), k16.data(), v16.data(), got.data(), nullptr, nullptr) ==
            LLMBED_OK);
    harness::sync();
    REQUIRE(got.intact());
    double max_v = 0.0;
    for (float x : v) max_v = std::max(max_v, (double)std::fabs(x));
    ErrorStats s;
    for (size_t i = 0; i < nq; i++)
        s.add(harness::bf16_value(got[i]), want[i], kBf16Unit * (std::fabs(want[i]) + max_v), i);
    report.add("D" + std::to_string(D) + " H" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                   (causal ? " causal " : " bidir ") + harness::lens_name(c.lens),
               s);
    CHECK(s.worst_ratio <= 1.0);
}

} // namespace

TEST_CASE("op: varlen flash attention", "[emu][ops]") {
    OpReport report{"attention", "u(|ref|+max|v|)", {}, {}};
    Rng rng(6);
    const std::vector<AttentionCase> cases = {
        {64, 2, 2, {1}},
        {64, 4, 2, {7}},
        {128, 4, 1, {129}},
        {80, 8, 1, {3, 0, 1, 70}},
        {96, 2, 1, {0, 33, 1}},
        {128, 8, 2, {65, 7, 1, 0, 40}},
        {64, 1, 1, {1, 1, 1}},
        {16, 4, 2, {1, 7, 40}},  /* small instantiations, as the tiny golden models use */
        {8, 7, 1, {9, 1}},       /* padded into 16: rows not 16-byte aligned */
        {12, 3, 3, {5, 33}},
        {40, 2, 1, {17}},        /* padded into 64 */
    };
    for (const AttentionCase &c : cases)
        for (int causal : {1, 0}) run_attention_case(c, causal, rng, report);

    llmbed_attention_params bad = {1, nullptr, 4, 3, 64, 1, 0.125f, nullptr, nullptr};
    uint16_t dummy = 0;
    llmbed_error error{};
    CHECK(llmbed_cuda_attention(&bad, 1, &dummy, &dummy, &dummy, &dummy, nullptr, &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("attention: 1 sequences (longest 1), 4 query heads over 3") == 0);
    /* a grid beyond CUDA's limits is refused before launching, naming the op (grid.y = heads <= 65535) */
    Buf<int32_t> one_token = harness::offsets_of({1});
    llmbed_attention_params many_heads = {1, one_token.data(), 70000, 70000, 64, 1, 0.125f, nullptr, nullptr};
    CHECK(llmbed_cuda_attention(&many_heads, 1, &dummy, &dummy, &dummy, &dummy, nullptr, &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    INFO(error.message);
    CHECK(std::string(error.message).find("attention: grid (1, 70000, 1)") == 0);
    CHECK(std::string(error.message).find("outside CUDA's limits") != std::string::npos);
    llmbed_attention_params odd_dim = {1, nullptr, 4, 2, 71, 1, 0.125f, nullptr, nullptr};
    CHECK(llmbed_cuda_attention(&odd_dim, 1, &dummy, &dummy, &dummy, &dummy, nullptr, nullptr) == LLMBED_ERR_UNSUPPORTED);
    CHECK(llmbed_cuda_attention_supports_head_dim(128) == 1);
    CHECK(llmbed_cuda_attention_supports_head_dim(72) == 1);
    CHECK(llmbed_cuda_attention_supports_head_dim(256) == 0);
}

TEST_CASE("op: pooling with instruction masks", "[emu][ops]") {
    OpReport report{"pooling", "1e-5(1+|ref|)", {}, {}};
    Rng rng(7);
    const llmbed_pool_kind kinds[] = {LLMBED_POOL_LAST, LLMBED_POOL_MEAN, LLMBED_POOL_FIRST,
                                      LLMBED_POOL_WEIGHTED_MEAN};
    for (llmbed_pool_kind kind : kinds) {
        for (int hidden : {1, 7, 129}) {
            for (const std::vector<int> &lens : kPacks) {
                for (bool masked : {false, true}) {
                    Buf<int32_t> off = harness::offsets_of(lens);
                    const int n_seqs = (int)lens.size(), T = off.back();
                    /* masks of 0, 2 and the whole sequence (pools to zeros) in turn */
                    Buf<int32_t> instr(n_seqs);
                    for (int s = 0; s < n_seqs; s++) instr[s] = s % 3 == 0 ? 0 : (s % 3 == 1 ? 2 : lens[s]);
                    Buf<int32_t> begin(n_seqs), end(n_seqs);
                    for (int s = 0; s < n_seqs; s++) {
                        begin[s] = off[s] + (masked ? instr[s] : 0);
                        end[s] = off[s + 1];
                    }
                    llmbed_pooling_params p = {kind, n_seqs, begin.data(), end.data(), hidden};
                    Buf<float> x = rng.bf16_values((size_t)T * hidden, -2.0f, 2.0f);
                    Buf<float> want((size_t)n_seqs * hidden);
                    llmbed_cpu_pooling(&p, x.data(), want.data());
                    Guarded<float> got(want.size());
                    REQUIRE(llmbed_cuda_pooling(&p, x.data(), got.data(), nullptr, nullptr) == LLMBED_OK);
                    harness::sync();
                    REQUIRE(got.intact());
                    ErrorStats s;
                    for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 1e-5 * (1 + std::fabs(want[i])), i);
                    report.add("kind " + std::to_string((int)kind) + " H" + std::to_string(hidden) + " " +
                                   harness::lens_name(lens) + (masked ? " masked" : ""),
                               s);
                    CHECK(s.worst_ratio <= 1.0);
                }
            }
        }
    }
}

TEST_CASE("op: postprocess (Matryoshka truncation + L2 normalise)", "[emu][ops]") {
    OpReport report{"postprocess", "1e-6(1+|ref|)", {}, {}};
    Rng rng(8);
    for (int rows : {1, 7, 129}) {
        for (int in_dims : {7, 129}) {
            for (int dims : {1, in_dims / 2 + 1, in_dims}) {
                for (int normalize : {0, 1}) {
                    llmbed_postprocess_params p = {rows, in_dims, dims, normalize};
                    Buf<float> x = rng.bf16_values((size_t)rows * in_dims, -2.0f, 2.0f);
                    for (int i = 0; i < in_dims; i++) x[i] = 0.0f; /* a zero row stays zero */
                    Buf<float> want((size_t)rows * dims);
                    llmbed_cpu_postprocess(&p, x.data(), want.data());
                    Guarded<float> got(want.size());
                    REQUIRE(llmbed_cuda_postprocess(&p, x.data(), got.data(), nullptr, nullptr) == LLMBED_OK);
                    harness::sync();
                    REQUIRE(got.intact());
                    ErrorStats s;
                    for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 1e-6 * (1 + std::fabs(want[i])), i);
                    report.add(std::to_string(rows) + "x" + std::to_string(in_dims) + "->" + std::to_string(dims), s);
                    CHECK(s.worst_ratio <= 1.0);
                }
            }
        }
    }
}

TEST_CASE("op: output conversion (fp16, int8 per-row scale, ubinary)", "[emu][ops]") {
    Rng rng(9);
    for (int rows : {1, 7}) {
        for (int dims : {1, 7, 129}) {
            llmbed_quantize_params p = {rows, dims};
            size_t n = (size_t)rows * dims;
            Buf<float> x(n);
            for (float &v : x) v = rng.uniform(-1.0f, 1.0f);
            x[0] = 0.0f; /* exactly zero is not positive: bit 0 */

            Guarded<uint16_t> f16(n);
            REQUIRE(llmbed_cuda_quantize_f16(&p, x.data(), f16.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(f16.intact());
            for (size_t i = 0; i < n; i++) {
                _Float16 h = (_Float16)x[i];
                uint16_t bits;
                std::memcpy(&bits, &h, 2);
                REQUIRE(f16[i] == bits);
            }

            Guarded<int8_t> q(n);
            Guarded<float> scales(rows);
            REQUIRE(llmbed_cuda_quantize_int8(&p, x.data(), q.data(), scales.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(q.intact());
            REQUIRE(scales.intact());
            for (int r = 0; r < rows; r++) {
                float max_abs = 0.0f;
                for (int i = 0; i < dims; i++) max_abs = std::max(max_abs, std::fabs(x[(size_t)r * dims + i]));
                REQUIRE(scales[r] == max_abs / 127.0f);
                for (int i = 0; i < dims; i++) {
                    float want = max_abs > 0 ? std::nearbyint(x[(size_t)r * dims + i] * (127.0f / max_abs)) : 0.0f;
                    REQUIRE(q[(size_t)r * dims + i] == (int8_t)want);
                    /* dequantised value within half a step */
                    CHECK(std::fabs(q[(size_t)r * dims + i] * scales[r] - x[(size_t)r * dims + i]) <=
                          0.5f * scales[r] + 1e-7f);
                }
            }

            const int bytes = (dims + 7) / 8;
            Guarded<uint8_t> bits((size_t)rows * bytes);
            REQUIRE(llmbed_cuda_quantize_ubinary(&p, x.data(), bits.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(bits.intact());
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < bytes; b++) {
                    unsigned want = 0; /* np.packbits(x > 0): first element in the most significant bit */
                    for (int j = 0; j < 8; j++) {
                        int i = b * 8 + j;
                        if (i < dims && x[(size_t)r * dims + i] > 0.0f) want |= 0x80u >> j;
                    }
                    REQUIRE(bits[(size_t)r * bytes + b] == want);
                }
        }
    }
}

/* ---- NV-Embed latent-attention pooling pieces (kernels/latent_attention.cu) ---- */

TEST_CASE("op: layernorm with bias, fused residual + bias output", "[emu][ops]") {
    OpReport report{"layernorm", "bf16 out 2u|ref|+1e-6; residual fp32 exact", {}, {}};
    Rng rng(21);
    for (int rows : {1, 7, 129}) {
        for (int dim : {1, 7, 48, 129, 1024}) {
            llmbed_layernorm_params p = {rows, dim, 1e-5f};
            const size_t n = (size_t)rows * dim;
            Buf<float> x = rng.bf16_values(n, -3.0f, 3.0f), w = rng.bf16_values(dim, 0.5f, 1.5f),
                       b = rng.bf16_values(dim, -0.5f, 0.5f), rb = rng.bf16_values(dim, -1.0f, 1.0f);
            Buf<float> want(n);
            llmbed_cpu_layernorm(&p, x.data(), w.data(), b.data(), want.data());
            Guarded<uint16_t> got(n);
            Guarded<float> residual(n); /* in place: residual_out aliases x */
            std::memcpy(residual.data(), x.data(), n * 4);
            REQUIRE(llmbed_cuda_layernorm(&p, residual.data(), w.data(), b.data(), got.data(), rb.data(),
                                          residual.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            REQUIRE(residual.intact());
            ErrorStats s;
            for (size_t i = 0; i < n; i++) {
                /* |ref| alone is no bound where the normalised value is ~0: add u|b| for the bias term */
                s.add(harness::bf16_value(got[i]), want[i],
                      2 * kBf16Unit * (std::fabs(want[i]) + std::fabs(b[i % dim])) + 1e-5, i);
                s.add(residual[i], x[i] + rb[i % dim], 1e-30, i);
            }
            report.add(std::to_string(rows) + "x" + std::to_string(dim), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
    llmbed_layernorm_params bad = {2, 0, 1e-5f};
    float dummy = 0.0f;
    uint16_t out = 0;
    CHECK(llmbed_cuda_layernorm(&bad, &dummy, &dummy, &dummy, &out, nullptr, nullptr, nullptr, nullptr) ==
          LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("op: softmax over the latents", "[emu][ops]") {
    OpReport report{"softmax rows", "u|ref|+1e-7 (one bf16 rounding)", {}, {}};
    Rng rng(22);
    for (int rows : {1, 7, 129}) {
        for (int len : {1, 7, 33, 512}) {
            llmbed_softmax_params p = {rows, len};
            Buf<float> x = rng.bf16_values((size_t)rows * len, -8.0f, 8.0f), want = x;
            llmbed_cpu_softmax_rows(&p, want.data());
            Guarded<uint16_t> got(x.size());
            REQUIRE(llmbed_cuda_softmax_rows(&p, x.data(), got.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (size_t i = 0; i < x.size(); i++)
                s.add(harness::bf16_value(got[i]), want[i], kBf16Unit * std::fabs(want[i]) * 1.01 + 1e-7, i);
            report.add(std::to_string(rows) + "x" + std::to_string(len), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
}

TEST_CASE("op: GEGLU with bias (exact erf GELU)", "[emu][ops]") {
    OpReport report{"geglu", "2u|ref|+1e-6", {}, {}};
    Rng rng(23);
    for (int T : {1, 7, 129}) {
        for (int F : {1, 7, 192}) {
            llmbed_geglu_params p = {T, F};
            Buf<float> y = rng.bf16_values((size_t)T * 2 * F, -4.0f, 4.0f), b = rng.bf16_values(2 * F, -0.5f, 0.5f);
            Buf<float> want((size_t)T * F);
            llmbed_cpu_geglu(&p, y.data(), b.data(), want.data());
            Guarded<uint16_t> got(want.size());
            REQUIRE(llmbed_cuda_geglu(&p, y.data(), b.data(), got.data(), nullptr, nullptr) == LLMBED_OK);
            harness::sync();
            REQUIRE(got.intact());
            ErrorStats s;
            for (size_t i = 0; i < want.size(); i++)
                s.add(harness::bf16_value(got[i]), want[i], 2 * kBf16Unit * std::fabs(want[i]) + 1e-6, i);
            report.add(std::to_string(T) + "x" + std::to_string(F), s);
            CHECK(s.worst_ratio <= 1.0);
        }
    }
}
