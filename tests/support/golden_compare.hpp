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

// Bound of the bf16 paths (emulated kernels, GPU): bf16 unit roundoff
// u = 2^-8. Per layer a value is rounded to bf16 at six places (normed input,
// q/k/v, attention output, gate/up, SwiGLU output), each a relative error of
// at most u / 2; with L layers and the embedding table that is (6 L + 1) u / 2
// relative to the row's largest magnitude to first order. The residual
// stream and the norms amplify those errors from layer to layer, so the
// bound carries a factor kBf16PathSlack = 2: the worst row measured on the
// tiny golden models (2-3 layers, lengths 1..200) reached 1.15x the
// first-order bound, 0.58x the bound used.
constexpr double kBf16Unit = 1.0 / 256.0;
constexpr double kBf16PathSlack = 2.0;
inline double bf16_path_relative_bound(int n_layers) {
    return kBf16PathSlack * (6.0 * n_layers + 1.0) * kBf16Unit / 2.0;
}

struct Agreement {
    double min_cosine = 1.0;
    double max_abs = 0.0;
    double max_scaled = 0.0;   // max over rows of max|got - want| / max|want| (rows with want != 0)
    bool non_finite = false;   // a NaN or Inf in `got`
    bool zero_row = false;     // an all-zero row of `got` where `want` is not all zero
    void merge(const Agreement &o) {
        min_cosine = std::min(min_cosine, o.min_cosine);
        max_abs = std::max(max_abs, o.max_abs);
        max_scaled = std::max(max_scaled, o.max_scaled);
        non_finite = non_finite || o.non_finite;
        zero_row = zero_row || o.zero_row;
    }
    bool sane() const { return !non_finite && !zero_row; }
    bool within_golden_tolerance() const {
        return sane() && min_cosine >= kGoldenMinCosine && max_abs <= kGoldenMaxAbs;
    }
    // The bf16 paths: cosine and the max |diff| relative to each row's scale.
    bool within_bf16_tolerance(double min_cosine_bound, double relative_bound) const {
        return sane() && min_cosine >= min_cosine_bound && max_scaled <= relative_bound;
    }
};

// got and want hold rows of `width` values; cosine per row, |diff| over all.
// A row with a non-finite value has cosine -inf (it can never pass); an
// all-zero row against a non-zero golden has cosine 0; two zero rows (fully
// masked pools) agree.
inline Agreement compare_rows(const float *got, const std::vector<double> &want, int width) {
    Agreement a;
    const size_t rows = want.size() / size_t(width);
    for (size_t r = 0; r < rows; r++) {
        double dot = 0, gg = 0, ww = 0, row_abs = 0, row_scale = 0;
        bool finite = true;
        for (int i = 0; i < width; i++) {
            const double g = got[r * width + i], w = want[r * width + i];
            if (!std::isfinite(g)) finite = false;
            dot += g * w;
            gg += g * g;
            ww += w * w;
            row_abs = std::max(row_abs, std::fabs(g - w));
            row_scale = std::max(row_scale, std::fabs(w));
        }
        double cosine;
        if (!finite) {
            a.non_finite = true;
            cosine = -INFINITY;
            row_abs = INFINITY;
        } else if (gg == 0 && ww == 0) {
            cosine = 1.0;
        } else if (gg == 0 || ww == 0) {
            if (gg == 0) a.zero_row = true;
            cosine = 0.0;
        } else {
            cosine = dot / std::sqrt(gg * ww);
        }
        a.min_cosine = std::min(a.min_cosine, cosine);
        a.max_abs = std::max(a.max_abs, row_abs);
        if (row_scale > 0) a.max_scaled = std::max(a.max_scaled, row_abs / row_scale);
        else if (row_abs > 0) a.max_scaled = INFINITY;
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
