/* The backend op table. The order of operations of a decoder (embedding,
 * layers, final norm, pooling; later chunks and caches) is written once, in
 * host/decoder/; the CPU reference (host/cpu/) and the CUDA backend
 * (host/cuda/) each supply the ops below and nothing else. Every op's
 * arithmetic is defined by the shared parameter structs of op_params.h.
 *
 * Activations live in backend memory (host memory for the CPU, device memory
 * for CUDA) in buffers the loop names by llmbed_act; the backend chooses
 * their dtype (CUDA keeps the residual stream fp32 and the rest bf16). Index
 * arrays the params structs point at (sequence offsets, RoPE frequencies,
 * pool ranges) are handed over once per forward with begin_forward, which
 * returns the backend-addressable copies the loop then puts into the params.
 * Ops are called only between begin_forward and end_forward, except
 * postprocess of host rows (the chunked loop's folded pools). */
#ifndef LLMBED_BACKEND_H
#define LLMBED_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "model/model.h"
#include "op_params.h"

/* Activation buffers, each [capacity tokens, width]. */
typedef enum llmbed_act {
    LLMBED_ACT_X = 0, /* residual stream [T, hidden], fp32 on every backend */
    LLMBED_ACT_XN,    /* normed sublayer input [T, hidden] */
    LLMBED_ACT_QKV,   /* q [T, n_heads * D], k and v [T, n_kv_heads * D] (layout: the backend's) */
    LLMBED_ACT_ATTN,  /* attention output [T, n_heads * D] */
    LLMBED_ACT_MLP,   /* gate and up projections, then SwiGLU's output [T, intermediate] */
    LLMBED_ACT_HIDDEN /* final-norm hidden states [T, hidden], fp32 */
} llmbed_act;

/* Weights of one layer an op reads (the backend maps them to its copies). */
typedef enum llmbed_weight_kind {
    LLMBED_W_ATTN_NORM = 0, /* rmsnorm weight before attention */
    LLMBED_W_FFN_NORM,      /* rmsnorm weight before the MLP */
    LLMBED_W_FINAL_NORM,    /* the model's final norm (layer ignored) */
    LLMBED_W_QKV,           /* q, k, v projections (+ qwen2 biases): XN -> QKV */
    LLMBED_W_O,             /* o_proj: ATTN -> X (residual add) */
    LLMBED_W_GATE_UP,       /* gate and up projections: XN -> MLP */
    LLMBED_W_DOWN           /* down_proj: MLP -> X (residual add) */
} llmbed_weight_kind;

/* A projection with the weights of `layer`: the input and output activations
 * follow from the weight (see llmbed_weight_kind). O and DOWN add
 * residual_scale * (in W^T) to the residual stream X (MiniCPM's
 * scale_depth / sqrt(layers); 1 elsewhere); QKV and GATE_UP overwrite. */
typedef struct llmbed_linear_op {
    int n_tokens;
    int layer;
    llmbed_weight_kind weight;
    float residual_scale;
} llmbed_linear_op;

/* Small per-forward inputs, host arrays on the way in; begin_forward returns
 * the same struct pointing at the backend's copies. */
typedef struct llmbed_forward_inputs {
    int n_tokens;
    int n_seqs;
    int n_pools;                     /* pooled output rows (0: hidden states wanted) */
    const int32_t *tokens;           /* [n_tokens] */
    const int32_t *seq_offsets;      /* [n_seqs + 1] */
    const int32_t *position_offsets; /* [n_seqs]: position of each sequence's first token */
    const float *inv_freq;           /* [n_seqs, head_dim / 2] RoPE inverse frequencies */
    float attention_scaling;         /* RoPE's cos/sin multiplier (YaRN; 1 otherwise) */
    const int32_t *pool_begin;       /* [n_pools] first pooled row (packed token index) */
    const int32_t *pool_end;         /* [n_pools] one past the last pooled row */
} llmbed_forward_inputs;

/* Storage of the key/value cache of one sequence (every layer): capacity
 * positions of values and pruned keys, full_capacity rows of full keys
 * (all positions without ThinK; the recent window and the current chunk with
 * it), kept channels per pruned key, and chunk_capacity chunk selections. */
typedef struct llmbed_cache_shape {
    int capacity;
    int full_capacity;
    int kept;
    int chunk_capacity;
} llmbed_cache_shape;

/* The cache's bookkeeping, kept by the decoder loop on the host and the
 * same for every layer: positions [0, length), of which [0, n_pruned) are
 * pruned, and the chunks [chunk_starts[j], chunk_starts[j + 1]) whose
 * channels were selected. */
typedef struct llmbed_cache_state {
    int length;
    int n_pruned;
    int n_chunks;
    const int32_t *chunk_starts; /* host, [n_chunks + 1] */
} llmbed_cache_state;

typedef struct llmbed_backend llmbed_backend;

typedef struct llmbed_backend_ops {
    const char *name; /* "cpu", "cuda" */
    /* Grows the activation buffers to hold `max_tokens` tokens (never
     * shrinks; weights are untouched). On failure the previous buffers and
     * capacity stay, so the backend remains usable at its old size. */
    llmbed_status (*reserve)(llmbed_backend *backend, int64_t max_tokens, llmbed_error *error);
    /* Bytes reserve(max_tokens) holds (activations and staging; SIZE_MAX on overflow). */
    size_t (*activation_bytes)(const llmbed_backend *backend, int64_t max_tokens);
    /* Starts a forward: copies the inputs to backend memory (*view receives
     * pointers to the copies) and claims the backend's threads or device.
     * Every begin_forward that succeeds is paired with one end_forward. */
    llmbed_status (*begin_forward)(llmbed_backend *backend, const llmbed_forward_inputs *host,
                                   llmbed_forward_inputs *view, llmbed_error *error);
    void (*end_forward)(llmbed_backend *backend);
    /* tokens -> X */
    llmbed_status (*embedding)(llmbed_backend *backend, const llmbed_embedding_params *p,
                               const int32_t *tokens, llmbed_error *error);
    /* out = rmsnorm(in) * weight (in X; out XN or HIDDEN). */
    llmbed_status (*rmsnorm)(llmbed_backend *backend, const llmbed_rmsnorm_params *p, int layer,
                             llmbed_weight_kind weight, llmbed_act out, llmbed_error *error);
    llmbed_status (*linear)(llmbed_backend *backend, const llmbed_linear_op *op, llmbed_error *error);
    /* In place on q and k of QKV: Qwen3's per-head RMSNorm over head_dim when
     * q_norm/k_norm are given (rows = tokens * heads), then RoPE. */
    llmbed_status (*qk_rope)(llmbed_backend *backend, int layer, const llmbed_rmsnorm_params *q_norm,
                             const llmbed_rmsnorm_params *k_norm, const llmbed_rope_params *q,
                             const llmbed_rope_params *k, llmbed_error *error);
    /* QKV -> ATTN */
    llmbed_status (*attention)(llmbed_backend *backend, int layer, const llmbed_attention_params *p,
                               llmbed_error *error);
    /* MLP (gate, up) -> MLP (silu(gate) * up) */
    llmbed_status (*swiglu)(llmbed_backend *backend, const llmbed_swiglu_params *p, llmbed_error *error);
    /* HIDDEN = NV-Embed's latent block applied to HIDDEN (token by token;
     * host/cpu/latent_attention.c), for models with latent weights. */
    llmbed_status (*latent)(llmbed_backend *backend, const llmbed_latent_attention_params *p, llmbed_error *error);
    /* HIDDEN -> the backend's pooled rows [p->n_rows, hidden] (backend memory). */
    llmbed_status (*pool)(llmbed_backend *backend, const llmbed_pooling_params *p, llmbed_error *error);
    /* Pooled rows -> out in host memory as a caller stores them (truncation,
     * L2, element type: llmbed_postprocess_params; scales[n_rows] for int8,
     * may be NULL otherwise). The rows are those of the last pool, or
     * host_rows [n_rows, in_dims] when not NULL (the chunked loop's folded
     * pools). Both backends produce the same bits. The forward's one wait for
     * the device where the host needs rows. */
    llmbed_status (*postprocess)(llmbed_backend *backend, const llmbed_postprocess_params *p, const float *host_rows,
                                 void *out, float *scales, llmbed_error *error);
    /* Rows [0, n_rows) of HIDDEN -> out[n_rows, hidden] in host memory, fp32. */
    llmbed_status (*read_hidden)(llmbed_backend *backend, int n_rows, float *out, llmbed_error *error);

    /* The key/value cache (chunked prefill, shared prefixes). cache_reserve
     * makes room for `shape` (grow-only; contents are not kept, so it is
     * called before a sequence starts); on failure the old storage stays. */
    llmbed_status (*cache_reserve)(llmbed_backend *backend, const llmbed_cache_shape *shape, llmbed_error *error);
    /* Bytes cache_reserve(shape) holds (SIZE_MAX on overflow). */
    size_t (*cache_bytes)(const llmbed_backend *backend, const llmbed_cache_shape *shape);
    /* Copies the chunk boundaries of `state` to backend memory (once per chunk, before its layers). */
    llmbed_status (*cache_set_chunks)(llmbed_backend *backend, const llmbed_cache_state *state,
                                      llmbed_error *error);
    /* The view of `layer`'s cache under `state`, for attention params and the cache ops. */
    void (*cache_view)(llmbed_backend *backend, int layer, const llmbed_cache_state *state,
                       llmbed_kv_cache_view *view);
    /* QKV's k, v rows -> the cache (SPEC §5 storage). */
    llmbed_status (*cache_append)(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                  const llmbed_cache_append_params *p, llmbed_error *error);
    /* ThinK channel selection of a chunk from QKV's q and k. */
    llmbed_status (*think_select)(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                  const llmbed_think_select_params *p, llmbed_error *error);
    /* Keys older than the recent window -> the pruned store. */
    llmbed_status (*cache_compact)(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                   const llmbed_cache_compact_params *p, llmbed_error *error);
    void (*destroy)(llmbed_backend *backend);
} llmbed_backend_ops;

/* Every backend struct starts with this header so the loop can call through it. */
struct llmbed_backend {
    const llmbed_backend_ops *ops;
    const struct llmbed_model *model;
    int64_t max_tokens; /* current activation capacity in tokens */
};

/* Constructors (each in its backend's folder), with activation buffers for
 * max_tokens tokens. The CUDA one returns LLMBED_ERR_NO_DEVICE when no
 * GPU/driver is present and LLMBED_ERR_UNSUPPORTED when built without CUDA. */
llmbed_status llmbed_cpu_backend_create(const struct llmbed_model *model, int n_threads,
                                        int64_t max_tokens, llmbed_backend **out,
                                        llmbed_error *error);
llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                         int64_t max_tokens, llmbed_backend **out,
                                         llmbed_error *error);
/* GPUs the CUDA runtime sees (data parallel over "cuda:all"): NO_DEVICE
 * naming "cuda:all" when there is none or no driver, UNSUPPORTED in a build
 * without CUDA. */
llmbed_status llmbed_cuda_device_count(int *count, llmbed_error *error);

#endif
