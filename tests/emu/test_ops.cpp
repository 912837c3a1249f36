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
extern "C" {
#include "io/row_encode.h"
}
#include "kernels/attention.cuh"
#include "kernels/embedding.cuh"
#include "kernels/latent_attention.cuh"
#include "kernels/pooling.cuh"
#include "kernels/postprocess.cuh"
#include "kernels/qk_norm_rope.cuh"
#include "kernels/rmsnorm.cuh"
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
            const llmbed_weight table_f32 = llmbed_weight_of_f32(table.data(), vocab, hidden);
            llmbed_cpu_embedding(&p, tokens.data(), &table_f32, want.data());
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

TEST_CASE("op: rmsnorm of the fp32 residual stream", "[emu][ops]") {
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
            REQUIRE(llmbed_cuda_rmsnorm(&p, x.data(), w.data(), out32.data(), LLMBED_CUDA_F32, nullptr, nullptr) ==
                    LLMBED_OK);
            harness::sync();
            REQUIRE(out32.intact());
            ErrorStats s32;
            for (size_t i = 0; i < n; i++) s32.add(out32[i], want[i], 1e-5 * (1 + std::fabs(want[i])), i);
            report.add(name + " f32", s32);
            CHECK(s32.worst_ratio <= 1.0);

            Guarded<uint16_t> out16(n);
            REQUIRE(llmbed_cuda_rmsnorm(&p, x.data(), w.data(), out16.data(), LLMBED_CUDA_BF16, nullptr, nullptr) ==
                    LLMBED_OK);
            harness::sync();
            REQUIRE(out16.intact());
            ErrorStats sb;
            for (size_t i = 0; i < n; i++)
                sb.add(harness::bf16_value(out16[i]), want[i], 2 * kBf16Unit * std::fabs(want[i]) + 1e-6, i);
            report.add(name + " bf16", sb);
            CHECK(sb.worst_ratio <= 1.0);
        }
    }
    llmbed_rmsnorm_params bad = {4, 0, 1e-6f};
    float dummy = 0.0f;
    llmbed_error error{};
    CHECK(llmbed_cuda_rmsnorm(&bad, &dummy, &dummy, &dummy, LLMBED_CUDA_F32, nullptr, &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message) == "rmsnorm: 4 rows of 0, eps 1e-06");
}

/* The fused q/k norm + RoPE kernel on the fused QKV layout (rows of
 * [q heads | k heads | v heads]) against the CPU ops it replaces: per-head
 * RMSNorm (Qwen3) then RoPE, for every scaling type. Its table rows are
 * built with llmbed_cpu_rope_row, as the CUDA backend builds them; v must
 * come through untouched. Tolerance: one bf16 rounding of the fp32 result,
 * u|ref|, plus 2e-6 (|x1| + |x2|) * scaling for the fp32 rsqrt of the norm. */
TEST_CASE("op: q/k norm + RoPE in one pass, every scaling type", "[emu][ops]") {
    OpReport report{"qk_norm_rope", "u|ref| + 2e-6(|x1|+|x2|)s", {}, {}};
    Rng rng(3);
    const llmbed_rope_type types[] = {LLMBED_ROPE_NONE, LLMBED_ROPE_LINEAR, LLMBED_ROPE_DYNAMIC, LLMBED_ROPE_YARN,
                                      LLMBED_ROPE_LLAMA3};
    const char *type_names[] = {"none", "linear", "dynamic", "yarn", "llama3"};
    for (int type_index = 0; type_index < 5; type_index++) {
        for (int head_dim : {64, 80, 128}) {
            for (const std::vector<int> &lens : kPacks) {
                llmbed_config config;
                std::memset(&config, 0, sizeof(config));
                config.head_dim = head_dim;
                config.max_positions = 64; /* small, so dynamic NTK kicks in for the 129-token sequences */
                config.rope_theta = 10000.0f;
                config.rope_scaling.type = types[type_index];
                config.rope_scaling.factor = 4.0f;
                config.rope_scaling.original_max_positions = 32;
                config.rope_scaling.low_freq_factor = 1.0f;
                config.rope_scaling.high_freq_factor = 4.0f;
                config.rope_scaling.beta_fast = 32.0f;
                config.rope_scaling.beta_slow = 1.0f;
                config.rope_scaling.truncate = true;
                const int n_seqs = (int)lens.size(), half = head_dim / 2, H = 3, KV = 2, D = head_dim;
                const bool normed = head_dim != 80, shifted = head_dim == 80; /* 80: positions continue a prefix */
                Buf<int32_t> off = harness::offsets_of(lens);
                const int T = off.back(), W = (H + 2 * KV) * D;
                Buf<float> inv_freq((size_t)n_seqs * half);
                float scaling = 1.0f;
                for (int s = 0; s < n_seqs; s++) {
                    llmbed_error error;
                    REQUIRE(llmbed_rope_frequencies(&config, lens[s], &inv_freq[(size_t)s * half], &scaling, &error) ==
                            LLMBED_OK);
                }
                Buf<int32_t> first_position(n_seqs), rows(T > 0 ? T : 1);
                Buf<float> table((size_t)(T > 0 ? T : 1) * half * 2);
                for (int s = 0; s < n_seqs; s++) {
                    first_position[s] = shifted ? 61 * s + 5 : 0;
                    for (int t = off[s]; t < off[s + 1]; t++) {
                        rows[t] = t; /* one row per token, as the backend's extra rows */
                        llmbed_cpu_rope_row(first_position[s] + (t - off[s]), &inv_freq[(size_t)s * half], half,
                                            scaling, &table[(size_t)t * half * 2]);
                    }
                }
                Buf<float> qkv = rng.bf16_values((size_t)T * W, -2.0f, 2.0f), q_w = rng.bf16_values(D, 0.5f, 1.5f),
                           k_w = rng.bf16_values(D, 0.5f, 1.5f);
                /* the CPU reference on contiguous copies: [T * H, D] and [T * KV, D] */
                Buf<float> q((size_t)T * H * D), k((size_t)T * KV * D);
                for (int t = 0; t < T; t++) {
                    std::memcpy(&q[(size_t)t * H * D], &qkv[(size_t)t * W], sizeof(float) * H * D);
                    std::memcpy(&k[(size_t)t * KV * D], &qkv[(size_t)t * W + H * D], sizeof(float) * KV * D);
                }
                const Buf<float> q_in = q, k_in = k;
                if (normed) {
                    const llmbed_rmsnorm_params qn = {T * H, D, 1e-6f}, kn = {T * KV, D, 1e-6f};
                    llmbed_cpu_rmsnorm(&qn, q_in.data(), q_w.data(), q.data());
                    llmbed_cpu_rmsnorm(&kn, k_in.data(), k_w.data(), k.data());
                }
                const Buf<float> q_normed = q, k_normed = k;
                const llmbed_rope_params rq = {n_seqs, off.data(), H, D, H * D, inv_freq.data(), scaling,
                                               shifted ? first_position.data() : nullptr};
                const llmbed_rope_params rk = {n_seqs, off.data(), KV, D, KV * D, inv_freq.data(), scaling,
                                               shifted ? first_position.data() : nullptr};
                llmbed_cpu_rope(&rq, q.data());
                llmbed_cpu_rope(&rk, k.data());

                Buf<uint16_t> qkv16 = harness::to_bf16(qkv);
                Guarded<uint16_t> got((size_t)T * W);
                if (T) std::memcpy(got.data(), qkv16.data(), qkv16.size() * 2);
                const llmbed_cuda_qkv view = {got.data(), got.data() + H * D, got.data() + (H + KV) * D, W, W};
                const llmbed_qk_norm_rope_params p = {T, H, KV, D, 1e-6f, 1};
                REQUIRE(llmbed_cuda_qk_norm_rope(&p, &view, normed ? q_w.data() : nullptr,
                                                 normed ? k_w.data() : nullptr, table.data(), rows.data(), nullptr,
                                                 nullptr) == LLMBED_OK);
                harness::sync();
                REQUIRE(got.intact());
                ErrorStats st;
                auto check = [&](const Buf<float> &want, const Buf<float> &in, int heads, int col0, int t, int h,
                                 int i) {
                    const size_t at = ((size_t)t * heads + h) * D + i;
                    const size_t pair = ((size_t)t * heads + h) * D + (i < half ? i + half : i - half);
                    const double tol = kBf16Unit * std::fabs(want[at]) +
                                       2e-6 * (std::fabs(in[at]) + std::fabs(in[pair])) * scaling + 1e-7;
                    st.add(harness::bf16_value(got[(size_t)t * W + col0 + h * D + i]), want[at], tol, at);
                };
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < D; i++) {
                        for (int h = 0; h < H; h++) check(q, q_normed, H, 0, t, h, i);
                        for (int h = 0; h < KV; h++) check(k, k_normed, KV, H * D, t, h, i);
                    }
                for (int t = 0; t < T; t++)
                    for (int i = (H + KV) * D; i < W; i++) REQUIRE(got[(size_t)t * W + i] == qkv16[(size_t)t * W + i]);
                report.add(std::string(type_names[type_index]) + " D" + std::to_string(D) + " " +
                               harness::lens_name(lens) + (normed ? " +norm" : "") + (shifted ? " +pos" : ""),
                           st);
                CHECK(st.worst_ratio <= 1.0);
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
                llmbed_swiglu_params p = {T, I, LLMBED_GATE_SILU};
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

namespace {

struct AttentionCase {
    int head_dim, n_heads, n_kv_heads;
    std::vector<int> lens;
    bool rope_q; /* raw q, normalised and rotated by the kernel (the CUDA backend's uncached path) */
};

/* Lengths 1..max_len, n of them (a pack of many short sequences). */
std::vector<int> short_lengths(int n, int max_len, Rng &rng) {
    std::vector<int> lens((size_t)n);
    for (int &l : lens) l = rng.integer(1, max_len);
    return lens;
}

void run_attention_case(const AttentionCase &c, int causal, Rng &rng, OpReport &report) {
    Buf<int32_t> off = harness::offsets_of(c.lens);
    const int T = off.back(), D = c.head_dim, n_seqs = (int)c.lens.size();
    int max_len = 0;
    for (int l : c.lens) max_len = std::max(max_len, l);
    /* scale 1/sqrt(D) times a temperature of 0.7 (TempScale), so the scale path is not the default */
    llmbed_attention_params p = {n_seqs, off.data(), c.n_heads, c.n_kv_heads, D, causal,
                                 (float)(1.0 / std::sqrt((double)D) / 0.7), nullptr, nullptr, 0};
    size_t nq = (size_t)T * c.n_heads * D, nkv = (size_t)T * c.n_kv_heads * D;
    Buf<float> q = rng.bf16_values(nq, -2.0f, 2.0f), k = rng.bf16_values(nkv, -2.0f, 2.0f),
               v = rng.bf16_values(nkv, -1.0f, 1.0f);
    Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k), v16 = harness::to_bf16(v);
    /* the kernel's q norm + RoPE: table rows per token from llmbed_cpu_rope_row, as the backend builds them */
    const int half = D / 2;
    Buf<float> q_w = rng.bf16_values(D, 0.5f, 1.5f), inv_freq((size_t)n_seqs * half),
               table((size_t)(T > 0 ? T : 1) * half * 2);
    Buf<int32_t> rows(T > 0 ? T : 1);
    if (c.rope_q) {
        for (int s = 0; s < n_seqs; s++)
            for (int i = 0; i < half; i++) inv_freq[(size_t)s * half + i] = (float)std::pow(10000.0, -2.0 * i / D);
        for (int s = 0; s < n_seqs; s++)
            for (int t = off[s]; t < off[s + 1]; t++) {
                rows[t] = t;
                llmbed_cpu_rope_row(t - off[s], &inv_freq[(size_t)s * half], half, 1.0f, &table[(size_t)t * half * 2]);
            }
        const Buf<float> raw = q;
        const llmbed_rmsnorm_params qn = {T * c.n_heads, D, 1e-6f};
        if (T) llmbed_cpu_rmsnorm(&qn, raw.data(), q_w.data(), q.data());
        const llmbed_rope_params rq = {n_seqs, off.data(), c.n_heads, D, c.n_heads * D, inv_freq.data(), 1.0f, nullptr};
        llmbed_cpu_rope(&rq, q.data());
        for (float &x : q) x = harness::round_bf16(x); /* the kernel holds the rotated q in bf16 */
    }
    Buf<float> want(nq);
    Buf<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
    if (T) llmbed_cpu_attention(&p, q.data(), k.data(), v.data(), want.data(), scratch.data());
    /* causal cases read the CUDA backend's fused rows [q heads | k heads | v heads], the others separate buffers */
    const int64_t qd = (int64_t)c.n_heads * D, kvd = (int64_t)c.n_kv_heads * D, W = qd + 2 * kvd;
    Buf<uint16_t> fused((size_t)(T > 0 ? T : 1) * W);
    for (int t = 0; t < T; t++) {
        std::memcpy(&fused[(size_t)t * W], &q16[(size_t)t * qd], qd * 2);
        std::memcpy(&fused[(size_t)t * W + qd], &k16[(size_t)t * kvd], kvd * 2);
        std::memcpy(&fused[(size_t)t * W + qd + kvd], &v16[(size_t)t * kvd], kvd * 2);
    }
    const llmbed_cuda_qkv view = causal ? llmbed_cuda_qkv{fused.data(), fused.data() + qd, fused.data() + qd + kvd, W, W}
                                        : llmbed_cuda_qkv{q16.data(), k16.data(), v16.data(), qd, kvd};
    const llmbed_cuda_q_rope q_rope = {q_w.data(), 1e-6f, table.data(), rows.data()};
    Guarded<uint16_t> got(nq);
    llmbed_error error{};
    const llmbed_status st = llmbed_cuda_attention(&p, max_len, &view, c.rope_q ? &q_rope : nullptr, got.data(),
                                                   nullptr, &error);
    INFO(error.message);
    REQUIRE(st == LLMBED_OK);
    harness::sync();
    REQUIRE(got.intact());
    double max_v = 0.0;
    for (float x : v) max_v = std::max(max_v, (double)std::fabs(x));
    /* with the kernel's own rotation, a rotated q element may round to the other neighbouring bf16 than the
     * reference's (fp32 rsqrt differences): twice the tolerance */
    const double factor = c.rope_q ? 2.0 : 1.0;
    ErrorStats s;
    for (size_t i = 0; i < nq; i++)
        s.add(harness::bf16_value(got[i]), want[i], factor * kBf16Unit * (std::fabs(want[i]) + max_v), i);
    report.add("D" + std::to_string(D) + " H" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                   (causal ? " causal " : " bidir ") + (c.rope_q ? "+rope " : "") +
                   (c.lens.size() > 8 ? std::to_string(c.lens.size()) + " seqs" : harness::lens_name(c.lens)),
               s);
    CHECK(s.worst_ratio <= 1.0);
}

} // namespace

/* Every tile shape: single and empty sequences, partial tiles, the unmasked
 * fast path (a 2k-token sequence: whole tiles below the diagonal), GQA
 * groups of 1, 2, 3, 4, 8 and 16 query heads (packed 1-8 per block), many
 * short sequences in one pack, exact and zero-padded head dims. */
TEST_CASE("op: varlen flash attention", "[emu][ops]") {
    OpReport report{"attention", "u(|ref|+max|v|)", {}, {}};
    Rng rng(6);
    const std::vector<AttentionCase> cases = {
        {64, 2, 2, {1}, false},
        {64, 4, 2, {7}, true},
        {128, 4, 1, {129}, false},
        {128, 16, 8, {130, 1}, true}, /* Qwen3-0.6B's heads */
        {80, 8, 1, {3, 0, 1, 70}, false},
        {96, 2, 1, {0, 33, 1}, true},
        {128, 8, 2, {65, 7, 1, 0, 40}, false},
        {64, 1, 1, {1, 1, 1}, false},
        {16, 4, 2, {1, 7, 40}, true}, /* small instantiations, as the tiny golden models use */
        {8, 7, 1, {9, 1}, false},     /* padded into 16: rows not 16-byte aligned */
        {12, 3, 3, {5, 33}, false},
        {40, 2, 1, {17}, true},       /* padded into 64 */
        {16, 1, 1, {2048}, false},    /* >= 2k tokens: 32 key tiles, most unmasked */
        {32, 2, 1, {2100, 3}, true},
        {64, 8, 8, {70, 9}, false},   /* GQA 1, 2, 4, 8 */
        {64, 8, 4, {70, 9}, false},
        {64, 8, 2, {70, 9}, true},
        {64, 8, 1, {70, 9}, false},
        {32, 6, 2, {45, 3}, false},   /* group of 3: 21 tokens x 3 heads per block */
        {16, 16, 1, {20, 1}, false},  /* group of 16: 8 heads per block, two blocks per group */
        {64, 4, 2, short_lengths(120, 9, rng), true}, /* many short sequences */
    };
    for (const AttentionCase &c : cases)
        for (int causal : {1, 0}) run_attention_case(c, causal, rng, report);

    llmbed_attention_params bad = {1, nullptr, 4, 3, 64, 1, 0.125f, nullptr, nullptr, 0};
    uint16_t dummy = 0;
    llmbed_error error{};
    const llmbed_cuda_qkv none = {&dummy, &dummy, &dummy, 0, 0};
    CHECK(llmbed_cuda_attention(&bad, 1, &none, nullptr, &dummy, nullptr, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("attention: 1 sequences (longest 1), 4 query heads over 3") == 0);
    /* a grid beyond CUDA's limits is refused before launching, naming the op (grid.y = heads <= 65535) */
    Buf<int32_t> one_token = harness::offsets_of({1});
    llmbed_attention_params many_heads = {1, one_token.data(), 70000, 70000, 64, 1, 0.125f, nullptr, nullptr, 0};
    CHECK(llmbed_cuda_attention(&many_heads, 1, &none, nullptr, &dummy, nullptr, &error) ==
          LLMBED_ERR_INVALID_ARGUMENT);
    INFO(error.message);
    CHECK(std::string(error.message).find("attention: grid (1, 70000, 1)") == 0);
    CHECK(std::string(error.message).find("outside CUDA's limits") != std::string::npos);
    llmbed_attention_params odd_dim = {1, nullptr, 4, 2, 71, 1, 0.125f, nullptr, nullptr, 0};
    CHECK(llmbed_cuda_attention(&odd_dim, 1, &none, nullptr, &dummy, nullptr, nullptr) == LLMBED_ERR_UNSUPPORTED);
    CHECK(llmbed_cuda_attention_supports_head_dim(128) == 1);
    CHECK(llmbed_cuda_attention_supports_head_dim(72) == 1);
    CHECK(llmbed_cuda_attention_supports_head_dim(256) == 0);
}

/* Pooling and post-processing are bit for bit the CPU backend's (the same
 * sums in the same order, in double, no fused multiply-add), so the rows a
 * GPU job writes equal a CPU job's given the same hidden states. */
TEST_CASE("op: pooling with instruction masks, bit-identical to the CPU", "[emu][ops]") {
    OpReport report{"pooling", "exact", {}, {}};
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
                    Buf<float> x((size_t)T * hidden);
                    for (float &v : x) v = rng.uniform(-2.0f, 2.0f); /* full fp32 values: rounding order shows */
                    Buf<float> want((size_t)n_seqs * hidden);
                    llmbed_cpu_pooling(&p, x.data(), want.data());
                    Guarded<float> got(want.size());
                    REQUIRE(llmbed_cuda_pooling(&p, x.data(), got.data(), T, nullptr, nullptr) == LLMBED_OK);
                    harness::sync();
                    REQUIRE(got.intact());
                    ErrorStats s;
                    for (size_t i = 0; i < want.size(); i++) s.add(got[i], want[i], 1e-30, i);
                    report.add("kind " + std::to_string((int)kind) + " H" + std::to_string(hidden) + " " +
                                   harness::lens_name(lens) + (masked ? " masked" : ""),
                               s);
                    CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);
                }
            }
        }
    }
}

TEST_CASE("op: postprocess (truncation, L2, fp32/fp16/int8/ubinary), bit-identical to the CPU", "[emu][ops]") {
    Rng rng(8);
    const char *names[] = {"float32", "float16", "int8", "ubinary"};
    size_t compared = 0;
    for (int rows : {1, 7, 129}) {
        for (int in_dims : {7, 129, 1024}) {
            for (int dims : {1, in_dims / 2 + 1, in_dims}) {
                for (int normalize : {0, 1}) {
                    for (int precision = LLMBED_PRECISION_FLOAT32; precision <= LLMBED_PRECISION_UBINARY; precision++) {
                        llmbed_postprocess_params p = {rows, in_dims, dims, normalize, precision};
                        Buf<float> x((size_t)rows * in_dims);
                        for (float &v : x) v = rng.uniform(-2.0f, 2.0f);
                        for (int i = 0; i < in_dims; i++) x[i] = 0.0f; /* a zero row stays zero */
                        if (rows > 1) x[(size_t)in_dims] = 0.0f;        /* exactly zero is not positive: bit 0 */
                        const size_t row_bytes = llmbed_row_width((llmbed_output_dtype)precision, dims) *
                                                 llmbed_dtype_size((llmbed_output_dtype)precision);
                        Buf<uint8_t> want(rows * row_bytes);
                        Buf<float> want_scales(rows), scratch(dims);
                        llmbed_cpu_postprocess(&p, x.data(), want.data(), want_scales.data(), scratch.data());
                        Guarded<uint8_t> got(rows * row_bytes);
                        Guarded<float> scales(rows);
                        REQUIRE(llmbed_cuda_postprocess(&p, x.data(), got.data(), scales.data(), nullptr, nullptr) ==
                                LLMBED_OK);
                        harness::sync();
                        REQUIRE(got.intact());
                        REQUIRE(scales.intact());
                        INFO(rows << "x" << in_dims << " -> " << dims << (normalize ? " normalised " : " ")
                                  << names[precision]);
                        CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
                        if (precision == LLMBED_PRECISION_INT8)
                            CHECK(std::memcmp(scales.data(), want_scales.data(), (size_t)rows * 4) == 0);
                        compared += want.size();
                    }
                }
            }
        }
    }
    std::printf("[%s] postprocess      %zu output bytes, all four precisions: bit-identical to the CPU op\n",
                harness::kBackend, compared);
    /* a deliberately wrong row is caught: the comparison can fail */
    llmbed_postprocess_params p = {1, 8, 8, 1, LLMBED_PRECISION_FLOAT32};
    Buf<float> x(8, 1.0f), want(8), scratch(8);
    llmbed_cpu_postprocess(&p, x.data(), want.data(), nullptr, scratch.data());
    want[3] = std::nextafter(want[3], 1.0f);
    Guarded<float> got(8);
    REQUIRE(llmbed_cuda_postprocess(&p, x.data(), got.data(), nullptr, nullptr, nullptr) == LLMBED_OK);
    harness::sync();
    CHECK(std::memcmp(got.data(), want.data(), 32) != 0);
    llmbed_error error{};
    p.precision = LLMBED_PRECISION_INT8;
    CHECK(llmbed_cuda_postprocess(&p, x.data(), got.data(), nullptr, nullptr, &error) == LLMBED_ERR_INVALID_ARGUMENT);
    CHECK(std::string(error.message).find("without scales") != std::string::npos);
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
