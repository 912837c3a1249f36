/* NV-Embed's latent_attention_config -> llmbed_latent_config.
 *
 * Field names and defaults are configuration_nvembed.py's
 * LatentAttentionConfig (nvidia/NV-Embed-v1 and -v2 ship the same class):
 *   num_latents_value 512, num_cross_heads 8, output_normalize true,
 *   hidden_dim 4096, latent_dim 4096, cross_dim_head 4096.
 * cross_dim_head is the width of ONE head: modeling_nvembed.py's
 * Attention(query_dim, context_dim, heads, dim_head) has
 * inner_dim = dim_head * heads (32768 for NV-Embed). The feed-forward is
 * FeedForward(latent_dim) with mult = 4 and a GEGLU, so its first Linear is
 * [2 * 4 * latent_dim, latent_dim]. The LayerNorms are torch.nn.LayerNorm
 * with the default eps 1e-5. */
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "model/config_parse.h"
#include "model/model_config.h"

/* Bound on every latent size: keeps products such as n_heads * head_dim and
 * the fold buffers far from overflowing (NV-Embed uses 32768 and 512). */
#define MAX_LATENT_WIDTH (1 << 20)

static llmbed_status latent_int(const cJSON *obj, const char *key, int *out, const char *source,
                                llmbed_error *error) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL || cJSON_IsNull(it)) return LLMBED_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 1 ||
        it->valuedouble > MAX_LATENT_WIDTH)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: field \"latent_attention_config.%s\" must be an integer in [1, %d]", source, key,
                           MAX_LATENT_WIDTH);
    *out = (int)it->valuedouble;
    return LLMBED_OK;
}

llmbed_status llmbed_latent_config_from_json(const cJSON *json, const char *source, llmbed_latent_config *out,
                                             llmbed_error *error) {
    memset(out, 0, sizeof *out);
    if (json == NULL || cJSON_IsNull(json))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: model_type \"nvembed\" needs \"latent_attention_config\" (the latent pooling block)",
                           source);
    if (!cJSON_IsObject(json))
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"latent_attention_config\" must be an object",
                           source);
    out->present = true;
    out->n_latents = 512;
    out->n_heads = 8;
    out->hidden_dim = 4096;
    out->latent_dim = 4096;
    out->head_dim = 4096;
    out->output_normalize = true;
    out->eps = 1e-5f;
    LLMBED_TRY(latent_int(json, "num_latents_value", &out->n_latents, source, error));
    LLMBED_TRY(latent_int(json, "num_cross_heads", &out->n_heads, source, error));
    LLMBED_TRY(latent_int(json, "hidden_dim", &out->hidden_dim, source, error));
    LLMBED_TRY(latent_int(json, "latent_dim", &out->latent_dim, source, error));
    LLMBED_TRY(latent_int(json, "cross_dim_head", &out->head_dim, source, error));
    const cJSON *normalize = cJSON_GetObjectItemCaseSensitive(json, "output_normalize");
    if (normalize != NULL && !cJSON_IsNull(normalize)) {
        if (!cJSON_IsBool(normalize))
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                               "%s: field \"latent_attention_config.output_normalize\" must be true or false", source);
        out->output_normalize = cJSON_IsTrue(normalize);
    }
    out->ff_inner = 4 * out->latent_dim > MAX_LATENT_WIDTH ? 0 : 4 * out->latent_dim;
    return LLMBED_OK;
}

llmbed_status llmbed_latent_config_validate(const llmbed_config *c, const char *source, llmbed_error *error) {
    const llmbed_latent_config *l = &c->latent;
    if (!l->present) return LLMBED_OK;
    if (l->hidden_dim != c->hidden_size)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: latent_attention_config.hidden_dim %d differs from text_config.hidden_size %d", source,
                           l->hidden_dim, c->hidden_size);
    /* PreNorm(latent_dim, ...) normalises the decoder's hidden states, and the
     * residual adds the attention output (width latent_dim) to them. */
    if (l->latent_dim != l->hidden_dim)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: latent_attention_config.latent_dim %d differs from hidden_dim %d (modeling_nvembed.py "
                           "normalises the hidden states with LayerNorm(latent_dim))",
                           source, l->latent_dim, l->hidden_dim);
    if ((long long)l->n_heads * l->head_dim > MAX_LATENT_WIDTH || l->ff_inner == 0 ||
        (long long)l->n_heads * l->n_latents > MAX_LATENT_WIDTH)
        return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                           "%s: latent_attention_config: num_cross_heads %d x cross_dim_head %d, x num_latents_value "
                           "%d, or 4 x latent_dim %d exceeds %d",
                           source, l->n_heads, l->head_dim, l->n_latents, l->latent_dim, MAX_LATENT_WIDTH);
    return LLMBED_OK;
}
