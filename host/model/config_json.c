/* config.json -> llmbed_config, following transformers 5.x: the config
 * classes LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config,
 * Gemma3TextConfig (defaults below) and openbmb's MiniCPMConfig (remote
 * code, Llama-like plus scale_emb / scale_depth / dim_model_base), and
 * modeling_rope_utils.py for
 * RoPE: transformers 4.x files carry `rope_theta` + `rope_scaling`, 5.x files
 * `rope_parameters`; both normalise to one dict whose "rope_type" (or legacy
 * "type") picks the scaling. A JSON null means "absent" as it does to HF. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "model/config_parse.h"

/* Per model_type defaults of the transformers config classes. head_dim 0
 * means hidden_size / num_attention_heads; Qwen3Config's default is 128. */
typedef struct arch_defaults {
    const char *model_type;
    llmbed_arch arch;
    int vocab_size;
    int max_positions;
    int head_dim;
    bool tie_word_embeddings;
} arch_defaults;

static const arch_defaults ARCHES[] = {
    {"llama", LLMBED_ARCH_LLAMA, 32000, 2048, 0, false},
    {"mistral", LLMBED_ARCH_MISTRAL, 32000, 4096 * 32, 0, false},
    /* NV-Embed's text_config: configuration_nvembed.py BidirectionalMistralConfig(MistralConfig) */
    {"bidir_mistral", LLMBED_ARCH_MISTRAL, 32000, 4096 * 32, 0, false},
    {"qwen2", LLMBED_ARCH_QWEN2, 151936, 32768, 0, false},
    {"qwen3", LLMBED_ARCH_QWEN3, 151936, 32768, 128, false},
    {"minicpm", LLMBED_ARCH_MINICPM, 32000, 2048, 0, true},
    {"gemma3_text", LLMBED_ARCH_GEMMA3, 262208, 131072, 256, true},
};

typedef struct reader {
    const cJSON *obj;
    const char *source;
    const char *prefix; /* "" or "rope_parameters." for messages */
    llmbed_error *error;
} reader;

static const cJSON *item(const reader *r, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->obj, key);
    return cJSON_IsNull(it) ? NULL : it;
}

static llmbed_status missing(const reader *r, const char *key) {
    return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" is missing", r->source, r->prefix, key);
}

/* *present (may be NULL) says whether the key was there; absent keys leave *out. */
static llmbed_status get_int(const reader *r, const char *key, bool required, int *out, bool *present) {
    const cJSON *it = item(r, key);
    if (present != NULL) *present = it != NULL;
    if (it == NULL) return required ? missing(r, key) : LLMBED_OK;
    const double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" must be an integer", r->source,
                           r->prefix, key);
    if (v < -2147483648.0 || v > 2147483647.0)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" = %.17g is out of range (not an int32)",
                           r->source, r->prefix, key, v);
    *out = (int)v;
    return LLMBED_OK;
}

static llmbed_status get_float(const reader *r, const char *key, bool required, float *out, bool *present) {
    const cJSON *it = item(r, key);
    if (present != NULL) *present = it != NULL;
    if (it == NULL) return required ? missing(r, key) : LLMBED_OK;
    if (!cJSON_IsNumber(it) || !(fabs(it->valuedouble) <= FLT_MAX))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" must be a number in float range",
                           r->source, r->prefix, key);
    *out = (float)it->valuedouble;
    return LLMBED_OK;
}

static llmbed_status get_bool(const reader *r, const char *key, bool *out) {
    const cJSON *it = item(r, key);
    if (it == NULL) return LLMBED_OK;
    if (!cJSON_IsBool(it))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" must be true or false", r->source,
                           r->prefix, key);
    *out = cJSON_IsTrue(it);
    return LLMBED_OK;
}

/* A string field; NULL when absent. */
static llmbed_status get_string(const reader *r, const char *key, const char **out) {
    const cJSON *it = item(r, key);
    *out = NULL;
    if (it == NULL) return LLMBED_OK;
    if (!cJSON_IsString(it))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s%s\" must be a string", r->source,
                           r->prefix, key);
    *out = it->valuestring;
    return LLMBED_OK;
}

/* The scaling parameters of one rope dict (modeling_rope_utils.py
 * _compute_*_parameters and standardize_rope_params). `top` is the
 * config.json object: original_max_position_embeddings may sit there. */
static llmbed_status parse_rope_dict(const reader *top, const reader *r, llmbed_config *c) {
    llmbed_rope_scaling *rs = &c->rope_scaling;
    const char *type = NULL;
    LLMBED_TRY(get_string(r, "rope_type", &type));
    if (type == NULL) LLMBED_TRY(get_string(r, "type", &type));
    if (type == NULL || strcmp(type, "default") == 0) return LLMBED_OK;
    if (strcmp(type, "linear") == 0) rs->type = LLMBED_ROPE_LINEAR;
    else if (strcmp(type, "dynamic") == 0) rs->type = LLMBED_ROPE_DYNAMIC;
    else if (strcmp(type, "yarn") == 0) rs->type = LLMBED_ROPE_YARN;
    else if (strcmp(type, "llama3") == 0) rs->type = LLMBED_ROPE_LLAMA3;
    else
        return llmbed_fail(r->error, LLMBED_ERR_UNKNOWN_ROPE,
                           "%s: %srope_type \"%s\" is not supported (default, linear, dynamic, yarn, llama3)",
                           r->source, r->prefix, type);
    bool has_factor;
    LLMBED_TRY(get_float(r, "factor", rs->type != LLMBED_ROPE_YARN, &rs->factor, &has_factor));
    if (rs->type == LLMBED_ROPE_YARN || rs->type == LLMBED_ROPE_LLAMA3) {
        /* A top-level original_max_position_embeddings wins over the dict's
         * (standardize_rope_params' Phi-3 rule); the default is max_positions. */
        bool found;
        rs->original_max_positions = c->max_positions;
        LLMBED_TRY(get_int(top, "original_max_position_embeddings", false, &rs->original_max_positions, &found));
        if (!found) LLMBED_TRY(get_int(r, "original_max_position_embeddings", false, &rs->original_max_positions, NULL));
    }
    if (rs->type == LLMBED_ROPE_YARN) {
        if (!has_factor && rs->original_max_positions > 0) /* DeepSeek style: ratio of the two lengths */
            rs->factor = (float)c->max_positions / (float)rs->original_max_positions;
        LLMBED_TRY(get_float(r, "attention_factor", false, &rs->attention_factor, NULL));
        LLMBED_TRY(get_float(r, "mscale", false, &rs->mscale, NULL));
        LLMBED_TRY(get_float(r, "mscale_all_dim", false, &rs->mscale_all_dim, NULL));
        /* `get("beta_fast") or 32`: 0 also means the default. */
        LLMBED_TRY(get_float(r, "beta_fast", false, &rs->beta_fast, NULL));
        LLMBED_TRY(get_float(r, "beta_slow", false, &rs->beta_slow, NULL));
        if (rs->beta_fast == 0.0f) rs->beta_fast = 32.0f;
        if (rs->beta_slow == 0.0f) rs->beta_slow = 1.0f;
        LLMBED_TRY(get_bool(r, "truncate", &rs->truncate));
    }
    if (rs->type == LLMBED_ROPE_LLAMA3) {
        LLMBED_TRY(get_float(r, "low_freq_factor", true, &rs->low_freq_factor, NULL));
        LLMBED_TRY(get_float(r, "high_freq_factor", true, &rs->high_freq_factor, NULL));
    }
    return LLMBED_OK;
}

/* rope_theta: the dict's, else the top level's, else default_theta (10000;
 * Gemma 3's full-attention layers: 1e6). */
static llmbed_status parse_rope(const reader *top, const cJSON *dict, const char *dict_name, float default_theta,
                                llmbed_config *c) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", dict_name);
    const reader r = {dict, top->source, prefix, top->error};
    llmbed_rope_scaling *rs = &c->rope_scaling;
    memset(rs, 0, sizeof *rs);
    rs->type = LLMBED_ROPE_NONE;
    rs->factor = 1.0f;
    rs->beta_fast = 32.0f;
    rs->beta_slow = 1.0f;
    rs->truncate = true;
    c->rope_theta = default_theta;
    float partial = 1.0f;
    LLMBED_TRY(get_float(top, "rope_theta", false, &c->rope_theta, NULL));
    LLMBED_TRY(get_float(top, "partial_rotary_factor", false, &partial, NULL));
    if (dict != NULL) {
        LLMBED_TRY(get_float(&r, "rope_theta", false, &c->rope_theta, NULL));
        LLMBED_TRY(get_float(&r, "partial_rotary_factor", false, &partial, NULL));
        LLMBED_TRY(parse_rope_dict(top, &r, c));
    }
    if (partial != 1.0f)
        return llmbed_fail(top->error, LLMBED_ERR_UNSUPPORTED,
                           "%s: partial_rotary_factor %g is not supported (only 1.0)", top->source, partial);
    return LLMBED_OK;
}

/* eos_token_id: an integer, or a list whose first entry is used (Llama-3 style). */
static llmbed_status get_eos(const reader *r, int *eos) {
    const cJSON *it = item(r, "eos_token_id");
    if (cJSON_IsArray(it)) it = cJSON_GetArrayItem(it, 0);
    if (it == NULL || cJSON_IsNull(it)) return LLMBED_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 0 ||
        it->valuedouble > 2147483647.0)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%seos_token_id\" must be a token id",
                           r->source, r->prefix);
    *eos = (int)it->valuedouble;
    return LLMBED_OK;
}

static llmbed_status decoder_from_object(const reader *top, const cJSON *json, const char *prefix, llmbed_config *c);

/* Gemma3TextConfig.convert_rope_params_to_dict: 5.x files carry
 * rope_parameters {"full_attention": {...}, "sliding_attention": {...}};
 * 4.x files rope_theta (default 1e6) + rope_scaling for the full layers and
 * rope_local_base_freq (default 1e4) for the sliding ones. rope_scaling, when
 * present, is the full layers' scaling (it updates "full_attention"). */
static llmbed_status parse_gemma3_rope(const reader *r, llmbed_config *c) {
    const cJSON *params = item(r, "rope_parameters"), *scaling = item(r, "rope_scaling");
    if ((params != NULL && !cJSON_IsObject(params)) || (scaling != NULL && !cJSON_IsObject(scaling)))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: fields \"rope_parameters\" and \"rope_scaling\" "
                           "must be objects or null", r->source);
    const reader p = {params, r->source, "rope_parameters.", r->error};
    const cJSON *full = params != NULL ? item(&p, "full_attention") : NULL;
    const cJSON *sliding = params != NULL ? item(&p, "sliding_attention") : NULL;
    if ((full != NULL && !cJSON_IsObject(full)) || (sliding != NULL && !cJSON_IsObject(sliding)))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG,
                           "%s: rope_parameters.full_attention / sliding_attention must be objects", r->source);
    if (scaling != NULL) LLMBED_TRY(parse_rope(r, scaling, "rope_scaling", 1000000.0f, c));
    else LLMBED_TRY(parse_rope(r, full, "rope_parameters.full_attention", 1000000.0f, c));
    if (scaling != NULL && full != NULL) { /* the dict's own theta still applies */
        const reader f = {full, r->source, "rope_parameters.full_attention.", r->error};
        LLMBED_TRY(get_float(&f, "rope_theta", false, &c->rope_theta, NULL));
    }
    c->rope_local_theta = 10000.0f;
    LLMBED_TRY(get_float(r, "rope_local_base_freq", false, &c->rope_local_theta, NULL));
    if (sliding != NULL) {
        const reader s = {sliding, r->source, "rope_parameters.sliding_attention.", r->error};
        const char *type = NULL;
        LLMBED_TRY(get_string(&s, "rope_type", &type));
        if (type != NULL && strcmp(type, "default") != 0)
            return llmbed_fail(r->error, LLMBED_ERR_UNSUPPORTED,
                               "%s: rope_parameters.sliding_attention.rope_type \"%s\" is not supported (default)",
                               r->source, type);
        LLMBED_TRY(get_float(&s, "rope_theta", false, &c->rope_local_theta, NULL));
    }
    return LLMBED_OK;
}

/* The sliding/full type of each layer: "layer_types" (a list of
 * "sliding_attention" / "full_attention", one per layer), else
 * sliding_window_pattern P (default 6): layer i slides unless (i + 1) % P == 0
 * (Gemma3TextConfig.__post_init__). */
static llmbed_status parse_gemma3_layer_types(const reader *r, llmbed_config *c) {
    const cJSON *types = item(r, "layer_types");
    if (types != NULL) {
        if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != c->n_layers)
            return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG,
                               "%s: field \"%slayer_types\" must be a list of %d strings (num_hidden_layers)",
                               r->source, r->prefix, c->n_layers);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, types) {
            const bool sliding = cJSON_IsString(it) && strcmp(it->valuestring, "sliding_attention") == 0;
            if (!sliding && !(cJSON_IsString(it) && strcmp(it->valuestring, "full_attention") == 0))
                return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG,
                                   "%s: %slayer_types[%d] must be \"sliding_attention\" or \"full_attention\"",
                                   r->source, r->prefix, i);
            llmbed_config_set_sliding(c, i++, sliding);
        }
        return LLMBED_OK;
    }
    int pattern = 6;
    LLMBED_TRY(get_int(r, "sliding_window_pattern", false, &pattern, NULL));
    if (pattern < 1)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%ssliding_window_pattern\" = %d must be >= 1",
                           r->source, r->prefix, pattern);
    for (int i = 0; i < c->n_layers; i++) llmbed_config_set_sliding(c, i, (i + 1) % pattern != 0);
    return LLMBED_OK;
}

/* Gemma3TextConfig fields and modeling_gemma3.py conventions (checked
 * against transformers 5.25):
 *   Gemma3TextScaledWordEmbedding: embeddings * hidden_size**0.5, a float32
 *     tensor cast to the weight dtype (fp32 here: the product is exact as HF's);
 *   Gemma3RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w) in fp32; the loader
 *     stores 1 + w (weights_hf.c), so the norm op is the plain RMSNorm;
 *   four norms per layer (input, post_attention, pre_feedforward,
 *     post_feedforward) and q/k norms over head_dim before RoPE;
 *   Gemma3Attention.scaling = query_pre_attn_scalar**-0.5 (default 256);
 *   Gemma3MLP: down(act(gate(x)) * up(x)), hidden_activation
 *     gelu_pytorch_tanh;
 *   attn_logit_softcapping is read by Gemma3Attention but never passed to
 *     the attention function (Gemma 2 passes it; Gemma 3 does not, and
 *     llama.cpp's gemma3 graph has no capping either), and
 *     final_logit_softcapping caps LM-head logits only: neither changes
 *     hidden states, so neither is read;
 *   sliding_window (default 4096) on the sliding layers; with
 *     use_bidirectional_attention the config halves it (window // 2 + 1, an
 *     exclusive bound): the decoder applies that rule, the file's value is kept. */
static llmbed_status parse_gemma3(const reader *r, llmbed_config *c) {
    c->qk_norm = true;
    c->sandwich_norms = true;
    c->scale_emb = (float)sqrt((double)c->hidden_size);
    c->query_pre_attn_scalar = 256.0f;
    LLMBED_TRY(get_float(r, "query_pre_attn_scalar", false, &c->query_pre_attn_scalar, NULL));
    const char *activation = NULL;
    LLMBED_TRY(get_string(r, "hidden_activation", &activation));
    if (activation == NULL) LLMBED_TRY(get_string(r, "hidden_act", &activation));
    if (activation != NULL && strcmp(activation, "gelu_pytorch_tanh") != 0 && strcmp(activation, "gelu_new") != 0)
        return llmbed_fail(r->error, LLMBED_ERR_UNSUPPORTED,
                           "%s: hidden_activation \"%s\" is not supported (gelu_pytorch_tanh, gelu_new)", r->source,
                           activation);
    c->mlp_activation = LLMBED_GATE_GELU_TANH;
    c->sliding_window = 4096;
    bool has_window = true;
    LLMBED_TRY(get_int(r, "sliding_window", false, &c->sliding_window, &has_window));
    if (!has_window && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r->obj, "sliding_window"))) c->sliding_window = 0;
    LLMBED_TRY(get_bool(r, "use_bidirectional_attention", &c->bidirectional));
    if (c->n_layers < 1 || c->n_layers > LLMBED_MAX_LAYERS)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: num_hidden_layers = %d is outside [1, %d]",
                           r->source, c->n_layers, LLMBED_MAX_LAYERS);
    LLMBED_TRY(parse_gemma3_layer_types(r, c));
    return parse_gemma3_rope(r, c);
}

/* NV-Embed (configuration_nvembed.py NVEmbedConfig): the decoder is
 * "text_config" (model_type bidir_mistral), the pooling block
 * "latent_attention_config" (host/model/config_latent.c). */
static llmbed_status nvembed_from_object(const reader *r, llmbed_config *c) {
    const cJSON *text = item(r, "text_config");
    if (text == NULL)
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG,
                           "%s: model_type \"nvembed\" needs the decoder's \"text_config\" object", r->source);
    if (!cJSON_IsObject(text))
        return llmbed_fail(r->error, LLMBED_ERR_BAD_CONFIG, "%s: field \"text_config\" must be an object",
                           r->source);
    LLMBED_TRY(decoder_from_object(r, text, "text_config.", c));
    int eos = c->eos_token_id;
    LLMBED_TRY(get_eos(r, &eos)); /* a top-level eos_token_id wins */
    c->eos_token_id = eos;
    return llmbed_latent_config_from_json(item(r, "latent_attention_config"), r->source, &c->latent, r->error);
}

llmbed_status llmbed_config_from_json(const cJSON *json, const char *source, llmbed_config *c,
                                      llmbed_error *error) {
    memset(c, 0, sizeof *c);
    c->eos_token_id = -1;
    const reader r = {json, source, "", error};
    if (!cJSON_IsObject(json))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: config is not a JSON object", source);
    const char *model_type;
    LLMBED_TRY(get_string(&r, "model_type", &model_type));
    if (model_type != NULL && strcmp(model_type, "nvembed") == 0) return nvembed_from_object(&r, c);
    return decoder_from_object(&r, json, "", c);
}

/* One decoder config object: the file itself, or NV-Embed's text_config. */
static llmbed_status decoder_from_object(const reader *top, const cJSON *json, const char *prefix, llmbed_config *c) {
    const char *source = top->source;
    llmbed_error *error = top->error;
    const reader r = {json, source, prefix, error};
    const char *model_type;
    LLMBED_TRY(get_string(&r, "model_type", &model_type));
    if (model_type == NULL) return missing(&r, "model_type");
    const arch_defaults *d = NULL;
    for (size_t i = 0; i < sizeof ARCHES / sizeof ARCHES[0]; i++)
        if (strcmp(ARCHES[i].model_type, model_type) == 0) d = &ARCHES[i];
    if (d == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNKNOWN_ARCH,
                           "%s: %smodel_type \"%s\" is not supported (llama, mistral, qwen2, qwen3, minicpm, gemma3_text, "
                           "nvembed)",
                           source, prefix, model_type);
    c->arch = d->arch;
    LLMBED_TRY(get_int(&r, "hidden_size", true, &c->hidden_size, NULL));
    LLMBED_TRY(get_int(&r, "num_hidden_layers", true, &c->n_layers, NULL));
    LLMBED_TRY(get_int(&r, "num_attention_heads", true, &c->n_heads, NULL));
    LLMBED_TRY(get_int(&r, "intermediate_size", true, &c->intermediate_size, NULL));
    c->n_kv_heads = c->n_heads; /* num_key_value_heads None -> num_attention_heads */
    LLMBED_TRY(get_int(&r, "num_key_value_heads", false, &c->n_kv_heads, NULL));
    c->head_dim = d->head_dim != 0 ? d->head_dim : (c->n_heads > 0 ? c->hidden_size / c->n_heads : 0);
    bool has_head_dim;
    LLMBED_TRY(get_int(&r, "head_dim", false, &c->head_dim, &has_head_dim));
    /* Without head_dim, transformers computes hidden_size // num_attention_heads:
     * a remainder means the config is wrong, not that head_dim is odd. */
    if (!has_head_dim && d->head_dim == 0 && c->n_heads > 0 && c->hidden_size % c->n_heads != 0)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: hidden_size %d is not divisible by num_attention_heads %d (and no head_dim is given)",
                           source, c->hidden_size, c->n_heads);
    c->vocab_size = d->vocab_size;
    LLMBED_TRY(get_int(&r, "vocab_size", false, &c->vocab_size, NULL));
    c->max_positions = d->max_positions;
    LLMBED_TRY(get_int(&r, "max_position_embeddings", false, &c->max_positions, NULL));
    c->rms_norm_eps = 1e-6f;
    LLMBED_TRY(get_float(&r, "rms_norm_eps", false, &c->rms_norm_eps, NULL));
    c->tie_word_embeddings = d->tie_word_embeddings;
    LLMBED_TRY(get_bool(&r, "tie_word_embeddings", &c->tie_word_embeddings));
    LLMBED_TRY(get_eos(&r, &c->eos_token_id));

    /* QKV bias: Qwen2Attention always has it; Llama/Mistral/Qwen3/MiniCPM
     * follow attention_bias (default false). With attention_bias HF also
     * puts a bias on o_proj, which the loader rejects if present. */
    bool attention_bias = false;
    LLMBED_TRY(get_bool(&r, "attention_bias", &attention_bias));
    c->qkv_bias = c->arch == LLMBED_ARCH_QWEN2 || attention_bias;
    c->qk_norm = c->arch == LLMBED_ARCH_QWEN3;
    /* Not modelled: sliding_window (Mistral, Qwen2 use_sliding_window). HF
     * applies it only to sequences longer than the window (4096 in
     * Mistral-7B / e5-mistral), so shorter inputs are unaffected. */
    bool mlp_bias = false;
    LLMBED_TRY(get_bool(&r, "mlp_bias", &mlp_bias));
    if (mlp_bias)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "%s: field \"mlp_bias\": MLP biases are not supported",
                           source);

    c->scale_emb = 1.0f;
    c->residual_scale = 1.0f;
    c->dim_model_base = 1.0f;
    if (c->arch == LLMBED_ARCH_MINICPM) {
        /* modeling_minicpm.py: embeddings * scale_emb; each residual branch
         * * scale_depth / sqrt(num_hidden_layers). Defaults are 1. */
        float scale_depth = 1.0f;
        LLMBED_TRY(get_float(&r, "scale_emb", false, &c->scale_emb, NULL));
        LLMBED_TRY(get_float(&r, "scale_depth", false, &scale_depth, NULL));
        LLMBED_TRY(get_float(&r, "dim_model_base", false, &c->dim_model_base, NULL));
        c->residual_scale = c->n_layers > 0 ? (float)(scale_depth / sqrt((double)c->n_layers)) : 1.0f;
    }

    /* rope_scaling (4.x) wins over rope_parameters (5.x) as in
     * convert_rope_params_to_dict; either may be null or absent. */
    const cJSON *scaling = item(&r, "rope_scaling");
    const char *dict_name = "rope_scaling";
    if (scaling == NULL) {
        scaling = item(&r, "rope_parameters");
        dict_name = "rope_parameters";
    }
    if (scaling != NULL && !cJSON_IsObject(scaling))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"%s\" must be an object or null", source,
                           dict_name);
    if (c->arch == LLMBED_ARCH_GEMMA3) return parse_gemma3(&r, c);
    return parse_rope(&r, scaling, dict_name, 10000.0f, c);
}

llmbed_status llmbed_config_parse_json(const char *text, size_t length, const char *source, llmbed_config *out,
                                       llmbed_error *error) {
    cJSON *json;
    llmbed_status st = llmbed_json_parse(text, length, source, &json, error);
    if (st != LLMBED_OK) return st;
    st = llmbed_config_from_json(json, source, out, error);
    cJSON_Delete(json);
    if (st != LLMBED_OK) return st;
    return llmbed_config_validate(out, source, error);
}
