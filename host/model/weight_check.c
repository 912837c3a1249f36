/* llmbed_model_check_weights: the first NaN or infinity in the loaded
 * weights (their fp32 values, whatever the stored representation), named the way the model's file names the tensor. Weights that
 * hold NaN make every output row NaN, and the embed job only sees the rows:
 * this finds the tensor to blame (`llmbed info --check-weights`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "model/model.h"

typedef struct weight_entry {
    llmbed_weight w;    /* vectors as [rows, 1] fp32 views */
    const char *hf;     /* Hugging Face name without the "model." prefix; %d = layer */
    const char *gguf;   /* llama.cpp name; %d = layer */
} weight_entry;

static llmbed_status report(const llmbed_model *m, const weight_entry *e, int layer, int64_t row, int64_t col,
                            float value, llmbed_error *error) {
    char name[128];
    snprintf(name, sizeof name, m->source_format[0] == 'g' ? e->gguf : e->hf, layer);
    char where[64];
    if (e->w.cols > 1) snprintf(where, sizeof where, "[%lld, %lld]", (long long)row, (long long)col);
    else snprintf(where, sizeof where, "[%lld]", (long long)row);
    return llmbed_fail(error, LLMBED_ERR_NON_FINITE, "%s: tensor '%s' holds %s at %s (the first non-finite weight)",
                       m->path, name, isnan(value) ? "NaN" : "infinity", where);
}

/* Row by row through the fp32 values (one row of scratch). */
static llmbed_status check_one(const llmbed_model *m, const weight_entry *e, int layer, llmbed_error *error) {
    if (e->w.data == NULL) return LLMBED_OK; /* the architecture has no such tensor */
    float *row = malloc((size_t)e->w.cols * sizeof *row);
    if (row == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", m->path);
    llmbed_status st = LLMBED_OK;
    for (int64_t r = 0; r < e->w.rows && st == LLMBED_OK; r++) {
        llmbed_weight_rows_to_f32(&e->w, r, 1, row);
        for (int64_t c = 0; c < e->w.cols; c++)
            if (!isfinite(row[c])) {
                st = report(m, e, layer, r, c, row[c], error);
                break;
            }
    }
    free(row);
    return st;
}

static weight_entry vector(const float *data, int64_t n, const char *hf, const char *gguf) {
    const weight_entry e = {llmbed_weight_of_f32(data, n, 1), hf, gguf};
    return e;
}

static weight_entry matrix(const llmbed_weight *w, const char *hf, const char *gguf) {
    const weight_entry e = {*w, hf, gguf};
    return e;
}

llmbed_status llmbed_model_check_weights(const llmbed_model *m, llmbed_error *error) {
    const llmbed_config *c = &m->config;
    if (m->weights.token_embedding.data == NULL) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: loaded without weights (vocabulary only)", m->path);
    }
    const int64_t C = c->hidden_size, Q = (int64_t)c->n_heads * c->head_dim;
    const int64_t KV = (int64_t)c->n_kv_heads * c->head_dim, D = c->head_dim;
    const weight_entry embedding = matrix(&m->weights.token_embedding, "embed_tokens.weight", "token_embd.weight");
    LLMBED_TRY(check_one(m, &embedding, 0, error));
    for (int i = 0; i < c->n_layers; i++) {
        const llmbed_layer_weights *l = &m->weights.layers[i];
        const weight_entry layer[] = {
            vector(l->attn_norm, C, "layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"),
            matrix(&l->wq, "layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"),
            matrix(&l->wk, "layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"),
            matrix(&l->wv, "layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"),
            matrix(&l->wo, "layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"),
            vector(l->bq, Q, "layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias"),
            vector(l->bk, KV, "layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias"),
            vector(l->bv, KV, "layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias"),
            vector(l->q_norm, D, "layers.%d.self_attn.q_norm.weight", "blk.%d.attn_q_norm.weight"),
            vector(l->k_norm, D, "layers.%d.self_attn.k_norm.weight", "blk.%d.attn_k_norm.weight"),
            vector(l->ffn_norm, C, "layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"),
            matrix(&l->w_gate, "layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight"),
            matrix(&l->w_up, "layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight"),
            matrix(&l->w_down, "layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"),
        };
        for (size_t k = 0; k < sizeof layer / sizeof layer[0]; k++) LLMBED_TRY(check_one(m, &layer[k], i, error));
    }
    const weight_entry final_norm = vector(m->weights.final_norm, C, "norm.weight", "output_norm.weight");
    return check_one(m, &final_norm, 0, error);
}
