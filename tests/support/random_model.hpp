// An in-memory llmbed_model with seeded random weights for any config
// (architecture flags, GQA, QKV bias, q/k norm, MiniCPM scales), laid out as
// the loaders lay out a real one: every fp32 tensor carved from one malloc'd
// weight_storage, layers and path malloc'd, so llmbed_model_free releases it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>

extern "C" {
#include "model/model.h"
}

namespace llmbed_test {

struct RandomModelSpec {
    llmbed_arch arch = LLMBED_ARCH_LLAMA;
    int n_layers = 2;
    int hidden = 48;
    int n_heads = 4;
    int n_kv_heads = 2;
    int head_dim = 12;
    int intermediate = 72;
    int vocab = 101;
    int max_positions = 4096;
    float rope_theta = 10000.0f;
    llmbed_rope_scaling rope{LLMBED_ROPE_NONE, 1.0f, 0, 1.0f, 4.0f, 32.0f, 1.0f, 0.0f, 0.0f, 0.0f, true};
    float eps = 1e-6f;
    bool qkv_bias = false;
    bool qk_norm = false;
    float scale_emb = 1.0f;
    float residual_scale = 1.0f;
    llmbed_pooling default_pooling = LLMBED_POOLING_LAST;
    llmbed_attention default_attention = LLMBED_ATTENTION_CAUSAL;
    int default_normalize = 1;
    uint32_t seed = 1234;
};

struct ModelFree {
    void operator()(llmbed_model *m) const { llmbed_model_free(m); }
};
using ModelPtr = std::unique_ptr<llmbed_model, ModelFree>;

inline ModelPtr make_random_model(const RandomModelSpec &s) {
    const size_t C = s.hidden, D = s.head_dim, qd = s.n_heads * D, kvd = s.n_kv_heads * D;
    const size_t I = s.intermediate;
    const size_t per_layer = C /*attn_norm*/ + qd * C + 2 * kvd * C + C * qd + (s.qkv_bias ? qd + 2 * kvd : 0) +
                             (s.qk_norm ? 2 * D : 0) + C /*ffn_norm*/ + 2 * I * C + C * I;
    const size_t total = (size_t)s.vocab * C + C + per_layer * s.n_layers;

    auto *m = static_cast<llmbed_model *>(std::calloc(1, sizeof(llmbed_model)));
    if (m == nullptr) throw std::bad_alloc();
    m->weight_storage = static_cast<float *>(std::malloc(total * sizeof(float)));
    m->weights.layers = static_cast<llmbed_layer_weights *>(std::calloc(s.n_layers, sizeof(llmbed_layer_weights)));
    m->path = static_cast<char *>(std::malloc(16));
    if (m->weight_storage == nullptr || m->weights.layers == nullptr || m->path == nullptr) {
        llmbed_model_free(m);
        throw std::bad_alloc();
    }
    std::strcpy(m->path, "<random>");

    llmbed_config &c = m->config;
    c.arch = s.arch;
    c.n_layers = s.n_layers;
    c.hidden_size = s.hidden;
    c.n_heads = s.n_heads;
    c.n_kv_heads = s.n_kv_heads;
    c.head_dim = s.head_dim;
    c.intermediate_size = s.intermediate;
    c.vocab_size = s.vocab;
    c.max_positions = s.max_positions;
    c.rope_theta = s.rope_theta;
    c.rope_scaling = s.rope;
    c.rms_norm_eps = s.eps;
    c.qkv_bias = s.qkv_bias;
    c.qk_norm = s.qk_norm;
    c.tie_word_embeddings = true;
    c.scale_emb = s.scale_emb;
    c.residual_scale = s.residual_scale;
    c.dim_model_base = 1.0f;
    m->source_format = "safetensors";
    m->weight_dtype = "F32";
    m->n_parameters = (int64_t)total;
    m->default_pooling = s.default_pooling;
    m->default_attention = s.default_attention;
    m->default_normalize = s.default_normalize;

    std::mt19937 rng(s.seed);
    float *p = static_cast<float *>(m->weight_storage);
    // Linear weights ~ U(-1, 1) / sqrt(fan_in) keep activations O(1) through
    // the layers; norm weights ~ 1 +- 0.2 so a wrong weight index shows.
    auto take = [&](size_t n, float scale, float offset) {
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        float *t = p;
        for (size_t i = 0; i < n; i++) t[i] = offset + scale * dist(rng);
        p += n;
        return t;
    };
    auto matrix = [&](size_t rows, size_t cols, float scale) {
        return llmbed_weight_of_f32(take(rows * cols, scale, 0.0f), (int64_t)rows, (int64_t)cols);
    };
    m->weights.token_embedding = matrix((size_t)s.vocab, C, 1.0f);
    m->weights.final_norm = take(C, 0.2f, 1.0f);
    for (int l = 0; l < s.n_layers; l++) {
        llmbed_layer_weights &w = m->weights.layers[l];
        w.attn_norm = take(C, 0.2f, 1.0f);
        w.wq = matrix(qd, C, 1.0f / std::sqrt((float)C));
        w.wk = matrix(kvd, C, 1.0f / std::sqrt((float)C));
        w.wv = matrix(kvd, C, 1.0f / std::sqrt((float)C));
        w.wo = matrix(C, qd, 1.0f / std::sqrt((float)qd));
        if (s.qkv_bias) {
            w.bq = take(qd, 0.5f, 0.0f);
            w.bk = take(kvd, 0.5f, 0.0f);
            w.bv = take(kvd, 0.5f, 0.0f);
        }
        if (s.qk_norm) {
            w.q_norm = take(D, 0.2f, 1.0f);
            w.k_norm = take(D, 0.2f, 1.0f);
        }
        w.ffn_norm = take(C, 0.2f, 1.0f);
        w.w_gate = matrix(I, C, 1.0f / std::sqrt((float)C));
        w.w_up = matrix(I, C, 1.0f / std::sqrt((float)C));
        w.w_down = matrix(C, I, 1.0f / std::sqrt((float)I));
    }
    return ModelPtr(m);
}

} // namespace llmbed_test
