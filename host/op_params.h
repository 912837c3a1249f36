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
 * sequence length; other scaling types repeat the same row. The position of
 * token t of sequence s is position_offsets[s] + (t - seq_offsets[s]): a
 * sequence continuing a cached prefix (a later chunk) starts past it. */
typedef struct llmbed_rope_params {
    int n_seqs;
    const int32_t *seq_offsets; /* [n_seqs + 1] */
    int n_heads;                /* heads in the tensor being rotated (q or k) */
    int head_dim;
    int row_stride;             /* elements between consecutive tokens (n_heads * head_dim when packed) */
    const float *inv_freq;      /* [n_seqs, head_dim / 2] */
    float attention_scaling;
    const int32_t *position_offsets; /* [n_seqs], or NULL: every sequence starts at position 0 */
} llmbed_rope_params;

/* A key/value cache as the attention op reads it: one layer, every KV head,
 * in the backend's memory (fp32 on the CPU, bf16 on CUDA). It holds
 * positions [0, length) of one sequence (a long document's earlier chunks,
 * or a shared prefix). Keys of positions [0, n_pruned), older than ThinK's
 * recent window, are stored gathered to the `kept` channels their chunk
 * selected (SPEC §5); keys of [n_pruned, length) and every value keep all
 * head_dim channels. With ThinK off n_pruned stays 0. */
typedef struct llmbed_kv_cache_view {
    int length;
    int n_pruned;
    int kept;                     /* channels of a pruned key: D - floor(D * ratio) */
    int n_chunks;                 /* chunks whose channels were selected */
    int chunk_capacity;
    int32_t *chunk_starts;  /* [n_chunks + 1] first position of each chunk, then the end */
    int32_t *kept_channels; /* [n_kv_heads, chunk_capacity, kept] ascending channel indices */
    void *k_pruned;         /* [n_kv_heads, capacity, kept]: position p at row p */
    void *k_full;           /* [n_kv_heads, full_capacity, D]: position n_pruned + i at row i */
    void *v;                /* [n_kv_heads, capacity, D]: position p at row p */
    int capacity;
    int full_capacity;
} llmbed_kv_cache_view;

/* Varlen attention: q [T, n_heads * head_dim], k and v [T, n_kv_heads * head_dim],
 * out [T, n_heads * head_dim]. Query head h reads kv head h / (n_heads / n_kv_heads).
 * Token i of a sequence attends to tokens j <= i (causal) or to all tokens
 * of its own sequence (bidirectional). logits = q.k * scale.
 * With window > 0 (sliding-window layers), token i also needs
 * |pos(i) - pos(j)| < window (positions count cached tokens too): causal
 * 0 <= i - j < window is transformers' sliding_window_overlay; a
 * bidirectional Gemma 3 (use_bidirectional_attention) passes window =
 * sliding_window / 2 + 1, its config's exclusive bound, so |i - j| <=
 * sliding_window / 2 (modeling_gemma3.py _bidirectional_window_overlay).
 * With a cache, sequence s (causal only) continues the cached positions
 * [0, cache_lens[s]): its queries also attend to every one of them, through
 * the kept channels for pruned keys: logit = q[kept] . k[kept] * scale, the
 * scale of the full head dim (SPEC §5). */
typedef struct llmbed_attention_params {
    int n_seqs;
    const int32_t *seq_offsets; /* [n_seqs + 1] */
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int causal;
    float scale; /* 1/sqrt(head_dim), times a softmax temperature when one is set */
    const int32_t *cache_lens;          /* [n_seqs] cached positions each sequence continues, or NULL */
    const llmbed_kv_cache_view *cache;  /* host struct (its arrays in backend memory); with cache_lens */
    int window;                         /* 0: no window */
} llmbed_attention_params;

/* Writes rows [row_begin, row_end) of the packed post-RoPE k and v
 * [T, n_kv_heads * head_dim] into the cache at positions
 * [position, position + rows): keys into the full part (row position -
 * n_pruned), values at their position. */
typedef struct llmbed_cache_append_params {
    int n_kv_heads;
    int head_dim;
    int row_begin;
    int row_end;
    int position; /* the cache's length before the append */
    int n_pruned;
} llmbed_cache_append_params;

/* ThinK channel selection of one chunk (SPEC §5), per KV head g:
 *   score[c] = mean_{t, h} Q[t, h, c]^2 * mean_{s} K[s, c]^2
 * over the observation queries t (the chunk's last w rows) of the query
 * heads h of g's group and the chunk's keys s (rows [row_begin, row_end));
 * the `kept` best channels (ties: lower index first), ascending, go to
 * kept_channels[g, chunk, :]. q [T, n_heads * D], k [T, n_kv_heads * D]. */
typedef struct llmbed_think_select_params {
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int row_begin;
    int row_end;
    int n_observed; /* w = min(32, rows) */
    int kept;
    int chunk;
    int chunk_capacity;
} llmbed_think_select_params;

/* Moves the keys of positions [n_pruned, new_n_pruned) from the full part
 * into the pruned store (each gathered to its chunk's kept channels), then
 * shifts the full part so that position new_n_pruned is its row 0. */
typedef struct llmbed_cache_compact_params {
    int n_kv_heads;
    int head_dim;
    int length;
    int n_pruned;
    int new_n_pruned;
} llmbed_cache_compact_params;

/* The activation of a gated MLP's gate: silu (Llama, Qwen, Mistral) or
 * transformers' gelu_pytorch_tanh (Gemma):
 *   gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2 / pi) (g + 0.044715 g^3))). */
typedef enum llmbed_gate_activation {
    LLMBED_GATE_SILU = 0,
    LLMBED_GATE_GELU_TANH = 1
} llmbed_gate_activation;

/* out[t, i] = act(gate[t, i]) * up[t, i], with gate and up read from rows of
 * gate_up [T, 2 * intermediate] (gate first) or from separate buffers. */
typedef struct llmbed_swiglu_params {
    int n_tokens;
    int intermediate;
    llmbed_gate_activation activation;
} llmbed_swiglu_params;

typedef enum llmbed_pool_kind {
    LLMBED_POOL_LAST = 1,
    LLMBED_POOL_MEAN = 2,
    LLMBED_POOL_FIRST = 3,
    LLMBED_POOL_WEIGHTED_MEAN = 4,
    /* NV-Embed: the latent block over the hidden states, then the mean over
     * each range. The decoder loop runs the two ops; the pooling op never
     * sees this kind. */
    LLMBED_POOL_LATENT = 5
} llmbed_pool_kind;

/* Pooling over row ranges of the packed hidden states: output row r pools
 * rows [begin[r], end[r]): last = row end - 1; first = row begin; mean;
 * weighted mean with weight (k + 1) for the k-th pooled row (SGPT). An empty
 * range (begin >= end: every token masked) pools to zeros. A range is a
 * sequence's tokens minus its instruction prefix, a caller's pool span, or a
 * late-chunking span; several ranges may cover one sequence.
 * out [n_rows, hidden]. */
typedef struct llmbed_pooling_params {
    llmbed_pool_kind kind;
    int n_rows;
    const int32_t *begin; /* [n_rows] first pooled row */
    const int32_t *end;   /* [n_rows] one past the last pooled row */
    int hidden;
} llmbed_pooling_params;

/* Pooled rows -> the rows a caller stores: in [n_rows, in_dims] fp32 ->
 * the first `dims` values of each row (Matryoshka truncation), divided by
 * their L2 norm when `normalize` (sentence-transformers truncate_dim then
 * normalize_embeddings; the norm clamped below by 1e-12 as
 * torch.nn.functional.normalize, so a zero row stays zero), then stored as
 * `precision` (llmbed_precision: fp32, fp16 bits, int8 with a scale per row,
 * ubinary bytes; rules in host/io/row_encode.h). The norm's sum of squares
 * is in double in a fixed order that a warp reproduces: lane j (of 32) sums
 * the squares of columns j, j + 32, ... in order, then the 32 partial sums
 * are combined by a butterfly (offsets 16, 8, 4, 2, 1), so the CPU and CUDA
 * backends agree bit for bit. */
typedef struct llmbed_postprocess_params {
    int n_rows;
    int in_dims;
    int dims;
    int normalize;
    int precision;
} llmbed_postprocess_params;

/* ---- NV-Embed latent-attention pooling (modeling_nvembed.py LatentAttentionModel) ---- */

/* torch.nn.LayerNorm over rows: out = (x - mean) / sqrt(var + eps) * weight + bias,
 * var the biased variance. x [n_rows, dim]. */
typedef struct llmbed_layernorm_params {
    int n_rows;
    int dim;
    float eps;
} llmbed_layernorm_params;

/* Softmax over each row of `row_len` logits (the latents of one token and
 * head): logits [n_rows, row_len], n_rows = tokens * heads. */
typedef struct llmbed_softmax_params {
    int n_rows;
    int row_len;
} llmbed_softmax_params;

/* GEGLU of FeedForward (modeling_nvembed.py GEGLU): y = x W1^T + b1 with
 * y [T, 2 * inner] split in halves (a, gates) = y.chunk(2):
 * out[t, i] = a[t, i] * gelu_erf(gates[t, i]), gelu_erf(g) = g/2 (1 + erf(g / sqrt 2)).
 * The kernel adds the bias b1 [2 * inner] itself. */
typedef struct llmbed_geglu_params {
    int n_tokens;
    int inner;
} llmbed_geglu_params;

/* The whole latent block on hidden states H [T, hidden] -> H2 [T, hidden]
 * (then masked mean pooling, host/op_params.h llmbed_pooling_params):
 *   H1 = softmax(LN(H) q_logits^T, per head over the latents) v_out^T + H
 *   H2 = W2 GEGLU(W1 LN(H1) + b1) + b2 + H1
 * with q_logits / v_out the folded per-head matrices of host/model/model.h.
 * Tokens are processed `chunk_tokens` rows at a time (scratch bound). */
/* NV-Embed's latent block runs this many token rows per pass: its scratch
 * is sized for one pass whatever the sequence length. */
#define LATENT_ROWS_PER_PASS 128

typedef struct llmbed_latent_attention_params {
    int n_tokens;
    int hidden;
    int n_heads;
    int n_latents;
    int ff_inner;
    float eps;
    int chunk_tokens;
} llmbed_latent_attention_params;

#ifdef __cplusplus
}
#endif

#endif
