/* The loaded model: config, weights for the backends and the defaults that
 * sentence-transformers files or the family set. */
#ifndef LLMBED_MODEL_MODEL_H
#define LLMBED_MODEL_MODEL_H

#include <stdint.h>

#include "llmbed.h"
#include "model/family.h"
#include "model/model_config.h"
#include "model/st_dense.h"
#include "model/weight.h"

struct llmbed_tokenizer; /* host/tokenizer/tokenizer.h; NULL when the model ships none */

/* HF shapes ([out, in] for projections): matrices are typed weights
 * (model/weight.h) in the representation chosen at load, vectors fp32.
 * Vector pointers are NULL where the architecture has no such tensor
 * (biases, q/k norms). */
typedef struct llmbed_layer_weights {
    float *attn_norm;      /* [hidden] */
    llmbed_weight wq;      /* [n_heads * head_dim, hidden] */
    llmbed_weight wk;      /* [n_kv_heads * head_dim, hidden] */
    llmbed_weight wv;      /* [n_kv_heads * head_dim, hidden] */
    llmbed_weight wo;      /* [hidden, n_heads * head_dim] */
    float *bq;             /* [n_heads * head_dim] qwen2 */
    float *bk;             /* [n_kv_heads * head_dim] qwen2 */
    float *bv;             /* [n_kv_heads * head_dim] qwen2 */
    float *q_norm;         /* [head_dim] qwen3 */
    float *k_norm;         /* [head_dim] qwen3 */
    float *ffn_norm;       /* [hidden] (Gemma 3: pre_feedforward_layernorm) */
    float *post_attn_norm; /* [hidden] gemma3: on the attention output before the residual add */
    float *post_ffn_norm;  /* [hidden] gemma3: on the MLP output before the residual add */
    llmbed_weight w_gate;  /* [intermediate, hidden] */
    llmbed_weight w_up;    /* [intermediate, hidden] */
    llmbed_weight w_down;  /* [hidden, intermediate] */
} llmbed_layer_weights;

/* NV-Embed's latent-attention pooling block (host/model/weights_latent.c),
 * d = hidden, h = heads, r = latents, F = ff_inner. The cross-attention's
 * projections are folded with the latents' keys and values at load, which
 * depend only on weights (SPEC section 6):
 *   q_logits block h = K_h Wq_h / sqrt(head_dim)   [r, d] per head
 *   v_out    block h = Wout_h V_h^T                [d, r] per head
 * so logits = LN(H) q_logits^T and the attention output = P v_out^T.
 * NULL pointers everywhere when the model has no latent block. */
typedef struct llmbed_latent_weights {
    float *norm_w, *norm_b;       /* cross_attend_blocks.0.norm [d] */
    float *q_logits;              /* [h * r, d] */
    float *v_out;                 /* [d, h * r] */
    float *ff_norm_w, *ff_norm_b; /* cross_attend_blocks.1.norm [d] */
    float *w1, *b1;               /* cross_attend_blocks.1.fn.net.0 [2F, d], [2F] */
    float *w2, *b2;               /* cross_attend_blocks.1.fn.net.2 [d, F], [d] */
} llmbed_latent_weights;

typedef struct llmbed_weights {
    llmbed_weight token_embedding; /* [vocab, hidden] */
    float *final_norm;      /* [hidden] */
    llmbed_layer_weights *layers; /* [n_layers] */
    llmbed_latent_weights latent; /* NV-Embed only */
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
    /* Every weight buffer above is carved from this one allocation of
     * weight_bytes, matrices held as weights_mode says. */
    void *weight_storage;
    size_t weight_bytes;
    llmbed_weights_mode weights_mode; /* resolved: never LLMBED_WEIGHTS_DEFAULT once loaded */
    /* model_type / general.architecture as the file names it: differs from
     * llmbed_arch_name(config.arch) only for vocab-only GGUF files of other
     * architectures (e.g. "gpt2"), whose config is then partial. */
    char arch_name[32];
    float *latent_storage;      /* the buffers of weights.latent (one allocation) */
    llmbed_family family;       /* embedder convention (model/family.c) */
    char *adapter_paths;        /* owned: the merged adapters' real paths, one a line, in order; NULL = none */
    /* sentence-transformers Dense modules applied to pooled rows, in order
     * (model/st_dense.h); n_dense 0 without them. */
    llmbed_dense_layer *dense;
    int n_dense;
    float *dense_storage;
};

#endif
