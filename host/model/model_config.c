/* Names and consistency checks for llmbed_config, whatever file it came from. */
#include <math.h>

#include "common/error.h"
#include "model/model_config.h"

/* Generous upper bounds: they only keep products of sizes (weights, scratch)
 * far from overflowing int64 and reject garbage, not any real model. */
#define MAX_LAYERS LLMBED_MAX_LAYERS
#define MAX_WIDTH (1 << 20)       /* hidden, head_dim * heads, intermediate */
#define MAX_VOCAB (1 << 26)
#define MAX_POSITIONS (1 << 30)

const char *llmbed_arch_name(llmbed_arch arch) {
    switch (arch) {
    case LLMBED_ARCH_LLAMA: return "llama";
    case LLMBED_ARCH_MISTRAL: return "mistral";
    case LLMBED_ARCH_QWEN2: return "qwen2";
    case LLMBED_ARCH_QWEN3: return "qwen3";
    case LLMBED_ARCH_MINICPM: return "minicpm";
    case LLMBED_ARCH_GEMMA3: return "gemma3";
    }
    return "unknown";
}

const char *llmbed_rope_type_name(llmbed_rope_type type) {
    switch (type) {
    case LLMBED_ROPE_NONE: return "none";
    case LLMBED_ROPE_LINEAR: return "linear";
    case LLMBED_ROPE_DYNAMIC: return "dynamic";
    case LLMBED_ROPE_YARN: return "yarn";
    case LLMBED_ROPE_LLAMA3: return "llama3";
    }
    return "unknown";
}

static llmbed_status range(const char *source, const char *field, long long v, long long lo, long long hi,
                           llmbed_error *error) {
    if (v >= lo && v <= hi) return LLMBED_OK;
    return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: %s = %lld is outside [%lld, %lld]", source, field, v, lo,
                       hi);
}

static llmbed_status positive(const char *source, const char *field, double v, llmbed_error *error) {
    if (isfinite(v) && v > 0) return LLMBED_OK;
    return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: %s = %g must be a positive finite number", source, field, v);
}

#define CHECK(expr)                              \
    do {                                         \
        const llmbed_status check_st_ = (expr);  \
        if (check_st_ != LLMBED_OK) return check_st_; \
    } while (0)

llmbed_status llmbed_config_validate(const llmbed_config *c, const char *source, llmbed_error *error) {
    CHECK(range(source, "num_hidden_layers", c->n_layers, 1, MAX_LAYERS, error));
    CHECK(range(source, "hidden_size", c->hidden_size, 1, MAX_WIDTH, error));
    CHECK(range(source, "num_attention_heads", c->n_heads, 1, MAX_WIDTH, error));
    CHECK(range(source, "num_key_value_heads", c->n_kv_heads, 1, c->n_heads, error));
    if (c->n_heads % c->n_kv_heads != 0)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", source,
                           c->n_heads, c->n_kv_heads);
    CHECK(range(source, "head_dim", c->head_dim, 2, MAX_WIDTH, error));
    if (c->head_dim % 2 != 0)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: head_dim %d is odd (RoPE rotates pairs)", source,
                           c->head_dim);
    CHECK(range(source, "num_attention_heads * head_dim", (long long)c->n_heads * c->head_dim, 1, MAX_WIDTH, error));
    CHECK(range(source, "intermediate_size", c->intermediate_size, 1, MAX_WIDTH, error));
    CHECK(range(source, "vocab_size", c->vocab_size, 1, MAX_VOCAB, error));
    CHECK(range(source, "max_position_embeddings", c->max_positions, 1, MAX_POSITIONS, error));
    CHECK(positive(source, "rms_norm_eps", c->rms_norm_eps, error));
    CHECK(positive(source, "rope_theta", c->rope_theta, error));
    if (!(c->rope_theta != 1.0f))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: rope_theta must not be 1", source);
    CHECK(positive(source, "scale_emb", c->scale_emb, error));
    CHECK(positive(source, "residual_scale (scale_depth / sqrt(num_hidden_layers))", c->residual_scale, error));
    if (!(c->query_pre_attn_scalar >= 0.0f) || !isfinite(c->query_pre_attn_scalar))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: query_pre_attn_scalar = %g must be a positive number",
                           source, (double)c->query_pre_attn_scalar);
    CHECK(range(source, "sliding_window", c->sliding_window, 0, MAX_POSITIONS, error));
    if (c->sliding_window > 0) {
        CHECK(positive(source, "rope_local_base_freq", c->rope_local_theta, error));
        if (!(c->rope_local_theta != 1.0f))
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: rope_local_base_freq must not be 1", source);
    }
    const llmbed_rope_scaling *rs = &c->rope_scaling;
    switch (rs->type) {
    case LLMBED_ROPE_NONE:
        return LLMBED_OK;
    case LLMBED_ROPE_LINEAR:
    case LLMBED_ROPE_DYNAMIC:
        return positive(source, "rope_scaling.factor", rs->factor, error);
    case LLMBED_ROPE_YARN:
        CHECK(positive(source, "rope_scaling.factor", rs->factor, error));
        CHECK(range(source, "rope_scaling.original_max_position_embeddings", rs->original_max_positions, 1,
                    MAX_POSITIONS, error));
        CHECK(positive(source, "rope_scaling.beta_fast", rs->beta_fast, error));
        return positive(source, "rope_scaling.beta_slow", rs->beta_slow, error);
    case LLMBED_ROPE_LLAMA3:
        CHECK(positive(source, "rope_scaling.factor", rs->factor, error));
        CHECK(range(source, "rope_scaling.original_max_position_embeddings", rs->original_max_positions, 1,
                    MAX_POSITIONS, error));
        CHECK(positive(source, "rope_scaling.low_freq_factor", rs->low_freq_factor, error));
        CHECK(positive(source, "rope_scaling.high_freq_factor", rs->high_freq_factor, error));
        if (rs->high_freq_factor == rs->low_freq_factor)
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                               "%s: rope_scaling.high_freq_factor equals low_freq_factor (%g)", source,
                               rs->low_freq_factor);
        return LLMBED_OK;
    }
    return llmbed_fail(error, LLMBED_ERR_UNKNOWN_ROPE, "%s: rope scaling type %d unknown", source, (int)rs->type);
}
