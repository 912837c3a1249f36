/* GGUF metadata -> llmbed_config, with the key names llama.cpp's converter
 * writes (gguf-py constants.py Keys.LLM / Keys.Attention / Keys.Rope) and
 * llama.cpp's defaults: rope.freq_base 10000, head_count_kv = head_count,
 * key_length = embedding_length / head_count. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "model/config_parse.h"

typedef struct gguf_reader {
    const llmbed_gguf *gguf;
    char arch[64];
    bool partial;
    llmbed_error *error;
} gguf_reader;

static const char *key_of(const gguf_reader *r, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", r->arch, suffix);
    return buf;
}

/* Absent: the default, or an error unless reading a partial (vocab-only) config. */
static llmbed_status get_int(const gguf_reader *r, const char *suffix, bool required, int def, int *out) {
    char key[128];
    key_of(r, suffix, key, sizeof key);
    int64_t v;
    *out = def;
    if (!llmbed_gguf_get_int(r->gguf, key, &v)) {
        if (llmbed_gguf_find_key(r->gguf, key) >= 0)
            return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' is not an integer",
                               llmbed_gguf_path(r->gguf), key);
        if (required && !r->partial)
            return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' is missing", llmbed_gguf_path(r->gguf),
                               key);
        return LLMBED_OK;
    }
    if (v < 0 || v > 0x7fffffff)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' = %lld is out of range",
                           llmbed_gguf_path(r->gguf), key, (long long)v);
    *out = (int)v;
    return LLMBED_OK;
}

static llmbed_status get_float(const gguf_reader *r, const char *suffix, bool required, float def, float *out) {
    char key[128];
    key_of(r, suffix, key, sizeof key);
    double v;
    *out = def;
    if (!llmbed_gguf_get_float(r->gguf, key, &v)) {
        if (llmbed_gguf_find_key(r->gguf, key) >= 0)
            return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' is not a float",
                               llmbed_gguf_path(r->gguf), key);
        if (required && !r->partial)
            return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' is missing", llmbed_gguf_path(r->gguf),
                               key);
        return LLMBED_OK;
    }
    if (!(fabs(v) <= FLT_MAX))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: key '%s' = %g is not a finite float",
                           llmbed_gguf_path(r->gguf), key, v);
    *out = (float)v;
    return LLMBED_OK;
}

static llmbed_status parse_rope_scaling(const gguf_reader *r, llmbed_config *c) {
    char key[128];
    llmbed_gguf_string type;
    llmbed_rope_scaling *rs = &c->rope_scaling;
    if (!llmbed_gguf_get_string(r->gguf, key_of(r, "rope.scaling.type", key, sizeof key), &type)) return LLMBED_OK;
    if (type.length == 4 && memcmp(type.data, "none", 4) == 0) return LLMBED_OK;
    if (type.length == 6 && memcmp(type.data, "linear", 6) == 0)
        rs->type = LLMBED_ROPE_LINEAR;
    else if (type.length == 4 && memcmp(type.data, "yarn", 4) == 0)
        rs->type = LLMBED_ROPE_YARN;
    else if (r->partial)
        return LLMBED_OK; /* vocab-only: the scaling is never used */
    else
        return llmbed_fail(r->error, LLMBED_ERR_UNKNOWN_ROPE, "%s: key '%s' = \"%.*s\" is not supported (none, linear, yarn)",
                           llmbed_gguf_path(r->gguf), key, (int)(type.length > 64 ? 64 : type.length), type.data);
    LLMBED_TRY(get_float(r, "rope.scaling.factor", true, 1.0f, &rs->factor));
    if (rs->type == LLMBED_ROPE_YARN) {
        LLMBED_TRY(get_int(r, "rope.scaling.original_context_length", false, c->max_positions, &rs->original_max_positions));
        LLMBED_TRY(get_float(r, "rope.scaling.attn_factor", false, 0.0f, &rs->attention_factor));
    }
    return LLMBED_OK;
}


/* llama.cpp's gemma3 (src/llama-model.cpp LLM_ARCH_GEMMA3, convert_hf_to_gguf.py
 * Gemma3Model): the file carries no layer types (the pattern is 6: layer i
 * slides unless (i + 1) % 6 == 0), no local RoPE base (10000), norm weights
 * already hold 1 + w, q/k are not permuted (NeoX rotation), and the
 * attention scale is 1/sqrt(key_length), except for the 62-layer 27B model
 * whose query_pre_attn_scalar is hidden / heads (llama.cpp's
 * f_attention_scale). A "{arch}.attention.scale" key, when present, wins. */
static llmbed_status gemma3_from_gguf(const gguf_reader *r, llmbed_config *c) {
    c->qk_norm = true;
    c->sandwich_norms = true;
    c->mlp_activation = LLMBED_GATE_GELU_TANH;
    c->scale_emb = (float)sqrt((double)c->hidden_size);
    c->query_pre_attn_scalar = (float)c->head_dim;
    if (c->n_layers == 62 && c->n_heads > 0) c->query_pre_attn_scalar = (float)(c->hidden_size / c->n_heads);
    float scale = 0.0f;
    LLMBED_TRY(get_float(r, "attention.scale", false, 0.0f, &scale));
    if (scale > 0.0f) c->query_pre_attn_scalar = 1.0f / (scale * scale);
    LLMBED_TRY(get_int(r, "attention.sliding_window", false, 0, &c->sliding_window));
    c->rope_local_theta = 10000.0f;
    if (c->n_layers > LLMBED_MAX_LAYERS)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: %s.block_count = %d is above %d",
                           llmbed_gguf_path(r->gguf), r->arch, c->n_layers, LLMBED_MAX_LAYERS);
    for (int i = 0; i < c->n_layers; i++) llmbed_config_set_sliding(c, i, (i + 1) % 6 != 0);
    return LLMBED_OK;
}

llmbed_status llmbed_config_from_gguf(const llmbed_gguf *gguf, bool partial, llmbed_config *c, llmbed_error *error) {
    memset(c, 0, sizeof *c);
    const char *path = llmbed_gguf_path(gguf);
    llmbed_gguf_string arch;
    if (!llmbed_gguf_get_string(gguf, "general.architecture", &arch))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: key 'general.architecture' is missing", path);
    gguf_reader r = {gguf, "", partial, error};
    snprintf(r.arch, sizeof r.arch, "%.*s", (int)(arch.length < sizeof r.arch ? arch.length : sizeof r.arch - 1),
             arch.data);
    static const struct {
        const char *name;
        llmbed_arch arch;
    } known[] = {{"llama", LLMBED_ARCH_LLAMA},
                 {"qwen2", LLMBED_ARCH_QWEN2},
                 {"qwen3", LLMBED_ARCH_QWEN3},
                 {"gemma3", LLMBED_ARCH_GEMMA3}};
    bool found = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (arch.length == strlen(known[i].name) && memcmp(arch.data, known[i].name, arch.length) == 0) {
            c->arch = known[i].arch;
            found = true;
        }
    }
    if (!found && !partial)
        return llmbed_fail(error, LLMBED_ERR_UNKNOWN_ARCH,
                           "%s: general.architecture \"%s\" is not supported (llama, qwen2, qwen3, gemma3)", path,
                           r.arch);
    LLMBED_TRY(get_int(&r, "block_count", true, 0, &c->n_layers));
    LLMBED_TRY(get_int(&r, "embedding_length", true, 0, &c->hidden_size));
    LLMBED_TRY(get_int(&r, "attention.head_count", true, 0, &c->n_heads));
    LLMBED_TRY(get_int(&r, "attention.head_count_kv", false, c->n_heads, &c->n_kv_heads));
    LLMBED_TRY(get_int(&r, "feed_forward_length", true, 0, &c->intermediate_size));
    LLMBED_TRY(get_int(&r, "context_length", true, 0, &c->max_positions));
    LLMBED_TRY(get_int(&r, "attention.key_length", false, c->n_heads > 0 ? c->hidden_size / c->n_heads : 0, &c->head_dim));
    LLMBED_TRY(get_float(&r, "rope.freq_base", false, 10000.0f, &c->rope_theta));
    LLMBED_TRY(get_float(&r, "attention.layer_norm_rms_epsilon", true, 0.0f, &c->rms_norm_eps));
    c->rope_scaling.factor = 1.0f;
    c->rope_scaling.beta_fast = 32.0f;
    c->rope_scaling.beta_slow = 1.0f;
    c->rope_scaling.truncate = true;
    LLMBED_TRY(parse_rope_scaling(&r, c));
    c->qkv_bias = c->arch == LLMBED_ARCH_QWEN2;
    c->qk_norm = c->arch == LLMBED_ARCH_QWEN3;
    if (c->arch == LLMBED_ARCH_GEMMA3) LLMBED_TRY(gemma3_from_gguf(&r, c));
    /* llama.cpp drops output.weight when the model ties it to token_embd. */
    c->tie_word_embeddings = llmbed_gguf_find_tensor(gguf, "output.weight") == NULL;
    if (c->arch != LLMBED_ARCH_GEMMA3) c->scale_emb = 1.0f;
    c->residual_scale = 1.0f;
    c->eos_token_id = -1; /* the tokenizer's tokenizer.ggml.eos_token_id is used instead */
    c->dim_model_base = 1.0f;
    const llmbed_tensor_ref *embd = llmbed_gguf_find_tensor(gguf, "token_embd.weight");
    llmbed_gguf_type type;
    uint64_t n_tokens;
    if (embd != NULL && embd->n_dims == 2 && embd->shape[0] <= 0x7fffffff)
        c->vocab_size = (int)embd->shape[0];
    else if (llmbed_gguf_get_array(gguf, "tokenizer.ggml.tokens", &type, &n_tokens) && n_tokens <= 0x7fffffff)
        c->vocab_size = (int)n_tokens;
    return LLMBED_OK;
}
