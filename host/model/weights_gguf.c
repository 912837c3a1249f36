/* llama.cpp tensor names (gguf-py tensor_mapping.py): token_embd.weight,
 * output_norm.weight, blk.{i}.{attn_norm, attn_q, attn_k, attn_v,
 * attn_output, attn_q_norm, attn_k_norm, ffn_norm, ffn_gate, ffn_up,
 * ffn_down}.weight and blk.{i}.attn_{q,k,v}.bias; gemma3 adds
 * blk.{i}.post_attention_norm and blk.{i}.post_ffw_norm (its ffn_norm is the
 * pre-feedforward norm), every norm stored as 1 + w already
 * (convert_hf_to_gguf.py Gemma3Model adds the 1). output.weight (the LM
 * head) is not needed for embeddings. */
#include <stdio.h>

#include "common/error.h"
#include "model/model_load.h"
#include "model/weight_plan.h"

typedef struct gguf_names {
    const llmbed_gguf *gguf;
    llmbed_weight_plan *plan;
    llmbed_error *error;
} gguf_names;

enum { NAME_CAP = 128 };

static const llmbed_tensor_ref *find(const gguf_names *g, const char *suffix, int layer, char name[NAME_CAP]) {
    if (layer >= 0) snprintf(name, NAME_CAP, "blk.%d.%s", layer, suffix);
    else snprintf(name, NAME_CAP, "%s", suffix);
    return llmbed_gguf_find_tensor(g->gguf, name);
}

static llmbed_status want(const gguf_names *g, float **slot, const char *suffix, int layer, int64_t rows,
                          int64_t cols, int unpermute_heads) {
    char name[NAME_CAP];
    const llmbed_tensor_ref *t = find(g, suffix, layer, name);
    return llmbed_weight_plan_add(g->plan, slot, t, name, rows, cols, unpermute_heads, g->error);
}

static llmbed_status want_matrix(const gguf_names *g, llmbed_weight *matrix, const char *suffix, int layer,
                                 int64_t rows, int64_t cols, int unpermute_heads) {
    char name[NAME_CAP];
    const llmbed_tensor_ref *t = find(g, suffix, layer, name);
    return llmbed_weight_plan_add_matrix(g->plan, matrix, t, name, rows, cols, unpermute_heads, g->error);
}

static llmbed_status plan_gguf(llmbed_model *m, const gguf_names *g) {
    const llmbed_config *c = &m->config;
    const int64_t C = c->hidden_size, Q = (int64_t)c->n_heads * c->head_dim;
    const int64_t KV = (int64_t)c->n_kv_heads * c->head_dim, F = c->intermediate_size;
    /* convert_hf_to_gguf.py permutes q with n_head and k with n_head_kv
     * for the Llama architecture only (Qwen2/Qwen3 use neox-style RoPE). */
    const bool permuted = c->arch == LLMBED_ARCH_LLAMA;
    const int q_heads = permuted ? c->n_heads : 0, k_heads = permuted ? c->n_kv_heads : 0;
    LLMBED_TRY(want_matrix(g, &m->weights.token_embedding, "token_embd.weight", -1, c->vocab_size, C, 0));
    for (int i = 0; i < c->n_layers; i++) {
        llmbed_layer_weights *l = &m->weights.layers[i];
        char o_bias[64];
        snprintf(o_bias, sizeof o_bias, "blk.%d.attn_output.bias", i);
        if (llmbed_gguf_find_tensor(g->gguf, o_bias) != NULL)
            return llmbed_fail(g->error, LLMBED_ERR_UNSUPPORTED, "%s: tensor '%s': attention output bias is not supported",
                               g->plan->file, o_bias);
        LLMBED_TRY(want(g, &l->attn_norm, "attn_norm.weight", i, C, 0, 0));
        LLMBED_TRY(want_matrix(g, &l->wq, "attn_q.weight", i, Q, C, q_heads));
        LLMBED_TRY(want_matrix(g, &l->wk, "attn_k.weight", i, KV, C, k_heads));
        LLMBED_TRY(want_matrix(g, &l->wv, "attn_v.weight", i, KV, C, 0));
        LLMBED_TRY(want_matrix(g, &l->wo, "attn_output.weight", i, C, Q, 0));
        if (c->qkv_bias) {
            LLMBED_TRY(want(g, &l->bq, "attn_q.bias", i, Q, 0, q_heads));
            LLMBED_TRY(want(g, &l->bk, "attn_k.bias", i, KV, 0, k_heads));
            LLMBED_TRY(want(g, &l->bv, "attn_v.bias", i, KV, 0, 0));
        }
        if (c->qk_norm) {
            LLMBED_TRY(want(g, &l->q_norm, "attn_q_norm.weight", i, c->head_dim, 0, 0));
            LLMBED_TRY(want(g, &l->k_norm, "attn_k_norm.weight", i, c->head_dim, 0, 0));
        }
        if (c->sandwich_norms) {
            LLMBED_TRY(want(g, &l->post_attn_norm, "post_attention_norm.weight", i, C, 0, 0));
            LLMBED_TRY(want(g, &l->post_ffn_norm, "post_ffw_norm.weight", i, C, 0, 0));
        }
        LLMBED_TRY(want(g, &l->ffn_norm, "ffn_norm.weight", i, C, 0, 0));
        LLMBED_TRY(want_matrix(g, &l->w_gate, "ffn_gate.weight", i, F, C, 0));
        LLMBED_TRY(want_matrix(g, &l->w_up, "ffn_up.weight", i, F, C, 0));
        LLMBED_TRY(want_matrix(g, &l->w_down, "ffn_down.weight", i, C, F, 0));
    }
    return want(g, &m->weights.final_norm, "output_norm.weight", -1, C, 0, 0);
}

llmbed_status llmbed_weights_load_gguf(llmbed_model *m, const llmbed_gguf *gguf, int n_threads, llmbed_error *error) {
    const char *file = llmbed_gguf_path(gguf);
    /* Llama-3.1-style rope scaling arrives as per-frequency factors in
     * rope_freqs.weight, which the config cannot express. */
    if (llmbed_gguf_find_tensor(gguf, "rope_freqs.weight") != NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: tensor 'rope_freqs.weight' (per-frequency RoPE factors) is not supported", file);
    /* Llama-architecture GGUFs may carry q/k/v biases; qwen2 always does. */
    if (llmbed_gguf_find_tensor(gguf, "blk.0.attn_q.bias") != NULL) m->config.qkv_bias = true;
    llmbed_weight_plan plan = {file, NULL, 0, 0, m->weights_mode, 0};
    const gguf_names g = {gguf, &plan, error};
    LLMBED_TRY(llmbed_weight_plan_finish(&plan, plan_gguf(m, &g), n_threads, &m->weight_storage, &m->n_parameters,
                                         &m->weight_dtype, error));
    m->weight_bytes = plan.storage_bytes;
    return LLMBED_OK;
}
