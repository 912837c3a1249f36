// Runs llmbed on golden sequences and measures agreement with the goldens:
// the smallest per-row cosine and the largest absolute difference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/golden_manifest.hpp"

namespace llmbed_test {

// Tolerances of issue 3: the fp32 engine against the float64 reference.
constexpr double kGoldenMinCosine = 0.99999;
constexpr double kGoldenMaxAbs = 1e-4;

struct Agreement {
    double min_cosine = 1.0;
    double max_abs = 0.0;
    bool has_nan = false;
    void merge(const Agreement &o) {
        min_cosine = std::min(min_cosine, o.min_cosine);
        max_abs = std::max(max_abs, o.max_abs);
        has_nan = has_nan || o.has_nan;
    }
    bool within_golden_tolerance() const {
        return !has_nan && min_cosine >= kGoldenMinCosine && max_abs <= kGoldenMaxAbs;
    }
};

// got and want hold rows of `width` values; cosine per row, |diff| over all.
inline Agreement compare_rows(const float *got, const std::vector<double> &want, int width) {
    Agreement a;
    const size_t rows = want.size() / size_t(width);
    for (size_t r = 0; r < rows; r++) {
        double dot = 0, gg = 0, ww = 0;
        for (int i = 0; i < width; i++) {
            const double g = got[r * width + i], w = want[r * width + i];
            dot += g * w;
            gg += g * g;
            ww += w * w;
            if (std::isnan(g)) a.has_nan = true;
            a.max_abs = std::max(a.max_abs, std::fabs(g - w));
        }
        // Two zero vectors (fully masked pools) agree; NaN fails both checks.
        const double cosine = (gg == 0 && ww == 0) ? 1.0 : dot / std::sqrt(gg * ww);
        if (!std::isnan(cosine)) a.min_cosine = std::min(a.min_cosine, cosine);
    }
    return a;
}

inline double max_abs_diff(const std::vector<float> &a, const std::vector<float> &b) {
    if (a.size() != b.size()) return INFINITY;
    double m = 0;
    for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
    return m;
}

inline std::string case_label(const GoldenManifest &m, const GoldenCase &c) {
    return m.model + " n=" + std::to_string(m.sequences[size_t(c.sequence)].size()) + " " + c.attention + " " +
           c.pooling + " instruction_len=" + std::to_string(c.instruction_len) +
           " layer=" + std::to_string(c.layer);
}

// Embeds `sequences` as one packed batch. Returns the status; out receives
// [n_sequences, hidden] (or [total_tokens, hidden] for POOLING_NONE). The
// buffer carries canary values past its end that must survive the call.
inline llmbed_status embed_packed(llmbed_ctx *ctx, const std::vector<std::vector<int32_t>> &sequences,
                                  const std::vector<int32_t> *instruction_lens, const llmbed_embed_params &params,
                                  int hidden, std::vector<float> &out, bool &guards_ok) {
    std::vector<int32_t> tokens;
    std::vector<int64_t> offsets{0};
    for (const auto &s : sequences) {
        tokens.insert(tokens.end(), s.begin(), s.end());
        offsets.push_back(int64_t(tokens.size()));
    }
    llmbed_batch batch{};
    batch.tokens = tokens.data();
    batch.offsets = offsets.data();
    batch.n_sequences = int(sequences.size());
    batch.instruction_lens = instruction_lens ? instruction_lens->data() : nullptr;
    const size_t rows = params.pooling == LLMBED_POOLING_NONE ? tokens.size() : sequences.size();
    const size_t n = rows * size_t(hidden);
    constexpr size_t kGuard = 8;
    constexpr float kCanary = -7777.25f;
    std::vector<float> buffer(n + kGuard, kCanary);
    const llmbed_status status = llmbed_embed(ctx, &batch, &params, buffer.data(), n);
    guards_ok = std::all_of(buffer.begin() + long(n), buffer.end(), [](float v) { return v == kCanary; });
    out.assign(buffer.begin(), buffer.begin() + long(n));
    return status;
}

}  // namespace llmbed_test
