/* The loaded model: config, fp32 weights for the CPU reference backend and
 * the defaults that sentence-transformers files or the family set. */
#ifndef LLMBED_MODEL_MODEL_H
#define LLMBED_MODEL_MODEL_H

#include <stdint.h>

#include "llmbed.h"
#include "model/model_config.h"

struct llmbed_tokenizer; /* host/tokenizer/tokenizer.h; NULL when the model ships none */

/* Row-major fp32 weights, HF shapes ([out, in] for projections). Pointers
 * are NULL where the architecture has no such tensor (biases, q/k norms). */
typedef struct llmbed_layer_weights {
    float *attn_norm; /* [hidden] */
    float *wq;        /* [n_heads * head_dim, hidden] */
    float *wk;        /* [n_kv_heads * head_dim, hidden] */
    float *wv;        /* [n_kv_heads * head_dim, hidden] */
    float *wo;        /* [hidden, n_heads * head_dim] */
    float *bq;        /* [n_heads * head_dim] qwen2 */
    float *bk;        /* [n_kv_heads * head_dim] qwen2 */
    float *bv;        /* [n_kv_heads * head_dim] qwen2 */
    float *q_norm;    /* [head_dim] qwen3 */
    float *k_norm;    /* [head_dim] qwen3 */
    float *ffn_norm;  /* [hidden] */
    float *w_gate;    /* [intermediate, hidden] */
    float *w_up;      /* [intermediate, hidden] */
    float *w_down;    /* [hidden, intermediate] */
} llmbed_layer_weights;

typedef struct llmbed_weights {
    float *token_embedding; /* [vocab, hidden] */
    float *final_norm;      /* [hidden] */
    llmbed_layer_weights *layers; /* [n_layers] */
} llmbed_weights;

struct llmbed_model {
    llmbed_config config;
    llmbed_weights weights;
    const char *source_format; /* "safetensors" | "gguf" */
    const char *weight_dtype;  /* dtype name holding the most parameters */
    int64_t n_parameters;
    llmbed_pooling default_pooling;
    llmbed_attention default_attention;
    int default_normalize;
    struct llmbed_tokenizer *tokenizer; /* owned; may be NULL */
    char *path;                         /* owned copy of the load path */
    /* Every fp32 buffer above is carved from this one allocation. */
    float *weight_storage;
    /* model_type / general.architecture as the file names it: differs from
     * llmbed_arch_name(config.arch) only for vocab-only GGUF files of other
     * architectures (e.g. "gpt2"), whose config is then partial. */
    char arch_name[32];
};

#endif
