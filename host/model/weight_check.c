/* llmbed_model_check_weights: the first NaN or infinity in the loaded fp32
 * weights, named the way the model's file names the tensor. Weights that
 * hold NaN make every output row NaN, and the embed job only sees the rows:
 * this finds the tensor to blame (`llmbed info --check-weights`). */
#include <math.h>
#include <stdio.h>

#include "common/error.h"
#include "model/model.h"

typedef struct weight_entry {
    const float *data;
    int64_t rows, cols; /* cols 1 for vectors */
    const char *hf;     /* Hugging Face name without the "model." prefix; %d = layer */
    const char *gguf;   /* llama.cpp name; %d = layer */
} weight_entry;

static llmbed_status check_one(const llmbed_model *m, const weight_entry *w, int layer, llmbed_error *error) {
    if (w->data == NULL) return LLMBED_OK; /* the architecture has no such tensor */
    const int64_t n = w->rows * w->cols;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(w->data[i])) continue;
        char name[128];
        snprintf(name, sizeof name, m->source_format[0] == 'g' ? w->gguf : w->hf, layer);
        char where[64];
        if (w->cols > 1) snprintf(where, sizeof where, "[%lld, %lld]", (long long)(i / w->cols), (long long)(i % w->cols));
        else snprintf(where, sizeof where, "[%lld]", (long long)i);
        return llmbed_fail(error, LLMBED_ERR_NON_FINITE, "%s: tensor '%s' holds %s at %s (the first non-finite weight)",
                           m->path, name, isnan(w->data[i]) ? "NaN" : "infinity", where);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_model_check_weights(const llmbed_model *m, llmbed_error *error) {
    const llmbed_config *c = &m->config;
    if (m->weights.token_embedding == NULL) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: loaded without weights (vocabulary only)", m->path);
    }
    const int64_t C = c->hidden_size, Q = (int64_t)c->n_heads * c->head_dim;
    const int64_t KV = (int64_t)c->n_kv_heads * c->head_dim, F = c->intermediate_size, D = c->head_dim;
    const weight_entry embedding = {m->weights.token_embedding, c->vocab_size, C, "embed_tokens.weight", "token_embd.weight"};
    LLMBED_TRY(check_one(m, &embedding, 0, error));
    for (int i = 0; i < c->n_layers; i++) {
        const llmbed_layer_weights *l = &m->weights.layers[i];
        const weight_entry layer[] = {
            {l->attn_norm, C, 1, "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
            {l->wq, Q, C, "layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"},
            {l->wk, KV, C, "layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"},
            {l->wv, KV, C, "layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"},
            {l->wo, C, Q, "layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
            {l->bq, Q, 1, "layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias"},
            {l->bk, KV, 1, "layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias"},
            {l->bv, KV, 1, "layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias"},
            {l->q_norm, D, 1, "layers.%d.self_attn.q_norm.weight", "blk.%d.attn_q_norm.weight"},
            {l->k_norm, D, 1, "layers.%d.self_attn.k_norm.weight", "blk.%d.attn_k_norm.weight"},
            {l->ffn_norm, C, 1, "layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
            {l->w_gate, F, C, "layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight"},
            {l->w_up, F, C, "layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight"},
            {l->w_down, C, F, "layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
        };
        for (size_t k = 0; k < sizeof layer / sizeof layer[0]; k++) LLMBED_TRY(check_one(m, &layer[k], i, error));
    }
    const weight_entry final_norm = {m->weights.final_norm, C, 1, "norm.weight", "output_norm.weight"};
    return check_one(m, &final_norm, 0, error);
}
