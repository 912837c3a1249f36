/* NV-Embed's latent-attention pooling weights, checked against
 * latent_attention_config and folded at load.
 *
 * Names and shapes follow modeling_nvembed.py (nvidia/NV-Embed-v2 and -v1),
 * LatentAttentionModel.__init__, under the NVEmbedModel attribute
 * "latent_attention_model." (inner = heads * cross_dim_head, F = 4 * latent_dim):
 *   latents                                  [r, latent_dim]  register_parameter("latents")
 *   cross_attend_blocks.0.norm.{weight,bias}         [latent_dim]  PreNorm.norm (over the hidden states)
 *   cross_attend_blocks.0.norm_context.{weight,bias} [hidden_dim]  PreNorm.norm_context (over the latents)
 *   cross_attend_blocks.0.fn.to_q.weight     [inner, latent_dim]    Attention.to_q, no bias
 *   cross_attend_blocks.0.fn.to_kv.weight    [2 * inner, hidden_dim] Attention.to_kv (k first, v second: .chunk(2))
 *   cross_attend_blocks.0.fn.to_out.weight   [latent_dim, inner]    Attention.to_out, no bias
 *   cross_attend_blocks.1.norm.{weight,bias}         [latent_dim]  PreNorm of the FeedForward
 *   cross_attend_blocks.1.fn.net.0.{weight,bias} [2F, latent_dim]  Linear(dim, dim * mult * 2)
 *   cross_attend_blocks.1.fn.net.2.{weight,bias} [latent_dim, F]   Linear(dim * mult, dim)
 *
 * In LatentAttentionModel.forward the hidden states are the QUERIES and the
 * latents the context: cross_attn(hiddens, context=latents), so keys and
 * values come from LayerNorm(latents) and depend only on weights. They are
 * computed here once, and folded further with to_q and to_out per head
 * (rearrange 'b n (h d) -> (b h) n d': head h owns columns [h*dh, (h+1)*dh)):
 *   logits_h = (x Wq_h^T) K_h^T / sqrt(dh) = x (K_h Wq_h / sqrt(dh))^T
 *   out      = sum_h P_h V_h Wout_h^T     = sum_h P_h (Wout_h V_h^T)^T
 * which replaces the [T, d] x [d, inner] projections (inner = 32768 for
 * NV-Embed) by [T, d] x [d, h * r] ones (h * r = 4096): the same numbers,
 * ~9x fewer FLOPs per token. The scale is SDPA's default 1/sqrt(dh)
 * (Attention.scale = dim_head ** -0.5 is the same value).
 * The unfolded tensors are released once the fold is done. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model_load.h"
#include "model/weight_plan.h"

#define LATENT_PREFIX "latent_attention_model."

typedef struct latent_raw {
    float *latents, *norm_w, *norm_b, *ctx_w, *ctx_b, *to_q, *to_kv, *to_out;
    float *ff_norm_w, *ff_norm_b, *w1, *b1, *w2, *b2;
} latent_raw;

static llmbed_status want(llmbed_weight_plan *plan, const llmbed_safetensors *st, float **slot, const char *suffix,
                          int64_t rows, int64_t cols, llmbed_error *error) {
    char name[160];
    snprintf(name, sizeof name, LATENT_PREFIX "%s", suffix);
    return llmbed_weight_plan_add(plan, slot, llmbed_safetensors_find_tensor(st, name), name, rows, cols, 0, error);
}

static llmbed_status plan_latent(const llmbed_latent_config *l, const llmbed_safetensors *st, llmbed_weight_plan *plan,
                                 latent_raw *w, llmbed_error *error) {
    const int64_t D = l->latent_dim, C = l->hidden_dim, inner = (int64_t)l->n_heads * l->head_dim, F = l->ff_inner;
    LLMBED_TRY(want(plan, st, &w->latents, "latents", l->n_latents, D, error));
    LLMBED_TRY(want(plan, st, &w->norm_w, "cross_attend_blocks.0.norm.weight", D, 0, error));
    LLMBED_TRY(want(plan, st, &w->norm_b, "cross_attend_blocks.0.norm.bias", D, 0, error));
    LLMBED_TRY(want(plan, st, &w->ctx_w, "cross_attend_blocks.0.norm_context.weight", C, 0, error));
    LLMBED_TRY(want(plan, st, &w->ctx_b, "cross_attend_blocks.0.norm_context.bias", C, 0, error));
    LLMBED_TRY(want(plan, st, &w->to_q, "cross_attend_blocks.0.fn.to_q.weight", inner, D, error));
    LLMBED_TRY(want(plan, st, &w->to_kv, "cross_attend_blocks.0.fn.to_kv.weight", 2 * inner, C, error));
    LLMBED_TRY(want(plan, st, &w->to_out, "cross_attend_blocks.0.fn.to_out.weight", D, inner, error));
    LLMBED_TRY(want(plan, st, &w->ff_norm_w, "cross_attend_blocks.1.norm.weight", D, 0, error));
    LLMBED_TRY(want(plan, st, &w->ff_norm_b, "cross_attend_blocks.1.norm.bias", D, 0, error));
    LLMBED_TRY(want(plan, st, &w->w1, "cross_attend_blocks.1.fn.net.0.weight", 2 * F, D, error));
    LLMBED_TRY(want(plan, st, &w->b1, "cross_attend_blocks.1.fn.net.0.bias", 2 * F, 0, error));
    LLMBED_TRY(want(plan, st, &w->w2, "cross_attend_blocks.1.fn.net.2.weight", D, F, error));
    return want(plan, st, &w->b2, "cross_attend_blocks.1.fn.net.2.bias", D, 0, error);
}

/* torch.nn.LayerNorm over rows of x[n, dim] (biased variance), statistics in double. */
static void layernorm_rows(const float *x, int64_t n, int64_t dim, const float *w, const float *b, float eps,
                           float *out) {
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * dim;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < dim; c++) mean += xr[c];
        mean /= (double)dim;
        for (int64_t c = 0; c < dim; c++) var += ((double)xr[c] - mean) * ((double)xr[c] - mean);
        const double inv = 1.0 / sqrt(var / (double)dim + (double)eps);
        for (int64_t c = 0; c < dim; c++) out[r * dim + c] = (float)(((double)xr[c] - mean) * inv) * w[c] + b[c];
    }
}

static void copy(float *dst, const float *src, int64_t n) { memcpy(dst, src, (size_t)n * sizeof *dst); }

/* Keys/values of the latents and the per-head folds, into one allocation. */
static llmbed_status fold(llmbed_model *m, const latent_raw *w, llmbed_error *error) {
    const llmbed_latent_config *l = &m->config.latent;
    const int64_t D = l->latent_dim, C = l->hidden_dim, r = l->n_latents, H = l->n_heads, dh = l->head_dim;
    const int64_t inner = H * dh, F = l->ff_inner, HR = H * r;
    /* kept: norms, q_logits, v_out, w1, b1, w2, b2 */
    const int64_t kept = 4 * D + 2 * HR * D + 2 * F * D + 2 * F + D * F + D;
    const int64_t scratch = r * C + r * 2 * inner;
    float *storage = malloc((size_t)kept * sizeof(float));
    float *tmp = malloc((size_t)scratch * sizeof(float));
    if (storage == NULL || tmp == NULL) {
        free(storage);
        free(tmp);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld MiB for the latent pooling block",
                           m->path, (long long)((kept + scratch) * 4 >> 20));
    }
    llmbed_latent_weights *o = &m->weights.latent;
    float *p = storage;
    o->norm_w = p, p += D;
    o->norm_b = p, p += D;
    o->ff_norm_w = p, p += D;
    o->ff_norm_b = p, p += D;
    o->q_logits = p, p += HR * D;
    o->v_out = p, p += D * HR;
    o->w1 = p, p += 2 * F * D;
    o->b1 = p, p += 2 * F;
    o->w2 = p, p += D * F;
    o->b2 = p;
    copy(o->norm_w, w->norm_w, D);
    copy(o->norm_b, w->norm_b, D);
    copy(o->ff_norm_w, w->ff_norm_w, D);
    copy(o->ff_norm_b, w->ff_norm_b, D);
    copy(o->w1, w->w1, 2 * F * D);
    copy(o->b1, w->b1, 2 * F);
    copy(o->w2, w->w2, D * F);
    copy(o->b2, w->b2, D);

    /* ctx = norm_context(latents) [r, C]; kv = ctx to_kv^T [r, 2 * inner] (k | v). */
    float *ctx = tmp, *kv = tmp + r * C;
    layernorm_rows(w->latents, r, C, w->ctx_w, w->ctx_b, l->eps, ctx);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)(2 * inner), (int)C, 1.0f, ctx, (int)C,
                w->to_kv, (int)C, 0.0f, kv, (int)(2 * inner));
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (int64_t h = 0; h < H; h++) {
        /* q_logits[h*r + j, :] = scale * sum_e K[j, h*dh + e] Wq[h*dh + e, :] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)D, (int)dh, scale, kv + h * dh,
                    (int)(2 * inner), w->to_q + h * dh * D, (int)D, 0.0f, o->q_logits + h * r * D, (int)D);
        /* v_out[c, h*r + j] = sum_e Wout[c, h*dh + e] V[j, h*dh + e] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)D, (int)r, (int)dh, 1.0f, w->to_out + h * dh,
                    (int)inner, kv + inner + h * dh, (int)(2 * inner), 0.0f, o->v_out + h * r, (int)HR);
    }
    free(tmp);
    m->latent_storage = storage;
    return LLMBED_OK;
}

llmbed_status llmbed_weights_load_latent(llmbed_model *m, const llmbed_safetensors *st, const char *file,
                                         int n_threads, llmbed_error *error) {
    const llmbed_latent_config *l = &m->config.latent;
    const int has_tensors = llmbed_safetensors_find_tensor(st, LATENT_PREFIX "latents") != NULL;
    if (!l->present) {
        if (has_tensors)
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                               "%s: tensor '" LATENT_PREFIX "latents' is present but config.json has no "
                               "latent_attention_config (model_type \"nvembed\")",
                               file);
        return LLMBED_OK;
    }
    llmbed_weight_plan plan = {file, NULL, 0, 0, LLMBED_WEIGHTS_F32, 0};
    latent_raw raw;
    memset(&raw, 0, sizeof raw);
    void *storage = NULL;
    int64_t n_params = 0;
    const char *dtype = NULL;
    llmbed_status st_plan = plan_latent(l, st, &plan, &raw, error);
    if (st_plan == LLMBED_ERR_TENSOR_SHAPE) {
        /* name the config the shapes came from */
        char message[LLMBED_ERROR_MESSAGE_CAPACITY];
        snprintf(message, sizeof message, "%s", error != NULL ? error->message : "");
        st_plan = llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "%s (from latent_attention_config: %d latents, %d heads "
                              "x cross_dim_head %d, latent_dim %d)", message, l->n_latents, l->n_heads, l->head_dim,
                              l->latent_dim);
    }
    llmbed_status status = llmbed_weight_plan_finish(&plan, st_plan, n_threads, &storage, &n_params, &dtype, error);
    if (status == LLMBED_OK) status = fold(m, &raw, error);
    free(storage);
    if (status == LLMBED_OK) m->n_parameters += n_params;
    return status;
}
