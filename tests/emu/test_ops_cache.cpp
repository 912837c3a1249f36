/* Op harness rows of the key/value cache kernels (SPEC §5): each kernel
 * against its CPU reference (host/cpu/kv_cache.c, think_select.c,
 * attention.c) on the same bf16-representable inputs, over GQA ratios, head
 * dims, chunk layouts with and without a pruned part, several sequences of
 * which some continue no cache, and single-token chunks. Also compiled into
 * the GPU suite. */
#include "emu_harness.h"

#include <omp.h>

#include <algorithm>
#include <numeric>

#include "kernels/attention_cache.cuh"
#include "kernels/kv_cache.cuh"
#include "kernels/think_select.cuh"

#include "cpu/cpu_ops.h"

using harness::ErrorStats;
using harness::Guarded;
using harness::kBf16Unit;
using harness::OpReport;
using harness::Rng;
template <typename T>
using Buf = harness::Buffer<T>;

namespace {

/* One cache twice: fp32 arrays for the CPU view, bf16 for the kernels' view. */
struct TwinCache {
    int kv, D, kept, capacity, full_capacity, chunk_capacity;
    Buf<float> k_pruned, k_full, v;
    Buf<uint16_t> k_pruned16, k_full16, v16;
    Buf<int32_t> channels, starts;
    llmbed_kv_cache_view cpu{}, gpu{};

    TwinCache(Rng &rng, int kv_heads, int head_dim, int kept_channels, int cap, int full_cap,
              const std::vector<int32_t> &chunk_starts)
        : kv(kv_heads), D(head_dim), kept(kept_channels), capacity(cap), full_capacity(full_cap),
          chunk_capacity((int)chunk_starts.size() - 1) {
        k_pruned = rng.bf16_values((size_t)kv * cap * std::max(kept, 1), -2.0f, 2.0f);
        k_full = rng.bf16_values((size_t)kv * full_cap * D, -2.0f, 2.0f);
        v = rng.bf16_values((size_t)kv * cap * D, -1.0f, 1.0f);
        k_pruned16 = harness::to_bf16(k_pruned);
        k_full16 = harness::to_bf16(k_full);
        v16 = harness::to_bf16(v);
        starts.assign(chunk_starts.begin(), chunk_starts.end());
        channels.resize((size_t)kv * chunk_capacity * std::max(kept, 1));
        for (int g = 0; g < kv; g++)
            for (int j = 0; j < chunk_capacity; j++) {
                std::vector<int32_t> all((size_t)D);
                std::iota(all.begin(), all.end(), 0);
                std::shuffle(all.begin(), all.end(), rng.engine);
                std::sort(all.begin(), all.begin() + kept);
                std::copy(all.begin(), all.begin() + kept, channels.begin() + ((size_t)g * chunk_capacity + j) * kept);
            }
        cpu = view(k_pruned.data(), k_full.data(), v.data());
        gpu = view(k_pruned16.data(), k_full16.data(), v16.data());
    }
    llmbed_kv_cache_view view(void *kp, void *kf, void *vv) {
        llmbed_kv_cache_view w{};
        w.kept = kept;
        w.n_chunks = chunk_capacity;
        w.chunk_capacity = chunk_capacity;
        w.chunk_starts = starts.data();
        w.kept_channels = channels.data();
        w.k_pruned = kp;
        w.k_full = kf;
        w.v = vv;
        w.capacity = capacity;
        w.full_capacity = full_capacity;
        return w;
    }
    void set_state(int length, int n_pruned) {
        cpu.length = gpu.length = length;
        cpu.n_pruned = gpu.n_pruned = n_pruned;
    }
};

struct CachedAttentionCase {
    int head_dim, n_heads, n_kv_heads, kept;
    int length, n_pruned;              /* the cache */
    std::vector<int32_t> chunk_starts; /* of the cache */
    std::vector<int> lens;             /* queries per sequence */
    std::vector<int32_t> cache_lens;   /* cached positions each continues */
};

} // namespace

TEST_CASE("op: attention over a pruned + full cache and the own keys", "[emu][ops][cache]") {
    OpReport report{"attention_cache", "u(|ref|+max|v|)", {}, {}};
    Rng rng(31);
    const std::vector<CachedAttentionCase> cases = {
        {16, 4, 2, 12, 97, 32, {0, 64, 97}, {33}, {64}},              /* chunk 2 of 64 tokens, as the goldens */
        {64, 4, 1, 40, 300, 200, {0, 128, 256, 300}, {1, 44}, {300, 300}}, /* suffix mode: queries over a document */
        {128, 8, 2, 96, 70, 0, {0, 70}, {5, 17, 1}, {70, 0, 3}},       /* ThinK off; a sequence with no cache */
        {80, 2, 2, 41, 50, 49, {0, 7, 14, 21, 28, 35, 42, 49, 50}, {1}, {50}}, /* chunks of 7, one full key left */
        {32, 3, 1, 1, 20, 20, {0, 10, 20}, {9}, {15}},                 /* one kept channel; cut inside the pruned part */
        /* Qwen3's heads: pruned chunks of 256 (4 key tiles each), 100 recent keys, a 130-token chunk */
        {128, 16, 8, 77, 600, 500, {0, 256, 512, 600}, {130}, {600}},
        {64, 8, 1, 32, 200, 0, {0, 200}, {70}, {200}},                  /* GQA 8, nothing pruned */
        {64, 4, 4, 64, 130, 130, {0, 65, 130}, {64}, {130}},            /* all pruned, every channel kept */
        {16, 8, 2, 5, 90, 40, {0, 30, 60, 90}, {3, 65}, {90, 50}},      /* GQA 4, two splits of one cache */
    };
    for (const CachedAttentionCase &c : cases) {
        const int D = c.head_dim;
        TwinCache cache(rng, c.n_kv_heads, D, c.kept, c.length, c.length - c.n_pruned + 1, c.chunk_starts);
        cache.set_state(c.length, c.n_pruned);
        Buf<int32_t> off = harness::offsets_of(c.lens);
        Buf<int32_t> cache_lens(c.cache_lens.begin(), c.cache_lens.end());
        const int T = off.back();
        int max_len = 0;
        for (int l : c.lens) max_len = std::max(max_len, l);
        llmbed_attention_params p = {(int)c.lens.size(), off.data(), c.n_heads, c.n_kv_heads, D, 1,
                                     (float)(1.0 / std::sqrt((double)D)), cache_lens.data(), &cache.cpu, 0};
        const size_t nq = (size_t)T * c.n_heads * D, nkv = (size_t)T * c.n_kv_heads * D;
        Buf<float> q = rng.bf16_values(nq, -2.0f, 2.0f), k = rng.bf16_values(nkv, -2.0f, 2.0f),
                   v = rng.bf16_values(nkv, -1.0f, 1.0f);
        Buf<float> want(nq);
        Buf<float> scratch(llmbed_cpu_attention_scratch_floats(&p, omp_get_max_threads()));
        llmbed_cpu_attention(&p, q.data(), k.data(), v.data(), want.data(), scratch.data());
        Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k), v16 = harness::to_bf16(v);
        Guarded<uint16_t> got(nq);
        p.cache = &cache.gpu;
        const llmbed_cuda_qkv view = {q16.data(), k16.data(), v16.data(), (int64_t)c.n_heads * D,
                                      (int64_t)c.n_kv_heads * D};
        REQUIRE(llmbed_cuda_attention_cache(&p, max_len, &view, got.data(), nullptr, nullptr) ==
                LLMBED_OK);
        harness::sync();
        REQUIRE(got.intact());
        double max_v = 0.0;
        for (float x : v) max_v = std::max(max_v, (double)std::fabs(x));
        for (float x : cache.v) max_v = std::max(max_v, (double)std::fabs(x));
        ErrorStats s;
        for (size_t i = 0; i < nq; i++)
            s.add(harness::bf16_value(got[i]), want[i], kBf16Unit * (std::fabs(want[i]) + max_v), i);
        report.add("D" + std::to_string(D) + " H" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                       " kept " + std::to_string(c.kept) + " cache " + std::to_string(c.length) + "/" +
                       std::to_string(c.n_pruned) + " " + harness::lens_name(c.lens),
                   s);
        CHECK(s.worst_ratio <= 1.0);
    }
    llmbed_attention_params bidirectional = {1, nullptr, 4, 2, 64, 0, 0.125f, nullptr, nullptr, 0};
    uint16_t dummy = 0;
    const llmbed_cuda_qkv none = {&dummy, &dummy, &dummy, 0, 0};
    CHECK(llmbed_cuda_attention_cache(&bidirectional, 1, &none, &dummy, nullptr, nullptr) ==
          LLMBED_ERR_INVALID_ARGUMENT);
}

TEST_CASE("op: cache append and compaction are exact copies", "[emu][ops][cache]") {
    OpReport report{"cache append/compact", "exact", {}, {}};
    Rng rng(32);
    struct Case {
        int kv, D, kept, length, n_pruned, new_n_pruned, rows;
        std::vector<int32_t> starts;
    };
    for (const Case &c : {Case{2, 16, 12, 64, 0, 32, 33, {0, 64, 97}}, Case{1, 128, 64, 300, 200, 236, 40, {0, 128, 256, 300}},
                          Case{3, 64, 1, 7, 0, 0, 1, {0, 7, 8}}, Case{2, 80, 41, 21, 7, 14, 7, {0, 7, 14, 21, 28}}}) {
        const int full_capacity = c.length + c.rows - c.n_pruned;
        TwinCache cache(rng, c.kv, c.D, c.kept, c.length + c.rows, full_capacity, c.starts);
        cache.set_state(c.length, c.n_pruned);
        const int T = c.rows + 3; /* packed k/v rows [3, T) are appended */
        Buf<float> k = rng.bf16_values((size_t)T * c.kv * c.D, -2.0f, 2.0f), v = rng.bf16_values((size_t)T * c.kv * c.D, -1.0f, 1.0f);
        Buf<uint16_t> k16 = harness::to_bf16(k), v16 = harness::to_bf16(v);
        const llmbed_cache_append_params append = {c.kv, c.D, 3, T, c.length, c.n_pruned};
        llmbed_cpu_cache_append(&append, k.data(), v.data(), &cache.cpu);
        const llmbed_cuda_qkv kv = {nullptr, k16.data(), v16.data(), 0, (int64_t)c.kv * c.D};
        REQUIRE(llmbed_cuda_cache_append(&append, &kv, &cache.gpu, nullptr, nullptr) == LLMBED_OK);
        const llmbed_cache_compact_params compact = {c.kv, c.D, c.length + c.rows, c.n_pruned, c.new_n_pruned};
        if (c.kept > 0 && c.new_n_pruned > c.n_pruned) {
            llmbed_cpu_cache_compact(&compact, &cache.cpu);
            REQUIRE(llmbed_cuda_cache_compact(&compact, &cache.gpu, nullptr, nullptr) == LLMBED_OK);
        }
        harness::sync();
        ErrorStats s;
        auto same = [&](const Buf<float> &want, const Buf<uint16_t> &got) {
            for (size_t i = 0; i < want.size(); i++) s.add(harness::bf16_value(got[i]), want[i], 1e-30, i);
        };
        same(cache.k_full, cache.k_full16);
        same(cache.k_pruned, cache.k_pruned16);
        same(cache.v, cache.v16);
        report.add("KV" + std::to_string(c.kv) + " D" + std::to_string(c.D) + " +" + std::to_string(c.rows) +
                       " prune " + std::to_string(c.n_pruned) + "->" + std::to_string(c.new_n_pruned),
                   s);
        CHECK(s.max_abs == 0.0);
    }
}

TEST_CASE("op: ThinK channel selection", "[emu][ops][cache]") {
    OpReport report{"think_select", "same set (near-ties: |score - k-th| <= 1e-5 k-th)", {}, {}};
    Rng rng(33);
    struct Case {
        int H, KV, D, rows, observed, kept;
    };
    for (const Case &c : {Case{4, 2, 16, 64, 32, 12}, Case{8, 1, 128, 200, 32, 77}, Case{2, 2, 64, 1, 1, 32},
                          Case{7, 7, 80, 40, 32, 79}, Case{3, 1, 256, 33, 32, 1}}) {
        const int T = c.rows + 5, row_begin = 5;
        Buf<float> q = rng.bf16_values((size_t)T * c.H * c.D, -2.0f, 2.0f), k = rng.bf16_values((size_t)T * c.KV * c.D, -2.0f, 2.0f);
        Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k);
        TwinCache cache(rng, c.KV, c.D, c.kept, 8, 8, {0, 4, 8});
        Buf<int32_t> want(cache.channels);
        llmbed_kv_cache_view cpu_view = cache.cpu;
        cpu_view.kept_channels = want.data();
        const llmbed_think_select_params p = {c.H, c.KV, c.D, row_begin, T, c.observed, c.kept, 1, 2};
        llmbed_cpu_think_select(&p, q.data(), k.data(), &cpu_view);
        const llmbed_cuda_qkv qk = {q16.data(), k16.data(), nullptr, (int64_t)c.H * c.D, (int64_t)c.KV * c.D};
        REQUIRE(llmbed_cuda_think_select(&p, &qk, &cache.gpu, nullptr, nullptr) == LLMBED_OK);
        harness::sync();
        int differing = 0;
        for (int g = 0; g < c.KV; g++) {
            /* the CPU's double scores, to judge a disagreement */
            std::vector<double> score((size_t)c.D);
            const int group = c.H / c.KV;
            for (int ch = 0; ch < c.D; ch++) {
                double q2 = 0, k2 = 0;
                for (int t = T - c.observed; t < T; t++)
                    for (int h = g * group; h < (g + 1) * group; h++) q2 += std::pow(q[((size_t)t * c.H + h) * c.D + ch], 2);
                for (int t = row_begin; t < T; t++) k2 += std::pow(k[((size_t)t * c.KV + g) * c.D + ch], 2);
                score[(size_t)ch] = q2 / (c.observed * group) * k2 / c.rows;
            }
            std::vector<double> sorted = score;
            std::sort(sorted.rbegin(), sorted.rend());
            const double kth = sorted[(size_t)c.kept - 1];
            const int32_t *got = &cache.channels[((size_t)g * 2 + 1) * c.kept];
            const int32_t *ref = &want[((size_t)g * 2 + 1) * c.kept];
            CHECK(std::is_sorted(got, got + c.kept));
            for (int i = 0; i < c.kept; i++) {
                if (std::find(ref, ref + c.kept, got[i]) != ref + c.kept) continue;
                differing++;
                CHECK(std::fabs(score[(size_t)got[i]] - kth) <= 1e-5 * kth);
            }
        }
        ErrorStats s;
        s.add((double)differing, 0.0, 1.0 + c.KV, 0);
        report.add("H" + std::to_string(c.H) + "/" + std::to_string(c.KV) + " D" + std::to_string(c.D) + " rows " +
                       std::to_string(c.rows) + " keep " + std::to_string(c.kept),
                   s);
    }
}

/* NaN scores (a NaN activation upstream) rank below every number, so exactly
 * `kept` channels come out, the finite ones first by score, the NaN ones by
 * index; before this rule a NaN channel counted nobody above it, more than
 * `kept` channels were kept and their slots ran past the chunk's row. */
TEST_CASE("op: ThinK selection with NaN scores keeps exactly `kept` channels", "[emu][ops][cache]") {
    Rng rng(34);
    const int H = 4, KV = 2, D = 16, T = 12, observed = 8;
    for (int kept : {3, 12, 15}) {
        Buf<float> q = rng.bf16_values((size_t)T * H * D, -2.0f, 2.0f), k = rng.bf16_values((size_t)T * KV * D, -2.0f, 2.0f);
        /* channels 1, 5 and 9 of kv head 0 and channel 0 of head 1 get a NaN score */
        for (int t = 0; t < T; t++) {
            for (int c : {1, 5, 9}) k[((size_t)t * KV + 0) * D + c] = NAN;
            k[((size_t)t * KV + 1) * D + 0] = NAN;
        }
        Buf<uint16_t> q16 = harness::to_bf16(q), k16 = harness::to_bf16(k);
        const int chunk_capacity = 1;
        const size_t n_out = (size_t)KV * chunk_capacity * kept;
        Guarded<int32_t> got(n_out), want(n_out);
        llmbed_kv_cache_view view{};
        view.kept = kept;
        view.chunk_capacity = chunk_capacity;
        view.kept_channels = got.data();
        const llmbed_think_select_params p = {H, KV, D, 0, T, observed, kept, 0, chunk_capacity};
        const llmbed_cuda_qkv qk = {q16.data(), k16.data(), nullptr, H * D, KV * D};
        REQUIRE(llmbed_cuda_think_select(&p, &qk, &view, nullptr, nullptr) == LLMBED_OK);
        harness::sync();
        view.kept_channels = want.data();
        llmbed_cpu_think_select(&p, q.data(), k.data(), &view);
        REQUIRE(got.intact());
        REQUIRE(want.intact());
        for (int g = 0; g < KV; g++) {
            const int32_t *row = got.data() + (size_t)g * kept;
            CHECK(std::is_sorted(row, row + kept));
            CHECK(std::adjacent_find(row, row + kept) == row + kept);
            const std::vector<int> nan_channels = g == 0 ? std::vector<int>{1, 5, 9} : std::vector<int>{0};
            const int finite = D - (int)nan_channels.size();
            int kept_nan = 0;
            for (int i = 0; i < kept; i++)
                kept_nan += std::count(nan_channels.begin(), nan_channels.end(), row[i]) > 0;
            INFO("kv head " << g << ", keep " << kept);
            /* NaN channels only fill what the finite ones cannot, lowest index first */
            CHECK(kept_nan == std::max(0, kept - finite));
            for (int i = 0; i < kept_nan; i++) CHECK(std::find(row, row + kept, nan_channels[(size_t)i]) != row + kept);
            for (int i = 0; i < kept; i++) CHECK(row[i] == want[(size_t)g * kept + i]);
        }
    }
}
