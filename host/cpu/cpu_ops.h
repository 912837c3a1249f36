/* CPU reference ops (fp32). Each op lives in its own file, consumes the
 * params struct that the CUDA kernel of the same name consumes
 * (host/op_params.h), and parallelises with OpenMP over the calling thread's
 * team size (the backend sets it with omp_set_num_threads and restores it). */
#ifndef LLMBED_CPU_CPU_OPS_H
#define LLMBED_CPU_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "model/weight.h"
#include "op_params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head_dim the CPU backend accepts (HF models use 64..256). */
#define LLMBED_CPU_MAX_HEAD_DIM 1024

/* out[T, hidden] = table[tokens[t], :] * scale. Ids must be < vocab (validated by the engine). */
void llmbed_cpu_embedding(const llmbed_embedding_params *p, const int32_t *tokens,
                          const llmbed_weight *table, float *out);

/* out[n_rows, dim] = x / sqrt(mean(x^2) + eps) * weight; out may alias x. */
void llmbed_cpu_rmsnorm(const llmbed_rmsnorm_params *p, const float *x, const float *weight,
                        float *out);

/* residual[n_rows, dim] += x / sqrt(mean(x^2) + eps) * weight (Gemma's post-branch norms). */
void llmbed_cpu_rmsnorm_add(const llmbed_rmsnorm_params *p, const float *x, const float *weight, float *residual);

/* In place on x[T, row_stride] (heads packed from column 0 of each row). */
void llmbed_cpu_rope(const llmbed_rope_params *p, float *x);
/* The (cos, sin) pairs of one position: cos_sin[2 i] = cos(position * inv_freq[i]) * attention_scaling,
 * cos_sin[2 i + 1] the sine, the angle in double (what llmbed_cpu_rope applies; the CUDA
 * backend's RoPE table is built with it). */
void llmbed_cpu_rope_row(double position, const float *inv_freq, int half, float attention_scaling,
                         float *cos_sin);

/* Scratch floats the attention op needs when run with `n_threads` threads. */
size_t llmbed_cpu_attention_scratch_floats(const llmbed_attention_params *p, int n_threads);

/* out[T, n_heads * head_dim] = softmax(q k^T * scale [+ causal mask]) v per
 * sequence and head, with an online softmax over key blocks so no S x S
 * matrix exists. scratch holds llmbed_cpu_attention_scratch_floats(p,
 * omp_get_max_threads()) floats. Calls cblas_sgemm from inside its parallel
 * region: OpenBLAS must be set to one thread while it runs. */
void llmbed_cpu_attention(const llmbed_attention_params *p, const float *q, const float *k,
                          const float *v, float *out, float *scratch);

/* Key/value cache ops (SPEC §5), fp32 cache arrays of `view`:
 * append: rows of the packed post-RoPE k, v [T, n_kv_heads * D] into the cache;
 * think_select: a chunk's kept channels from its q [T, n_heads * D] and k;
 * compact: keys older than the recent window into the pruned store. */
void llmbed_cpu_cache_append(const llmbed_cache_append_params *p, const float *k, const float *v,
                             const llmbed_kv_cache_view *view);
void llmbed_cpu_think_select(const llmbed_think_select_params *p, const float *q, const float *k,
                             const llmbed_kv_cache_view *view);
void llmbed_cpu_cache_compact(const llmbed_cache_compact_params *p, const llmbed_kv_cache_view *view);

/* out[T, I] = act(gate) * up (silu or gelu_tanh, p->activation); out may alias gate or up. */
void llmbed_cpu_swiglu(const llmbed_swiglu_params *p, const float *gate, const float *up,
                       float *out);

/* out[n_seqs, hidden] pooled from hidden[T, hidden]. */
void llmbed_cpu_pooling(const llmbed_pooling_params *p, const float *hidden, float *out);

struct llmbed_dense_layer; /* host/model/st_dense.h */

/* out[n_rows, out_features] = act(in[n_rows, in_features] W^T + b): one
 * sentence-transformers Dense module on pooled rows (one cblas_sgemm). */
void llmbed_cpu_dense(const struct llmbed_dense_layer *layer, int n_rows, const float *in, float *out);

/* in[n_rows, in_dims] -> out: n_rows rows of p->precision (llmbed_postprocess_params);
 * scales[n_rows] receives int8 scales (1 otherwise; may be NULL except for
 * int8); scratch holds p->dims floats. out must not overlap in. */
void llmbed_cpu_postprocess(const llmbed_postprocess_params *p, const float *in, void *out, float *scales,
                            float *scratch);

/* Scratch floats of a projection GEMM over n_in inputs run by n_threads threads. */
size_t llmbed_cpu_gemm_scratch_floats(int n_in, int n_threads);

/* HF nn.Linear with W [n_out, n_in] row-major fp32 (gemm.c):
 *   accumulate = 0: y[T, n_out] = x[T, n_in] W^T * alpha (+ bias)
 *   accumulate = 1: y[T, n_out] += x[T, n_in] W^T * alpha (residual add; bias must be NULL)
 * ldy = row stride of y. Threads of the OpenMP team split the output columns;
 * scratch holds llmbed_cpu_gemm_scratch_floats(n_in, omp_get_max_threads()).
 * Each element is one sequential FMA chain over n_in: a row of y depends only
 * on its row of x (bit-identical in any batch, with any thread count). */
void llmbed_cpu_linear(int n_tokens, int n_in, int n_out, const float *x, const float *w,
                       const float *bias, float alpha, int accumulate, float *y, int ldy, float *scratch);

/* One projection of a fused GEMM: y[T, n_out] (row stride ldy) from W [n_out, n_in]
 * held in any representation (model/weight.h). */
typedef struct llmbed_cpu_projection {
    const llmbed_weight *w;
    const float *bias; /* [n_out] or NULL; only without accumulate */
    int n_out;
    float alpha;
    int accumulate;
    float *y;
    int ldy;
} llmbed_cpu_projection;

/* Several projections of the same x[T, n_in] (q/k/v, gate/up) as one GEMM
 * over their concatenated output columns, threads splitting the columns;
 * each projection's result equals llmbed_cpu_linear's bit for bit, and a
 * weight's result is the same whatever representation holds it. */
void llmbed_cpu_linear_fused(int n_tokens, int n_in, const float *x, int n_proj,
                             const llmbed_cpu_projection *proj, float *scratch);

/* out[n_rows, dim] = LayerNorm(x) * weight + bias (statistics in double); out may alias x. */
void llmbed_cpu_layernorm(const llmbed_layernorm_params *p, const float *x, const float *weight,
                          const float *bias, float *out);

/* In place: each row of x[n_rows, row_len] becomes its softmax. */
void llmbed_cpu_softmax_rows(const llmbed_softmax_params *p, float *x);

/* out[T, inner] = (y_a + b_a) * gelu_erf(y_g + b_g) from y[T, 2 * inner], bias [2 * inner]
 * (bias may be NULL). */
void llmbed_cpu_geglu(const llmbed_geglu_params *p, const float *y, const float *bias, float *out);

struct llmbed_latent_weights; /* host/model/model.h */

/* Scratch floats llmbed_cpu_latent_attention needs for these params when
 * run with n_threads threads. */
size_t llmbed_cpu_latent_attention_scratch_floats(const llmbed_latent_attention_params *p, int n_threads);

/* out[T, hidden] = NV-Embed's latent block applied to hidden[T, hidden]
 * (op_params.h); out must not alias hidden. */
void llmbed_cpu_latent_attention(const llmbed_latent_attention_params *p, const struct llmbed_latent_weights *w,
                                 const float *hidden, float *out, float *scratch);

#ifdef __cplusplus
}
#endif

#endif
