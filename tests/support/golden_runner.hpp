// Shared driver of the golden tests (test_goldens.cpp, test_gguf_goldens.cpp):
// loads a manifest's model, embeds every case one sequence at a time and
// compares with the goldens, then checks packed batches against the
// one-by-one outputs. Include only from Catch2 test files.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "llmbed.h"
#include "support/golden_compare.hpp"
#include "support/golden_manifest.hpp"

namespace llmbed_test {

// Packed runs must reproduce one-by-one runs bit for bit: every reduction a
// row goes through has a fixed order per row (the projection GEMM's FMA
// chain, host/cpu/gemm_kernels.h; attention and pooling per sequence), so a
// row does not depend on what it was batched with (issue 24 item 3). A
// cross-sequence leak moves outputs by O(1e-2) or more.
constexpr double kPackedMaxAbs = 0.0;

struct Loaded {
    llmbed_model *model = nullptr;
    llmbed_ctx *ctx = nullptr;
    llmbed_ctx *small_ctx = nullptr;  // token budget below one packed batch: forces splitting
    ~Loaded() {
        llmbed_ctx_free(small_ctx);
        llmbed_ctx_free(ctx);
        llmbed_model_free(model);
    }
};

inline std::string key(const std::string &attention, const std::string &pooling, int instruction_len, int layer,
                       int seq) {
    return attention + "|" + pooling + "|" + std::to_string(instruction_len) + "|" + std::to_string(layer) + "|" +
           std::to_string(seq);
}

inline llmbed_embed_params params_for(const std::string &attention, const std::string &pooling, int layer) {
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = pooling_from_name(pooling);
    p.attention = attention_from_name(attention);
    p.normalize = 0;
    p.dims = 0;
    p.layer = layer;
    return p;
}

inline void load(const GoldenManifest &m, Loaded &l) {
    llmbed_error error{};
    const llmbed_status st = llmbed_model_load(m.model_path.c_str(), nullptr, &l.model, &error);
    INFO(m.model_path << ": " << llmbed_status_str(st) << ": " << error.message);
    REQUIRE(st == LLMBED_OK);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    REQUIRE(llmbed_ctx_create(l.model, &cp, &l.ctx, &error) == LLMBED_OK);
    cp.batch_tokens = 256;
    REQUIRE(llmbed_ctx_create(l.model, &cp, &l.small_ctx, &error) == LLMBED_OK);
}

inline void check_info(const GoldenManifest &m, const llmbed_model *model) {
    llmbed_model_info info{};
    info.struct_size = sizeof info;
    REQUIRE(llmbed_model_get_info(model, &info) == LLMBED_OK);
    CHECK(std::string(info.architecture) == m.architecture);
    CHECK(info.hidden_size == m.hidden_size);
    CHECK(info.n_layers == m.n_layers);
    CHECK(std::string(info.rope_scaling) == (m.rope_type == "default" ? "none" : m.rope_type));
}

// L2 normalisation and Matryoshka truncation (keep `dims`, re-normalise) of a
// pooled case, against the normalised golden; dims 0 = all and one odd width.
inline void check_postprocessed(const GoldenManifest &m, const llmbed_model *model, llmbed_ctx *ctx,
                                const GoldenCase &c, const std::vector<double> &want, Agreement &worst) {
    const std::vector<int32_t> lens{c.instruction_len};
    for (int dims : {0, m.hidden_size / 2 + 1}) {
        INFO("normalize=1 dims=" << dims);
        llmbed_embed_params p = params_for(c.attention, c.pooling, c.layer);
        p.normalize = 1;
        p.dims = dims;
        const int width = dims ? dims : m.hidden_size;
        CHECK(llmbed_embed_dims(model, &p) == width);
        std::vector<double> expected(want.begin(), want.begin() + width);
        double norm = 0;
        for (double v : expected) norm += v * v;
        for (double &v : expected) v /= std::sqrt(norm);
        std::vector<float> got;
        bool guards_ok = false;
        const llmbed_status st = embed_packed(ctx, {m.sequences[size_t(c.sequence)]},
                                              c.instruction_len ? &lens : nullptr, p, width, got, guards_ok);
        INFO(llmbed_status_str(st) << ": " << llmbed_last_error(ctx));
        REQUIRE(st == LLMBED_OK);
        CHECK(guards_ok);
        const Agreement a = compare_rows(got.data(), expected, width);
        INFO("cosine " << a.min_cosine << " max|diff| " << a.max_abs);
        CHECK(a.within_golden_tolerance());
        worst.merge(a);
    }
}

// Every case on its own; returns the outputs by case key for the packed checks.
inline std::map<std::string, std::vector<float>> run_single_cases(const GoldenManifest &m, const llmbed_model *model,
                                                                  llmbed_ctx *ctx, Agreement &worst) {
    std::map<std::string, std::vector<float>> outputs;
    for (const GoldenCase &c : m.cases) {
        const std::string label = case_label(m, c);
        INFO(label);
        std::string error;
        const std::vector<double> want = m.expected(c, error);
        if (!error.empty()) FAIL(error);
        REQUIRE(!want.empty());
        const std::vector<int32_t> lens{c.instruction_len};
        std::vector<float> got;
        bool guards_ok = false;
        const llmbed_status st =
            embed_packed(ctx, {m.sequences[size_t(c.sequence)]}, c.instruction_len ? &lens : nullptr,
                         params_for(c.attention, c.pooling, c.layer), m.hidden_size, got, guards_ok);
        INFO(llmbed_status_str(st) << ": " << llmbed_last_error(ctx));
        REQUIRE(st == LLMBED_OK);
        CHECK(guards_ok);
        REQUIRE(got.size() == want.size());
        const Agreement a = compare_rows(got.data(), want, m.hidden_size);
        INFO("cosine " << a.min_cosine << " max|diff| " << a.max_abs);
        CHECK(a.within_golden_tolerance());
        worst.merge(a);
        if ((c.pooling == "mean" || c.pooling == "last") && c.instruction_len == 0 && c.layer == 0)
            check_postprocessed(m, model, ctx, c, want, worst);
        outputs[key(c.attention, c.pooling, c.instruction_len, c.layer, c.sequence)] = got;
    }
    return outputs;
}

struct PackedConfig {
    std::string pooling;
    bool instruction;  // instruction_len 3 where the sequence is longer than 3
    int layer;
};

// All sequences in one batch per configuration, on the default context and
// on one whose token budget forces the batch to be split.
inline void run_packed(const GoldenManifest &m, const Loaded &l,
                       const std::map<std::string, std::vector<float>> &single, double &packed_worst) {
    std::vector<PackedConfig> configs{{"none", false, 0}, {"mean", false, 1}};
    for (const char *pooling : {"last", "mean", "first", "weighted_mean"}) {
        configs.push_back({pooling, false, 0});
        configs.push_back({pooling, true, 0});
    }
    int instruction_len = 0;
    for (const GoldenCase &c : m.cases) instruction_len = std::max(instruction_len, c.instruction_len);
    for (const char *attention : {"causal", "bidirectional"}) {
        for (const PackedConfig &pc : configs) {
            std::vector<int32_t> lens;
            std::vector<float> expected;
            bool have_all = true;
            for (size_t s = 0; s < m.sequences.size(); s++) {
                const int len = (pc.instruction && int(m.sequences[s].size()) > instruction_len) ? instruction_len : 0;
                lens.push_back(len);
                auto it = single.find(key(attention, pc.pooling, len, pc.layer, int(s)));
                if (it == single.end()) {
                    have_all = false;
                    break;
                }
                expected.insert(expected.end(), it->second.begin(), it->second.end());
            }
            // Configurations the manifest has no cases for (GGUF: causal mean/last only).
            if (!have_all || (pc.instruction && instruction_len == 0)) continue;
            // Splitting is pooling-independent: exercise it on hidden states and one masked pool.
            const bool split_too = pc.pooling == "none" || (pc.pooling == "mean" && pc.instruction);
            for (llmbed_ctx *ctx : {l.ctx, l.small_ctx}) {
                if (ctx == l.small_ctx && !split_too) continue;
                INFO(m.model << " packed " << m.sequences.size() << " sequences, " << attention << " " << pc.pooling
                             << (pc.instruction ? " with instruction" : "") << " layer=" << pc.layer
                             << (ctx == l.small_ctx ? ", batch_tokens 256" : ""));
                std::vector<float> got;
                bool guards_ok = false;
                const llmbed_status st = embed_packed(ctx, m.sequences, &lens,
                                                      params_for(attention, pc.pooling, pc.layer), m.hidden_size,
                                                      got, guards_ok);
                INFO(llmbed_status_str(st) << ": " << llmbed_last_error(ctx));
                REQUIRE(st == LLMBED_OK);
                CHECK(guards_ok);
                const double diff = max_abs_diff(got, expected);
                INFO("packed vs one-by-one max|diff| " << diff);
                CHECK(diff <= kPackedMaxAbs);
                packed_worst = std::max(packed_worst, diff);
            }
        }
    }
}

inline void run_model_goldens(const char *name) {
    const GoldenManifest m = read_manifest(LLMBED_TEST_DATA_DIR, name);
    INFO(m.error);
    REQUIRE(m.ok);
    Loaded l;
    load(m, l);
    check_info(m, l.model);
    Agreement worst;
    const auto single = run_single_cases(m, l.model, l.ctx, worst);
    double packed_worst = 0;
    run_packed(m, l, single, packed_worst);
    std::printf("goldens %-13s arch %-8s %3zu cases: worst 1-cosine %.2e, worst max|diff| %.2e; "
                "packed vs one-by-one max|diff| %.2e\n",
                name, m.architecture.c_str(), m.cases.size(), 1.0 - worst.min_cosine, worst.max_abs, packed_worst);
}

}  // namespace llmbed_test
