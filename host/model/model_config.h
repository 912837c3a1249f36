/* Architecture hyper-parameters, parsed from config.json or GGUF metadata.
 * One struct for every family; fields a family does not use hold the
 * neutral value (1.0 scales, false flags). */
#ifndef LLMBED_MODEL_CONFIG_H
#define LLMBED_MODEL_CONFIG_H

#include <stdbool.h>
#include <math.h>
#include <stdint.h>

#include "llmbed.h"
#include "op_params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmbed_arch {
    LLMBED_ARCH_LLAMA,
    LLMBED_ARCH_MISTRAL,
    LLMBED_ARCH_QWEN2,
    LLMBED_ARCH_QWEN3,
    LLMBED_ARCH_MINICPM,
    LLMBED_ARCH_GEMMA3
} llmbed_arch;

/* Upper bound of num_hidden_layers (only keeps sizes far from overflow). */
#define LLMBED_MAX_LAYERS 4096

typedef enum llmbed_rope_type {
    LLMBED_ROPE_NONE,
    LLMBED_ROPE_LINEAR,  /* positions / factor */
    LLMBED_ROPE_DYNAMIC, /* NTK: base grows once seq_len > original max positions */
    LLMBED_ROPE_YARN,
    LLMBED_ROPE_LLAMA3
} llmbed_rope_type;

/* Mirrors transformers' modeling_rope_utils.py parameter names. */
typedef struct llmbed_rope_scaling {
    llmbed_rope_type type;
    float factor;
    int original_max_positions;  /* original_max_position_embeddings (0 = max_positions) */
    float low_freq_factor;       /* llama3 */
    float high_freq_factor;      /* llama3 */
    float beta_fast;             /* yarn, default 32 */
    float beta_slow;             /* yarn, default 1 */
    float attention_factor;      /* yarn mscale override; 0 = derived from factor */
    float mscale;                /* yarn (DeepSeek style), 0 = unused */
    float mscale_all_dim;        /* yarn (DeepSeek style), 0 = unused */
    bool truncate;               /* yarn: floor/ceil of the correction range (default true) */
} llmbed_rope_scaling;

/* NV-Embed's latent_attention_config (configuration_nvembed.py
 * LatentAttentionConfig; defaults 512 latents, 8 heads of 4096, dims 4096).
 * present is false for every other model. */
typedef struct llmbed_latent_config {
    bool present;
    int n_latents;         /* num_latents_value: rows of the learned latents */
    int latent_dim;        /* latent_dim: width of the latents and of the pooled tokens */
    int hidden_dim;        /* hidden_dim: width of the decoder's hidden states */
    int n_heads;           /* num_cross_heads */
    int head_dim;          /* cross_dim_head: width of ONE head (inner = n_heads * head_dim) */
    int ff_inner;          /* FeedForward(latent_dim, mult=4): 4 * latent_dim (GEGLU halves) */
    bool output_normalize; /* L2 normalisation after the masked mean */
    float eps;             /* torch.nn.LayerNorm default 1e-5 */
} llmbed_latent_config;

typedef struct llmbed_config {
    llmbed_arch arch;
    int n_layers;
    int hidden_size;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int intermediate_size;
    int vocab_size;
    int max_positions;
    float rope_theta;
    llmbed_rope_scaling rope_scaling;
    float rms_norm_eps;
    bool qkv_bias;            /* qwen2 */
    bool qk_norm;             /* qwen3: per-head RMSNorm on q and k before RoPE */
    bool tie_word_embeddings;
    float scale_emb;          /* minicpm: embeddings multiplied by this (1 otherwise) */
    float residual_scale;     /* minicpm: scale_depth / sqrt(n_layers) (1 otherwise) */
    float dim_model_base;     /* minicpm: logits only, kept for info */
    int eos_token_id;         /* config.json eos_token_id (first of a list); -1 when absent */
    llmbed_latent_config latent; /* NV-Embed only (model_type "nvembed") */
    /* Gemma 3 (modeling_gemma3.py), neutral for the others:
     *   query_pre_attn_scalar: attention logits are q.k * query_pre_attn_scalar^-0.5
     *     (Gemma3Attention.scaling); 0 means head_dim (every other model);
     *   sliding_window + sliding_layers: layer l with bit l set attends to a
     *     window of sliding_window tokens (the mask rule: op_params.h
     *     llmbed_attention_params.window); 0 = no window;
     *   rope_local_theta: RoPE base of the sliding layers (plain RoPE, no
     *     scaling: rope_parameters["sliding_attention"]); full layers use
     *     rope_theta with rope_scaling;
     *   sandwich_norms: post-attention and post-feedforward RMSNorms on each
     *     branch's output before the residual add (Gemma3DecoderLayer);
     *   mlp_activation: the gate's activation (gelu_pytorch_tanh for Gemma);
     *   bidirectional: use_bidirectional_attention (EmbeddingGemma), the
     *     model's default attention. */
    float query_pre_attn_scalar;
    int sliding_window;
    uint64_t sliding_layers[LLMBED_MAX_LAYERS / 64];
    float rope_local_theta;
    bool sandwich_norms;
    llmbed_gate_activation mlp_activation;
    bool bidirectional;
} llmbed_config;

/* Whether `layer` is a sliding-window layer. */
static inline bool llmbed_config_layer_sliding(const llmbed_config *config, int layer) {
    return config->sliding_window > 0 && layer >= 0 && layer < LLMBED_MAX_LAYERS &&
           ((config->sliding_layers[layer / 64] >> (layer % 64)) & 1u) != 0;
}

static inline void llmbed_config_set_sliding(llmbed_config *config, int layer, bool sliding) {
    const uint64_t bit = (uint64_t)1 << (layer % 64);
    if (sliding) config->sliding_layers[layer / 64] |= bit;
    else config->sliding_layers[layer / 64] &= ~bit;
}

/* attention logit scale before any temperature: query_pre_attn_scalar^-0.5,
 * or head_dim^-0.5. */
static inline double llmbed_config_attention_scale(const llmbed_config *config) {
    const double s = config->query_pre_attn_scalar > 0.0f ? (double)config->query_pre_attn_scalar
                                                          : (double)config->head_dim;
    return 1.0 / sqrt(s);
}

const char *llmbed_arch_name(llmbed_arch arch);
const char *llmbed_rope_type_name(llmbed_rope_type type);

/* Checks internal consistency (positive sizes, heads divide, ...), naming
 * `source` (the file) and the field in the message. */
llmbed_status llmbed_config_validate(const llmbed_config *config, const char *source,
                                     llmbed_error *error);

/* Checks a present latent config against itself and the decoder it pools
 * (latent_dim == hidden_dim == hidden_size: the PreNorm LayerNorm(latent_dim)
 * runs over the decoder's hidden states), naming `source` and the field. */
llmbed_status llmbed_latent_config_validate(const llmbed_config *config, const char *source,
                                            llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
