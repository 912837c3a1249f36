/* Hugging Face tensor names (modeling_llama.py / modeling_qwen2.py /
 * modeling_qwen3.py / MiniCPM's modeling file share them):
 *   model.embed_tokens.weight, model.norm.weight,
 *   model.layers.{i}.{input_layernorm, post_attention_layernorm}.weight,
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight (+ q/k/v .bias, q_norm/k_norm),
 *   model.layers.{i}.mlp.{gate,up,down}_proj.weight.
 * Gemma 3 (modeling_gemma3.py) has four norms per layer: input_layernorm,
 * post_attention_layernorm (on the attention output), pre_feedforward_layernorm
 * (the MLP's input norm) and post_feedforward_layernorm, and stores every
 * RMSNorm weight as w for a scale of 1 + w (Gemma3RMSNorm). The loader adds
 * the 1 in fp32 (the sum HF forms in fp32 too), so the norm op stays plain.
 * Checkpoints saved from the bare XModel (e.g. Qwen3-Embedding) drop the
 * "model." prefix; lm_head.weight is not needed for embeddings. */
#include <stdio.h>

#include "common/error.h"
#include "model/model_load.h"
#include "model/weight_plan.h"

typedef struct hf_names {
    const llmbed_safetensors *st;
    const char *prefix;
    llmbed_weight_plan *plan;
    llmbed_error *error;
} hf_names;

enum { NAME_CAP = 256 };

static const llmbed_tensor_ref *find(const hf_names *h, const char *suffix, int layer, char name[NAME_CAP]) {
    if (layer >= 0) snprintf(name, NAME_CAP, "%slayers.%d.%s", h->prefix, layer, suffix);
    else snprintf(name, NAME_CAP, "%s%s", h->prefix, suffix);
    return llmbed_safetensors_find_tensor(h->st, name);
}

static llmbed_status want(const hf_names *h, float **slot, const char *suffix, int layer, int64_t rows, int64_t cols) {
    char name[NAME_CAP];
    const llmbed_tensor_ref *t = find(h, suffix, layer, name);
    return llmbed_weight_plan_add(h->plan, slot, t, name, rows, cols, 0, h->error);
}

static llmbed_status want_matrix(const hf_names *h, llmbed_weight *matrix, const char *suffix, int layer, int64_t rows,
                                 int64_t cols) {
    char name[NAME_CAP];
    const llmbed_tensor_ref *t = find(h, suffix, layer, name);
    return llmbed_weight_plan_add_matrix(h->plan, matrix, t, name, rows, cols, 0, h->error);
}

static llmbed_status plan_hf(llmbed_model *m, hf_names *h) {
    const llmbed_config *c = &m->config;
    const int64_t C = c->hidden_size, Q = (int64_t)c->n_heads * c->head_dim;
    const int64_t KV = (int64_t)c->n_kv_heads * c->head_dim, F = c->intermediate_size;
    LLMBED_TRY(want_matrix(h, &m->weights.token_embedding, "embed_tokens.weight", -1, c->vocab_size, C));
    for (int i = 0; i < c->n_layers; i++) {
        llmbed_layer_weights *l = &m->weights.layers[i];
        char o_bias[256];
        snprintf(o_bias, sizeof o_bias, "%slayers.%d.self_attn.o_proj.bias", h->prefix, i);
        if (llmbed_safetensors_find_tensor(h->st, o_bias) != NULL)
            return llmbed_fail(h->error, LLMBED_ERR_UNSUPPORTED,
                               "%s: tensor '%s': an o_proj bias (attention_bias with Llama) is not supported",
                               h->plan->file, o_bias);
        LLMBED_TRY(want(h, &l->attn_norm, "input_layernorm.weight", i, C, 0));
        LLMBED_TRY(want_matrix(h, &l->wq, "self_attn.q_proj.weight", i, Q, C));
        LLMBED_TRY(want_matrix(h, &l->wk, "self_attn.k_proj.weight", i, KV, C));
        LLMBED_TRY(want_matrix(h, &l->wv, "self_attn.v_proj.weight", i, KV, C));
        LLMBED_TRY(want_matrix(h, &l->wo, "self_attn.o_proj.weight", i, C, Q));
        if (c->qkv_bias) {
            LLMBED_TRY(want(h, &l->bq, "self_attn.q_proj.bias", i, Q, 0));
            LLMBED_TRY(want(h, &l->bk, "self_attn.k_proj.bias", i, KV, 0));
            LLMBED_TRY(want(h, &l->bv, "self_attn.v_proj.bias", i, KV, 0));
        }
        if (c->qk_norm) {
            LLMBED_TRY(want(h, &l->q_norm, "self_attn.q_norm.weight", i, c->head_dim, 0));
            LLMBED_TRY(want(h, &l->k_norm, "self_attn.k_norm.weight", i, c->head_dim, 0));
        }
        if (c->sandwich_norms) {
            LLMBED_TRY(want(h, &l->post_attn_norm, "post_attention_layernorm.weight", i, C, 0));
            LLMBED_TRY(want(h, &l->ffn_norm, "pre_feedforward_layernorm.weight", i, C, 0));
            LLMBED_TRY(want(h, &l->post_ffn_norm, "post_feedforward_layernorm.weight", i, C, 0));
        } else {
            LLMBED_TRY(want(h, &l->ffn_norm, "post_attention_layernorm.weight", i, C, 0));
        }
        LLMBED_TRY(want_matrix(h, &l->w_gate, "mlp.gate_proj.weight", i, F, C));
        LLMBED_TRY(want_matrix(h, &l->w_up, "mlp.up_proj.weight", i, F, C));
        LLMBED_TRY(want_matrix(h, &l->w_down, "mlp.down_proj.weight", i, C, F));
    }
    return want(h, &m->weights.final_norm, "norm.weight", -1, C, 0);
}

static void add_one(float *w, int64_t n) {
    for (int64_t i = 0; w != NULL && i < n; i++) w[i] = 1.0f + w[i];
}

/* Gemma3RMSNorm's (1 + w), folded into every norm weight once. */
static void fold_gemma_norms(llmbed_model *m) {
    const llmbed_config *c = &m->config;
    for (int i = 0; i < c->n_layers; i++) {
        llmbed_layer_weights *l = &m->weights.layers[i];
        add_one(l->attn_norm, c->hidden_size);
        add_one(l->post_attn_norm, c->hidden_size);
        add_one(l->ffn_norm, c->hidden_size);
        add_one(l->post_ffn_norm, c->hidden_size);
        add_one(l->q_norm, c->head_dim);
        add_one(l->k_norm, c->head_dim);
    }
    add_one(m->weights.final_norm, c->hidden_size);
}

llmbed_status llmbed_weights_load_hf(llmbed_model *m, const llmbed_safetensors *st, const char *file, int n_threads,
                                     llmbed_error *error) {
    /* vocab_size is the embedding's row count (config.json's may be padded or absent). */
    /* "model." (XForCausalLM), "" (bare XModel), "embedding_model."
     * (NV-Embed's NVEmbedModel.embedding_model, a BidirectionalMistralModel). */
    static const char *const prefixes[] = {"model.", "", "embedding_model."};
    const char *prefix = "model.";
    const llmbed_tensor_ref *embd = NULL;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0] && embd == NULL; i++) {
        char name[64];
        snprintf(name, sizeof name, "%sembed_tokens.weight", prefixes[i]);
        embd = llmbed_safetensors_find_tensor(st, name);
        if (embd != NULL) prefix = prefixes[i];
    }
    if (embd == NULL)
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR,
                           "%s: tensor 'model.embed_tokens.weight' (or 'embed_tokens.weight', "
                           "'embedding_model.embed_tokens.weight') is missing", file);
    if (embd->n_dims != 2 || embd->shape[0] < 1 || embd->shape[0] > (1 << 26))
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor '%sembed_tokens.weight' must be [vocab_size, hidden_size] with 1 <= vocab_size <= %d",
                           file, prefix, 1 << 26);
    if (embd->shape[1] != m->config.hidden_size)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor '%sembed_tokens.weight' has shape [%lld, %lld], the config implies [%d, %d] "
                           "(vocab_size, hidden_size)%s",
                           file, prefix, (long long)embd->shape[0], (long long)embd->shape[1], m->config.vocab_size,
                           m->config.hidden_size,
                           embd->shape[0] == m->config.hidden_size ? ": it looks transposed" : "");
    m->config.vocab_size = (int)embd->shape[0];
    llmbed_weight_plan plan = {file, NULL, 0, 0, m->weights_mode, 0};
    hf_names h = {st, prefix, &plan, error};
    LLMBED_TRY(llmbed_weight_plan_finish(&plan, plan_hf(m, &h), n_threads, &m->weight_storage, &m->n_parameters,
                                         &m->weight_dtype, error));
    m->weight_bytes = plan.storage_bytes;
    if (m->config.arch == LLMBED_ARCH_GEMMA3) fold_gemma_norms(m);
    return llmbed_weights_load_latent(m, st, file, n_threads, error);
}
