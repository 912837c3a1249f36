/* CPU reference backend: runs the decoder on one packed varlen batch with the
 * ops of this folder, then pools. All scratch is allocated once at creation
 * from the token budget, so forward() allocates nothing.
 *
 * Threads: every op runs on the OpenMP team of the calling thread, whose size
 * forward() sets with omp_set_num_threads (a per-thread setting) and restores
 * on return. GEMMs are split across that team with one single-threaded
 * cblas_sgemm per thread (gemm.c says why), so forward() sets OpenBLAS to one
 * thread; that setting is process-wide (openblas_set_num_threads), and the
 * previous value is restored on return. */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/error.h"
#include "cpu/cpu_ops.h"

typedef struct cpu_backend {
    llmbed_backend base;
    int n_threads;
    /* Activations, [max_tokens, ...] each, carved from `storage`:
     * x: residual stream; xn: normed input of a sublayer (and the final norm);
     * a: q, then the MLP gate; b: attention output, then the MLP up; k, v. */
    float *x, *xn, *a, *b, *k, *v;
    float *inv_freq;       /* [max_tokens (sequences), head_dim / 2] */
    float *attn_scratch;   /* llmbed_cpu_attention_scratch_floats(n_threads) */
    float *storage;
} cpu_backend;

static int max_int(int a, int b) { return a > b ? a : b; }

static void cpu_destroy(llmbed_backend *backend) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (cpu == NULL) return;
    free(cpu->storage);
    free(cpu);
}

/* One decoder layer on x[T, hidden] (HF LlamaDecoderLayer / Qwen3DecoderLayer /
 * MiniCPMDecoderLayer):
 *   x = x + residual_scale * o_proj(attn(rope(qk_norm(q, k)), v))   with q, k, v from rmsnorm(x)
 *   x = x + residual_scale * down_proj(silu(gate_proj(h)) * up_proj(h)),  h = rmsnorm(x) */
static void run_layer(cpu_backend *cpu, const llmbed_layer_weights *w,
                      const llmbed_forward_request *req, const llmbed_attention_params *attn,
                      const llmbed_rope_params *rope_q, const llmbed_rope_params *rope_k) {
    const llmbed_config *cfg = &cpu->base.model->config;
    const int T = req->n_tokens, C = cfg->hidden_size, D = cfg->head_dim;
    const int q_dim = cfg->n_heads * D, kv_dim = cfg->n_kv_heads * D, inter = cfg->intermediate_size;
    const float rs = cfg->residual_scale;

    const llmbed_rmsnorm_params norm = {T, C, cfg->rms_norm_eps};
    llmbed_cpu_rmsnorm(&norm, cpu->x, w->attn_norm, cpu->xn);
    const llmbed_cpu_projection qkv[3] = {{w->wq, w->bq, q_dim, 1.0f, 0, cpu->a, q_dim},
                                          {w->wk, w->bk, kv_dim, 1.0f, 0, cpu->k, kv_dim},
                                          {w->wv, w->bv, kv_dim, 1.0f, 0, cpu->v, kv_dim}};
    llmbed_cpu_linear_fused(T, C, cpu->xn, 3, qkv);
    if (cfg->qk_norm) { /* Qwen3: per-head RMSNorm over head_dim, before RoPE */
        const llmbed_rmsnorm_params qn = {T * cfg->n_heads, D, cfg->rms_norm_eps};
        const llmbed_rmsnorm_params kn = {T * cfg->n_kv_heads, D, cfg->rms_norm_eps};
        llmbed_cpu_rmsnorm(&qn, cpu->a, w->q_norm, cpu->a);
        llmbed_cpu_rmsnorm(&kn, cpu->k, w->k_norm, cpu->k);
    }
    llmbed_cpu_rope(rope_q, cpu->a);
    llmbed_cpu_rope(rope_k, cpu->k);
    llmbed_cpu_attention(attn, cpu->a, cpu->k, cpu->v, cpu->b, cpu->attn_scratch);
    llmbed_cpu_linear(T, q_dim, C, cpu->b, w->wo, NULL, rs, 1, cpu->x, C);

    const llmbed_rmsnorm_params ffn_norm = {T, C, cfg->rms_norm_eps};
    llmbed_cpu_rmsnorm(&ffn_norm, cpu->x, w->ffn_norm, cpu->xn);
    const llmbed_cpu_projection gate_up[2] = {{w->w_gate, NULL, inter, 1.0f, 0, cpu->a, inter},
                                              {w->w_up, NULL, inter, 1.0f, 0, cpu->b, inter}};
    llmbed_cpu_linear_fused(T, C, cpu->xn, 2, gate_up);
    const llmbed_swiglu_params mlp = {T, inter};
    llmbed_cpu_swiglu(&mlp, cpu->a, cpu->b, cpu->a);
    llmbed_cpu_linear(T, inter, C, cpu->a, w->w_down, NULL, rs, 1, cpu->x, C);
}

static llmbed_status run_forward(cpu_backend *cpu, const llmbed_forward_request *req, float *out,
                                 llmbed_error *error) {
    const llmbed_model *model = cpu->base.model;
    const llmbed_config *cfg = &model->config;
    const int T = req->n_tokens, C = cfg->hidden_size, D = cfg->head_dim;

    float attention_scaling = 1.0f;
    for (int s = 0; s < req->n_seqs; s++) {
        const int len = req->seq_offsets[s + 1] - req->seq_offsets[s];
        llmbed_status st = llmbed_cpu_rope_frequencies(cfg, len, cpu->inv_freq + (size_t)s * (D / 2),
                                                       &attention_scaling, error);
        if (st != LLMBED_OK) return st;
    }
    const llmbed_rope_params rope_q = {req->n_seqs, req->seq_offsets, cfg->n_heads, D,
                                       cfg->n_heads * D, cpu->inv_freq, attention_scaling};
    const llmbed_rope_params rope_k = {req->n_seqs, req->seq_offsets, cfg->n_kv_heads, D,
                                       cfg->n_kv_heads * D, cpu->inv_freq, attention_scaling};
    const llmbed_attention_params attn = {req->n_seqs, req->seq_offsets, cfg->n_heads,
                                          cfg->n_kv_heads, D, req->causal,
                                          (float)(1.0 / sqrt((double)D))};

    const llmbed_embedding_params emb = {T, C, cfg->vocab_size, cfg->scale_emb};
    llmbed_cpu_embedding(&emb, req->tokens, model->weights.token_embedding, cpu->x);
    for (int l = 0; l < req->n_layers; l++)
        run_layer(cpu, &model->weights.layers[l], req, &attn, &rope_q, &rope_k);

    const llmbed_rmsnorm_params final_norm = {T, C, cfg->rms_norm_eps};
    if (req->pool_kind == 0) {
        llmbed_cpu_rmsnorm(&final_norm, cpu->x, model->weights.final_norm, out);
        return LLMBED_OK;
    }
    llmbed_cpu_rmsnorm(&final_norm, cpu->x, model->weights.final_norm, cpu->xn);
    const llmbed_pooling_params pool = {(llmbed_pool_kind)req->pool_kind, req->n_seqs,
                                        req->seq_offsets, req->instruction_lens, C};
    llmbed_cpu_pooling(&pool, cpu->xn, out);
    return LLMBED_OK;
}

static llmbed_status cpu_forward(llmbed_backend *backend, const llmbed_forward_request *req,
                                 float *out, llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    const llmbed_config *cfg = &backend->model->config;
    if (req->n_tokens < 1 || req->n_tokens > backend->max_tokens || req->n_seqs < 1 ||
        req->seq_offsets[req->n_seqs] != req->n_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "cpu backend: request of %d tokens in %d sequences (budget %lld)",
                           req->n_tokens, req->n_seqs, (long long)backend->max_tokens);
    if (req->n_layers < 0 || req->n_layers > cfg->n_layers)
        return llmbed_fail(error, LLMBED_ERR_LAYER_OUT_OF_RANGE,
                           "cpu backend: n_layers %d outside [0, %d]", req->n_layers, cfg->n_layers);
    if (req->pool_kind < 0 || req->pool_kind > LLMBED_POOL_WEIGHTED_MEAN)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cpu backend: pool_kind %d",
                           req->pool_kind);

    const int saved_omp = omp_get_max_threads();
    const int saved_blas = openblas_get_num_threads();
    omp_set_num_threads(cpu->n_threads);
    openblas_set_num_threads(1);
    llmbed_status st = run_forward(cpu, req, out, error);
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
    return st;
}

static const llmbed_backend_ops cpu_ops = {"cpu", cpu_forward, cpu_destroy};

/* Every tensor the forward reads must be there: a vocab-only model has none. */
static llmbed_status check_weights(const llmbed_model *model, llmbed_error *error) {
    const llmbed_config *cfg = &model->config;
    if (model->weights.token_embedding == NULL || model->weights.final_norm == NULL ||
        (cfg->n_layers > 0 && model->weights.layers == NULL))
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR,
                           "%s: the model has no weights (loaded vocab_only?)", model->path ? model->path : "model");
    for (int l = 0; l < cfg->n_layers; l++) {
        const llmbed_layer_weights *w = &model->weights.layers[l];
        const struct {
            const char *name;
            const float *data;
            bool needed;
        } tensors[] = {
            {"attn_norm", w->attn_norm, true}, {"q_proj", w->wq, true},        {"k_proj", w->wk, true},
            {"v_proj", w->wv, true},           {"o_proj", w->wo, true},        {"q_proj.bias", w->bq, cfg->qkv_bias},
            {"k_proj.bias", w->bk, cfg->qkv_bias}, {"v_proj.bias", w->bv, cfg->qkv_bias},
            {"q_norm", w->q_norm, cfg->qk_norm}, {"k_norm", w->k_norm, cfg->qk_norm},
            {"ffn_norm", w->ffn_norm, true},   {"gate_proj", w->w_gate, true}, {"up_proj", w->w_up, true},
            {"down_proj", w->w_down, true},
        };
        for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
            if (tensors[i].needed && tensors[i].data == NULL)
                return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: layer %d has no %s weights",
                                   model->path ? model->path : "model", l, tensors[i].name);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_cpu_backend_create(const struct llmbed_model *model, int n_threads,
                                        int64_t max_tokens, llmbed_backend **out,
                                        llmbed_error *error) {
    if (out == NULL || model == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "cpu backend: model and out are required");
    *out = NULL;
    if (n_threads < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "n_threads: %d is negative", n_threads);
    if (max_tokens < 1 || max_tokens > INT32_MAX)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch_tokens: %lld outside [1, %d]",
                           (long long)max_tokens, INT32_MAX);
    const llmbed_config *cfg = &model->config;
    if (cfg->head_dim < 2 || cfg->head_dim > LLMBED_CPU_MAX_HEAD_DIM || cfg->head_dim % 2 != 0)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "head_dim: %d is not an even size in [2, %d]",
                           cfg->head_dim, LLMBED_CPU_MAX_HEAD_DIM);
    llmbed_status st = check_weights(model, error);
    if (st != LLMBED_OK) return st;
    const int threads = n_threads > 0 ? n_threads : omp_get_num_procs();

    const size_t T = (size_t)max_tokens, C = (size_t)cfg->hidden_size;
    const size_t wide = (size_t)max_int(cfg->n_heads * cfg->head_dim, cfg->intermediate_size);
    const size_t kv = (size_t)cfg->n_kv_heads * cfg->head_dim;
    const llmbed_attention_params attn_shape = {0, NULL, cfg->n_heads, cfg->n_kv_heads,
                                                cfg->head_dim, 1, 1.0f};
    const size_t attn_floats = llmbed_cpu_attention_scratch_floats(&attn_shape, threads);
    const size_t per_token = 2 * C + 2 * wide + 2 * kv + (size_t)cfg->head_dim / 2;
    if (per_token > (SIZE_MAX / sizeof(float) - attn_floats) / T)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "batch_tokens: %lld tokens overflow the scratch size",
                           (long long)max_tokens);
    const size_t total = per_token * T + attn_floats;

    cpu_backend *cpu = calloc(1, sizeof *cpu);
    float *storage = malloc(total * sizeof(float));
    if (cpu == NULL || storage == NULL) {
        free(cpu);
        free(storage);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "cpu backend: cannot allocate %zu MiB of scratch for %lld tokens",
                           total * sizeof(float) >> 20, (long long)max_tokens);
    }
    cpu->base.ops = &cpu_ops;
    cpu->base.model = model;
    cpu->base.max_tokens = max_tokens;
    cpu->n_threads = threads;
    cpu->storage = storage;
    float *p = storage;
    cpu->x = p, p += T * C;
    cpu->xn = p, p += T * C;
    cpu->a = p, p += T * wide;
    cpu->b = p, p += T * wide;
    cpu->k = p, p += T * kv;
    cpu->v = p, p += T * kv;
    cpu->inv_freq = p, p += T * (size_t)(cfg->head_dim / 2);
    cpu->attn_scratch = p;
    *out = &cpu->base;
    return LLMBED_OK;
}
