// Pooling (last/mean/first/weighted-mean with instruction masks) and
// post-processing (Matryoshka truncation, L2 normalisation) against double references.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "cpu/cpu_ops.h"
#include "support/test_buffers.hpp"

using namespace llmbed_test;

namespace {

std::vector<double> naive_pool(llmbed_pool_kind kind, const std::vector<int32_t> &off, const int32_t *instr,
                               const std::vector<float> &h, int C) {
    const int n = (int)off.size() - 1;
    std::vector<double> out((size_t)n * C, 0.0);
    for (int s = 0; s < n; s++) {
        const int first = off[s] + (instr ? instr[s] : 0), end = off[s + 1];
        if (first >= end) continue;
        for (int c = 0; c < C; c++) {
            double acc = 0, wsum = 0;
            for (int t = first; t < end; t++) {
                double w = 0;
                if (kind == LLMBED_POOL_MEAN) w = 1;
                if (kind == LLMBED_POOL_WEIGHTED_MEAN) w = t - first + 1; // SGPT: 1..n
                if (kind == LLMBED_POOL_LAST) w = t == end - 1;
                if (kind == LLMBED_POOL_FIRST) w = t == first;
                acc += w * h[(size_t)t * C + c];
                wsum += w;
            }
            out[(size_t)s * C + c] = acc / wsum;
        }
    }
    return out;
}

} // namespace

// Ranges [off[s] + instr[s], off[s + 1]) per sequence, as the decoder builds them.
struct Ranges {
    std::vector<int32_t> begin, end;
};
Ranges sequence_ranges(const std::vector<int32_t> &off, const int32_t *instr) {
    Ranges r;
    for (size_t s = 0; s + 1 < off.size(); s++) {
        r.begin.push_back(off[s] + (instr ? instr[s] : 0));
        r.end.push_back(off[s + 1]);
    }
    return r;
}

TEST_CASE("pooling kinds with and without instruction masks", "[ops][pooling]") {
    std::mt19937 rng(21);
    const std::vector<int> lengths = {1, 7, 129, 3, 5};
    const auto off = offsets_of(lengths);
    const std::vector<int32_t> instr = {0, 3, 128, 3, 1}; // 3 of 3 masked: zeros
    for (int C : {1, 7, 129}) {
        auto h = random_floats((size_t)off.back() * C, rng);
        for (auto kind : {LLMBED_POOL_LAST, LLMBED_POOL_MEAN, LLMBED_POOL_FIRST, LLMBED_POOL_WEIGHTED_MEAN}) {
            for (bool masked : {false, true}) {
                const int32_t *mask = masked ? instr.data() : nullptr;
                GuardedBuffer out(lengths.size() * C);
                const Ranges ranges = sequence_ranges(off, mask);
                llmbed_pooling_params p{kind, (int)lengths.size(), ranges.begin.data(), ranges.end.data(), C};
                llmbed_cpu_pooling(&p, h.data(), out.data());
                const double err = max_abs_diff(out.data(), naive_pool(kind, off, mask, h, C));
                INFO("kind " << kind << " hidden " << C << " masked " << masked << " max |d| " << err);
                CHECK(err <= 1e-7); // one rounding of a double sum to fp32
                CHECK(out.guards_intact());
                if (masked) CHECK(out[3 * C] == 0.0f);
            }
        }
    }
}

TEST_CASE("pooling over arbitrary row ranges: spans inside, overlapping and empty", "[ops][pooling]") {
    std::mt19937 rng(23);
    const int C = 7, T = 40;
    auto h = random_floats((size_t)T * C, rng);
    // late-chunking style spans of one sequence, an overlapping span, a single row and an empty one
    const std::vector<int32_t> begin = {0, 10, 5, 39, 20}, end = {10, 40, 15, 40, 20};
    for (auto kind : {LLMBED_POOL_LAST, LLMBED_POOL_MEAN, LLMBED_POOL_FIRST, LLMBED_POOL_WEIGHTED_MEAN}) {
        GuardedBuffer out(begin.size() * C);
        llmbed_pooling_params p{kind, (int)begin.size(), begin.data(), end.data(), C};
        llmbed_cpu_pooling(&p, h.data(), out.data());
        double err = 0;
        for (size_t r = 0; r < begin.size(); r++) {
            const std::vector<int32_t> one = {begin[r], end[r]};
            const auto want = naive_pool(kind, one, nullptr, h, C);
            for (int c = 0; c < C; c++)
                err = std::fmax(err, std::fabs(out[r * C + c] - want[c]));
        }
        INFO("kind " << kind << " max |d| " << err);
        CHECK(err <= 1e-7);
        CHECK(out.guards_intact());
        for (int c = 0; c < C; c++) CHECK(out[4 * C + c] == 0.0f);
    }
}

TEST_CASE("postprocess truncates then normalises, zero rows stay zero", "[ops][postprocess]") {
    std::mt19937 rng(22);
    const int rows = 5, in_dims = 129;
    auto x = random_floats((size_t)rows * in_dims, rng);
    for (int c = 0; c < in_dims; c++) x[2 * in_dims + c] = 0.0f;
    for (int dims : {1, 7, 129}) {
        for (int normalize : {0, 1}) {
            GuardedBuffer out((size_t)rows * dims);
            llmbed_postprocess_params p{rows, in_dims, dims, normalize, LLMBED_PRECISION_FLOAT32};
            std::vector<float> scratch((size_t)dims);
            llmbed_cpu_postprocess(&p, x.data(), out.data(), nullptr, scratch.data());
            std::vector<double> want((size_t)rows * dims);
            for (int r = 0; r < rows; r++) {
                double ss = 0;
                for (int c = 0; c < dims; c++) ss += (double)x[(size_t)r * in_dims + c] * x[(size_t)r * in_dims + c];
                const double norm = normalize ? std::fmax(std::sqrt(ss), 1e-12) : 1.0;
                for (int c = 0; c < dims; c++) want[(size_t)r * dims + c] = x[(size_t)r * in_dims + c] / norm;
            }
            CHECK(max_abs_diff(out.data(), want) <= 1e-7);
            CHECK(out.guards_intact());
            for (int c = 0; c < dims; c++) CHECK(out[2 * dims + c] == 0.0f);
        }
    }
}
