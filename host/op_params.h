/* Parameter structs shared by the CPU reference ops (host/cpu/) and the CUDA
 * kernels (kernels/). Each op's constants (epsilon, scales, strides) are
 * defined once here so the two backends cannot drift apart.
 *
 * Activations are packed varlen: T = total tokens of the batch, sequence s
 * owns rows [seq_offsets[s], seq_offsets[s+1]). Matrices are row-major.
 * Plain C so it compiles as C11, C++ and CUDA. */
#ifndef LLMBED_OP_PARAMS_H
#define LLMBED_OP_PARAMS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight[:]
 * Qwen3 q/k norm is the same op with n_rows = T * heads, dim = head_dim. */
typedef struct llmbed_rmsnorm_params {
    int n_rows;
    int dim;
    float eps;
} llmbed_rmsnorm_params;

/* Token embedding gather: out[t, :] = table[tokens[t], :] * scale (MiniCPM scale_emb). */
typedef struct llmbed_embedding_params {
    int n_tokens;
    int hidden;
    int vocab;
    float scale;
} llmbed_embedding_params;

/* RoPE, HF rotate_half ("neox") layout: for i < head_dim/2, the pair is
 * (x[i], x[i + head_dim/2]).
 * angle = position * inv_freq[seq][i]; cos/sin are multiplied by
 * attention_scaling (YaRN mscale; 1 otherwise). inv_freq holds one row of
 * head_dim/2 per sequence because dynamic NTK scaling depends on the
 * sequence length; other scaling types repeat the same row. */
typedef struct llmbed_rope_params {
    int n_seqs;
    const int32_t *seq_offsets; /* [n_seqs + 1] */
    int n_heads;                /* heads in the tensor being rotated (q or k) */
    int head_dim;
    int row_stride;             /* floats between consecutive tokens (n_heads * head_dim when packed) */
    const float *inv_freq;      /* [n_seqs, head_dim / 2] */
    float attention_scaling;
} llmbed_rope_params;

/* Varlen attention: q [T, n_heads * head_dim], k and v [T, n_kv_heads * head_dim],
 * out [T, n_heads * head_dim]. Query head h reads kv head h / (n_heads / n_kv_heads).
 * Token i of a sequence attends to tokens j <= i (causal) or to all tokens
 * of its own sequence (bidirectional). logits = q.k * scale. */
typedef struct llmbed_attention_params {
    int n_seqs;
    const int32_t *seq_offsets; /* [n_seqs + 1] */
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int causal;
    float scale; /* 1/sqrt(head_dim), times a softmax temperature when one is set */
} llmbed_attention_params;

/* out[t, i] = silu(gate[t, i]) * up[t, i], with gate and up read from rows of
 * gate_up [T, 2 * intermediate] (gate first) or from separate buffers. */
typedef struct llmbed_swiglu_params {
    int n_tokens;
    int intermediate;
} llmbed_swiglu_params;

typedef enum llmbed_pool_kind {
    LLMBED_POOL_LAST = 1,
    LLMBED_POOL_MEAN = 2,
    LLMBED_POOL_FIRST = 3,
    LLMBED_POOL_WEIGHTED_MEAN = 4
} llmbed_pool_kind;

/* Pooling over each sequence's tokens [offset + instruction_len, end):
 * last = final token; first = first pooled token; mean; weighted mean with
 * weight (k + 1) for the k-th pooled token (SGPT). A sequence whose tokens are
 * all masked pools to zeros. out [n_seqs, hidden]. */
typedef struct llmbed_pooling_params {
    llmbed_pool_kind kind;
    int n_seqs;
    const int32_t *seq_offsets;      /* [n_seqs + 1] */
    const int32_t *instruction_lens; /* [n_seqs] or NULL */
    int hidden;
} llmbed_pooling_params;

/* Matryoshka truncation to `dims` then optional L2 normalisation:
 * in [n_rows, in_dims] -> out [n_rows, dims]. Zero rows stay zero. */
typedef struct llmbed_postprocess_params {
    int n_rows;
    int in_dims;
    int dims;
    int normalize;
} llmbed_postprocess_params;

#ifdef __cplusplus
}
#endif

#endif
