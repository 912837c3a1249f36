/* CPU reference backend: the ops of host/backend.h on fp32 host buffers,
 * each a call into this folder's reference ops. The decoder loop
 * (host/decoder/) orders them. Activation buffers are sized from the token
 * capacity; reserve() grows them, so no op allocates.
 *
 * Threads: every op runs on the OpenMP team of the calling thread, whose size
 * begin_forward sets with omp_set_num_threads (a per-thread setting) and
 * end_forward restores. Projections split their output columns across that
 * team (gemm.c); attention tiles are single-threaded cblas_sgemm calls from
 * the team's threads, so begin_forward sets OpenBLAS to one thread: with its
 * own pthread pool threading the GEMMs, the OpenMP workers spun against it
 * (15% of a 2-core forward in libgomp's spin-wait). That setting is
 * process-wide (openblas_set_num_threads); end_forward restores it. */
#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/error.h"
#include "cpu/cpu_ops.h"

typedef struct cpu_backend {
    llmbed_backend base;
    int n_threads;
    int saved_omp_threads, saved_blas_threads; /* restored by end_forward */
    /* Activations, [max_tokens, ...] each, carved from `storage`:
     * x: residual stream; xn: normed sublayer input, then the final-norm hidden
     * states; a: q, then the MLP gate (and SwiGLU's output); b: attention
     * output, then the MLP up; k, v. */
    float *x, *xn, *a, *b, *k, *v;
    float *attn_scratch; /* llmbed_cpu_attention_scratch_floats(n_threads) */
    float *gemm_scratch; /* llmbed_cpu_gemm_scratch_floats(widest projection input, n_threads) */
    float *latent_out, *latent_scratch; /* NV-Embed's latent block (NULL without one) */
    float *storage;
    /* Key/value cache of one sequence: per layer k_pruned, k_full and v
     * (cache_floats) and the kept channels (cache_ints); chunk boundaries
     * shared by every layer. */
    llmbed_cache_shape cache_shape;
    float *cache_storage;
    int32_t *cache_channels;
    int32_t *chunk_starts;
} cpu_backend;

static int max_int(int a, int b) { return a > b ? a : b; }

/* Widths (floats per token) of the activation buffers. */
typedef struct activation_widths {
    size_t hidden, wide, kv;
} activation_widths;

static activation_widths widths_of(const llmbed_config *cfg) {
    const activation_widths w = {(size_t)cfg->hidden_size,
                                 (size_t)max_int(cfg->n_heads * cfg->head_dim, cfg->intermediate_size),
                                 (size_t)cfg->n_kv_heads * cfg->head_dim};
    return w;
}

/* Scratch floats of the latent block (fixed: it runs LATENT_ROWS_PER_PASS rows
 * at a time, the chunk the decoder passes); 0 without one. */
static size_t latent_scratch_floats(const llmbed_model *model, int n_threads) {
    if (model->weights.latent.q_logits == NULL) return 0;
    const llmbed_latent_config *l = &model->config.latent;
    /* n_tokens = the chunk: the scratch must hold a full chunk of rows */
    const llmbed_latent_attention_params p = {LATENT_ROWS_PER_PASS, model->config.hidden_size, l->n_heads,
                                              l->n_latents, l->ff_inner, l->eps, LATENT_ROWS_PER_PASS};
    return llmbed_cpu_latent_attention_scratch_floats(&p, n_threads);
}

/* Floats of activation storage for `max_tokens` tokens: x, xn, a, b, k, v,
 * the latent block's output when the model has one, then the attention and
 * latent scratch; 0 when that overflows. */
static size_t attention_scratch_floats(const cpu_backend *cpu) {
    const llmbed_config *cfg = &cpu->base.model->config;
    const llmbed_attention_params attn_shape = {0, NULL, cfg->n_heads, cfg->n_kv_heads, cfg->head_dim, 1, 1.0f,
                                                NULL, NULL, 0};
    return llmbed_cpu_attention_scratch_floats(&attn_shape, cpu->n_threads);
}

/* The projections' inputs are hidden (q/k/v, gate/up), n_heads * head_dim (o)
 * and intermediate (down) wide. */
static size_t gemm_scratch_floats(const cpu_backend *cpu) {
    const llmbed_config *cfg = &cpu->base.model->config;
    return llmbed_cpu_gemm_scratch_floats(max_int(cfg->hidden_size, max_int(cfg->n_heads * cfg->head_dim,
                                                                            cfg->intermediate_size)),
                                          cpu->n_threads);
}

static size_t storage_floats(const cpu_backend *cpu, int64_t max_tokens) {
    const llmbed_model *model = cpu->base.model;
    const activation_widths w = widths_of(&model->config);
    const size_t fixed =
        attention_scratch_floats(cpu) + gemm_scratch_floats(cpu) + latent_scratch_floats(model, cpu->n_threads);
    const size_t per_token = 2 * w.hidden + 2 * w.wide + 2 * w.kv +
                             (model->weights.latent.q_logits != NULL ? w.hidden : 0),
                 T = (size_t)max_tokens;
    if (per_token > (SIZE_MAX / sizeof(float) - fixed) / T) return 0;
    return per_token * T + fixed;
}

static size_t cpu_activation_bytes(const llmbed_backend *backend, int64_t max_tokens) {
    const size_t floats = storage_floats((const cpu_backend *)backend, max_tokens);
    return floats == 0 ? SIZE_MAX : floats * sizeof(float);
}

static llmbed_status cpu_reserve(llmbed_backend *backend, int64_t max_tokens, llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (max_tokens <= backend->max_tokens) return LLMBED_OK;
    if (max_tokens > INT32_MAX)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch_tokens: %lld outside [1, %d]",
                           (long long)max_tokens, INT32_MAX);
    const size_t total = storage_floats(cpu, max_tokens);
    float *storage = total > 0 ? malloc(total * sizeof(float)) : NULL;
    if (storage == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "cpu backend: cannot allocate %zu MiB of activations for %lld tokens",
                           total * sizeof(float) >> 20, (long long)max_tokens);
    free(cpu->storage);
    cpu->storage = storage;
    const activation_widths w = widths_of(&backend->model->config);
    const size_t T = (size_t)max_tokens;
    float *p = storage;
    cpu->x = p, p += T * w.hidden;
    cpu->xn = p, p += T * w.hidden;
    cpu->a = p, p += T * w.wide;
    cpu->b = p, p += T * w.wide;
    cpu->k = p, p += T * w.kv;
    cpu->v = p, p += T * w.kv;
    const int latent = backend->model->weights.latent.q_logits != NULL;
    cpu->latent_out = latent ? p : NULL, p += latent ? T * w.hidden : 0;
    cpu->attn_scratch = p;
    cpu->gemm_scratch = p + attention_scratch_floats(cpu);
    cpu->latent_scratch = latent ? cpu->gemm_scratch + gemm_scratch_floats(cpu) : NULL;
    backend->max_tokens = max_tokens;
    return LLMBED_OK;
}

static llmbed_status cpu_begin_forward(llmbed_backend *backend, const llmbed_forward_inputs *host,
                                       llmbed_forward_inputs *view, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    *view = *host; /* host memory is the CPU's memory */
    cpu->saved_omp_threads = omp_get_max_threads();
    cpu->saved_blas_threads = openblas_get_num_threads();
    omp_set_num_threads(cpu->n_threads);
    openblas_set_num_threads(1);
    return LLMBED_OK;
}

static void cpu_end_forward(llmbed_backend *backend) {
    cpu_backend *cpu = (cpu_backend *)backend;
    openblas_set_num_threads(cpu->saved_blas_threads);
    omp_set_num_threads(cpu->saved_omp_threads);
}

static llmbed_status cpu_embedding(llmbed_backend *backend, const llmbed_embedding_params *p,
                                   const int32_t *tokens, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    llmbed_cpu_embedding(p, tokens, &backend->model->weights.token_embedding, cpu->x);
    return LLMBED_OK;
}

static const float *norm_weight(const llmbed_model *model, int layer, llmbed_weight_kind kind) {
    if (kind == LLMBED_W_FINAL_NORM) return model->weights.final_norm;
    const llmbed_layer_weights *w = &model->weights.layers[layer];
    switch (kind) {
    case LLMBED_W_ATTN_NORM: return w->attn_norm;
    case LLMBED_W_POST_ATTN_NORM: return w->post_attn_norm;
    case LLMBED_W_POST_FFN_NORM: return w->post_ffn_norm;
    default: return w->ffn_norm;
    }
}

static llmbed_status cpu_rmsnorm(llmbed_backend *backend, const llmbed_rmsnorm_params *p, int layer,
                                 llmbed_weight_kind weight, llmbed_act out, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    const float *w = norm_weight(backend->model, layer, weight);
    /* XN and HIDDEN share the xn buffer: XN is dead after the last layer */
    if (out == LLMBED_ACT_X) llmbed_cpu_rmsnorm_add(p, cpu->xn, w, cpu->x);
    else llmbed_cpu_rmsnorm(p, cpu->x, w, cpu->xn);
    return LLMBED_OK;
}

/* A branch's output projection (O, DOWN) from in[T, n_in]: X += rs * in W^T,
 * or XN = in W^T for a model with sandwich norms (op->out XN, backend.h). */
static void branch_projection(cpu_backend *cpu, const llmbed_linear_op *op, const llmbed_weight *w, int n_in,
                              const float *in) {
    const int C = cpu->base.model->config.hidden_size, to_xn = op->out == LLMBED_ACT_XN;
    const llmbed_cpu_projection proj = {w, NULL, C, to_xn ? 1.0f : op->residual_scale, !to_xn,
                                        to_xn ? cpu->xn : cpu->x, C};
    llmbed_cpu_linear_fused(op->n_tokens, n_in, in, 1, &proj, cpu->gemm_scratch);
}

static llmbed_status cpu_linear(llmbed_backend *backend, const llmbed_linear_op *op, llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    const llmbed_config *cfg = &backend->model->config;
    const llmbed_layer_weights *w = &backend->model->weights.layers[op->layer];
    const int T = op->n_tokens, C = cfg->hidden_size, inter = cfg->intermediate_size;
    const int q_dim = cfg->n_heads * cfg->head_dim, kv_dim = cfg->n_kv_heads * cfg->head_dim;
    switch (op->weight) {
    case LLMBED_W_QKV: {
        const llmbed_cpu_projection qkv[3] = {{&w->wq, w->bq, q_dim, 1.0f, 0, cpu->a, q_dim},
                                              {&w->wk, w->bk, kv_dim, 1.0f, 0, cpu->k, kv_dim},
                                              {&w->wv, w->bv, kv_dim, 1.0f, 0, cpu->v, kv_dim}};
        llmbed_cpu_linear_fused(T, C, cpu->xn, 3, qkv, cpu->gemm_scratch);
        return LLMBED_OK;
    }
    case LLMBED_W_O:
        branch_projection(cpu, op, &w->wo, q_dim, cpu->b);
        return LLMBED_OK;
    case LLMBED_W_GATE_UP: {
        const llmbed_cpu_projection gate_up[2] = {{&w->w_gate, NULL, inter, 1.0f, 0, cpu->a, inter},
                                                  {&w->w_up, NULL, inter, 1.0f, 0, cpu->b, inter}};
        llmbed_cpu_linear_fused(T, C, cpu->xn, 2, gate_up, cpu->gemm_scratch);
        return LLMBED_OK;
    }
    case LLMBED_W_DOWN:
        branch_projection(cpu, op, &w->w_down, inter, cpu->a);
        return LLMBED_OK;
    default:
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cpu backend: weight %d is not a projection", (int)op->weight);
    }
}

static llmbed_status cpu_qk_rope(llmbed_backend *backend, int layer, const llmbed_rmsnorm_params *q_norm,
                                 const llmbed_rmsnorm_params *k_norm, const llmbed_rope_params *q,
                                 const llmbed_rope_params *k, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    const llmbed_layer_weights *w = &backend->model->weights.layers[layer];
    if (q_norm != NULL) llmbed_cpu_rmsnorm(q_norm, cpu->a, w->q_norm, cpu->a);
    if (k_norm != NULL) llmbed_cpu_rmsnorm(k_norm, cpu->k, w->k_norm, cpu->k);
    llmbed_cpu_rope(q, cpu->a);
    llmbed_cpu_rope(k, cpu->k);
    return LLMBED_OK;
}

static llmbed_status cpu_attention(llmbed_backend *backend, int layer, const llmbed_attention_params *p,
                                   llmbed_error *error) {
    (void)layer;
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    llmbed_cpu_attention(p, cpu->a, cpu->k, cpu->v, cpu->b, cpu->attn_scratch);
    return LLMBED_OK;
}

static llmbed_status cpu_swiglu(llmbed_backend *backend, const llmbed_swiglu_params *p, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    llmbed_cpu_swiglu(p, cpu->a, cpu->b, cpu->a);
    return LLMBED_OK;
}

static llmbed_status cpu_latent(llmbed_backend *backend, const llmbed_latent_attention_params *p,
                                llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (cpu->latent_out == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "cpu backend: the model has no latent pooling block");
    llmbed_cpu_latent_attention(p, &backend->model->weights.latent, cpu->xn, cpu->latent_out, cpu->latent_scratch);
    memcpy(cpu->xn, cpu->latent_out, sizeof(float) * (size_t)p->n_tokens * (size_t)p->hidden);
    return LLMBED_OK;
}

/* Pooled rows go to x, free once the final norm has written xn (n_rows <= max_tokens). */
static llmbed_status cpu_pool(llmbed_backend *backend, const llmbed_pooling_params *p, llmbed_error *error) {
    (void)error;
    cpu_backend *cb = (cpu_backend *)backend;
    llmbed_cpu_pooling(p, cb->xn, cb->x);
    return LLMBED_OK;
}

/* From x (the last pool) or host_rows; `a` (free after the layers) is the row scratch. */
static llmbed_status cpu_postprocess(llmbed_backend *backend, const llmbed_postprocess_params *p,
                                     const float *host_rows, void *out, float *scales, llmbed_error *error) {
    cpu_backend *cb = (cpu_backend *)backend;
    /* device rows are hidden wide; host rows (the Dense modules' output) any width whose row fits the scratch */
    const int hidden = backend->model->config.hidden_size;
    const int width_ok = host_rows != NULL ? p->in_dims >= 1 && (int64_t)p->dims <= backend->max_tokens * hidden
                                           : p->in_dims == hidden;
    if (p->n_rows > backend->max_tokens || !width_ok || p->dims < 1 ||
        p->dims > p->in_dims || p->precision < LLMBED_PRECISION_FLOAT32 || p->precision > LLMBED_PRECISION_UBINARY ||
        (p->precision == LLMBED_PRECISION_INT8 && scales == NULL))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "cpu backend: postprocess of %d rows of %d to %d dims, precision %d", p->n_rows, p->in_dims,
                           p->dims, p->precision);
    llmbed_cpu_postprocess(p, host_rows != NULL ? host_rows : cb->x, out, scales, cb->a);
    return LLMBED_OK;
}

static llmbed_status cpu_read_hidden(llmbed_backend *backend, int n_rows, float *out, llmbed_error *error) {
    (void)error;
    const size_t C = (size_t)backend->model->config.hidden_size;
    memcpy(out, ((cpu_backend *)backend)->xn, sizeof(float) * (size_t)n_rows * C);
    return LLMBED_OK;
}

/* Floats of one layer's cache arrays (k_pruned, k_full, v) and ints of its
 * kept channels, for `shape`; 0 floats when that overflows. */
static size_t layer_cache_floats(const llmbed_config *cfg, const llmbed_cache_shape *shape) {
    const size_t kv = (size_t)cfg->n_kv_heads, D = (size_t)cfg->head_dim;
    const size_t per_head = (size_t)shape->capacity * ((size_t)shape->kept + D) + (size_t)shape->full_capacity * D;
    return per_head > SIZE_MAX / sizeof(float) / kv / ((size_t)cfg->n_layers + 1) ? 0 : per_head * kv;
}

static size_t layer_cache_ints(const llmbed_config *cfg, const llmbed_cache_shape *shape) {
    return (size_t)cfg->n_kv_heads * (size_t)shape->chunk_capacity * (size_t)shape->kept;
}

static size_t cpu_cache_bytes(const llmbed_backend *backend, const llmbed_cache_shape *shape) {
    const llmbed_config *cfg = &backend->model->config;
    const size_t floats = layer_cache_floats(cfg, shape), L = (size_t)cfg->n_layers;
    if (floats == 0 && shape->capacity > 0) return SIZE_MAX;
    return L * (floats * sizeof(float) + layer_cache_ints(cfg, shape) * sizeof(int32_t)) +
           ((size_t)shape->chunk_capacity + 1) * sizeof(int32_t);
}

static int shape_fits(const llmbed_cache_shape *have, const llmbed_cache_shape *want) {
    return have->capacity >= want->capacity && have->full_capacity >= want->full_capacity &&
           have->kept == want->kept && have->chunk_capacity >= want->chunk_capacity;
}

static llmbed_status cpu_cache_reserve(llmbed_backend *backend, const llmbed_cache_shape *shape,
                                       llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (cpu->cache_storage != NULL && shape_fits(&cpu->cache_shape, shape)) return LLMBED_OK;
    const llmbed_config *cfg = &backend->model->config;
    const size_t L = (size_t)cfg->n_layers, floats = layer_cache_floats(cfg, shape);
    const size_t ints = layer_cache_ints(cfg, shape);
    float *storage = floats > 0 ? malloc(L * floats * sizeof(float)) : NULL;
    int32_t *channels = malloc(L * ints * sizeof(int32_t) + sizeof(int32_t));
    int32_t *starts = malloc(((size_t)shape->chunk_capacity + 1) * sizeof(int32_t));
    if (storage == NULL || channels == NULL || starts == NULL) {
        free(storage);
        free(channels);
        free(starts);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "cpu backend: cannot allocate %zu MiB of key/value cache for %d positions",
                           cpu_cache_bytes(backend, shape) >> 20, shape->capacity);
    }
    free(cpu->cache_storage);
    free(cpu->cache_channels);
    free(cpu->chunk_starts);
    cpu->cache_storage = storage;
    cpu->cache_channels = channels;
    cpu->chunk_starts = starts;
    cpu->cache_shape = *shape;
    return LLMBED_OK;
}

static llmbed_status cpu_cache_set_chunks(llmbed_backend *backend, const llmbed_cache_state *state,
                                          llmbed_error *error) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (state->n_chunks > cpu->cache_shape.chunk_capacity)
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "cpu backend: %d chunks in a cache made for %d",
                           state->n_chunks, cpu->cache_shape.chunk_capacity);
    memcpy(cpu->chunk_starts, state->chunk_starts, sizeof(int32_t) * ((size_t)state->n_chunks + 1));
    return LLMBED_OK;
}

static void cpu_cache_view(llmbed_backend *backend, int layer, const llmbed_cache_state *state,
                           llmbed_kv_cache_view *view) {
    cpu_backend *cpu = (cpu_backend *)backend;
    const llmbed_config *cfg = &backend->model->config;
    const llmbed_cache_shape *shape = &cpu->cache_shape;
    const size_t kv = (size_t)cfg->n_kv_heads, D = (size_t)cfg->head_dim;
    float *base = cpu->cache_storage + (size_t)layer * layer_cache_floats(cfg, shape);
    view->length = state->length;
    view->n_pruned = state->n_pruned;
    view->kept = shape->kept;
    view->n_chunks = state->n_chunks;
    view->chunk_capacity = shape->chunk_capacity;
    view->chunk_starts = cpu->chunk_starts;
    view->kept_channels = cpu->cache_channels + (size_t)layer * layer_cache_ints(cfg, shape);
    view->k_pruned = base;
    view->k_full = base + kv * (size_t)shape->capacity * (size_t)shape->kept;
    view->v = (float *)view->k_full + kv * (size_t)shape->full_capacity * D;
    view->capacity = shape->capacity;
    view->full_capacity = shape->full_capacity;
}

static llmbed_status cpu_cache_append(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                      const llmbed_cache_append_params *p, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    llmbed_cpu_cache_append(p, cpu->k, cpu->v, view);
    return LLMBED_OK;
}

static llmbed_status cpu_think_select(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                      const llmbed_think_select_params *p, llmbed_error *error) {
    (void)error;
    cpu_backend *cpu = (cpu_backend *)backend;
    llmbed_cpu_think_select(p, cpu->a, cpu->k, view);
    return LLMBED_OK;
}

static llmbed_status cpu_cache_compact(llmbed_backend *backend, const llmbed_kv_cache_view *view,
                                       const llmbed_cache_compact_params *p, llmbed_error *error) {
    (void)backend;
    (void)error;
    llmbed_cpu_cache_compact(p, view);
    return LLMBED_OK;
}

static void cpu_destroy(llmbed_backend *backend) {
    cpu_backend *cpu = (cpu_backend *)backend;
    if (cpu == NULL) return;
    free(cpu->storage);
    free(cpu->cache_storage);
    free(cpu->cache_channels);
    free(cpu->chunk_starts);
    free(cpu);
}

static const llmbed_backend_ops cpu_ops = {
    .name = "cpu",
    .reserve = cpu_reserve,
    .activation_bytes = cpu_activation_bytes,
    .begin_forward = cpu_begin_forward,
    .end_forward = cpu_end_forward,
    .embedding = cpu_embedding,
    .rmsnorm = cpu_rmsnorm,
    .linear = cpu_linear,
    .qk_rope = cpu_qk_rope,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .latent = cpu_latent,
    .pool = cpu_pool,
    .postprocess = cpu_postprocess,
    .read_hidden = cpu_read_hidden,
    .cache_reserve = cpu_cache_reserve,
    .cache_bytes = cpu_cache_bytes,
    .cache_set_chunks = cpu_cache_set_chunks,
    .cache_view = cpu_cache_view,
    .cache_append = cpu_cache_append,
    .think_select = cpu_think_select,
    .cache_compact = cpu_cache_compact,
    .destroy = cpu_destroy,
};

/* Every tensor the forward reads must be there: a vocab-only model has none. */
static llmbed_status check_weights(const llmbed_model *model, llmbed_error *error) {
    const llmbed_config *cfg = &model->config;
    if (model->weights.token_embedding.data == NULL || model->weights.final_norm == NULL ||
        (cfg->n_layers > 0 && model->weights.layers == NULL))
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR,
                           "%s: the model has no weights (loaded vocab_only?)", model->path ? model->path : "model");
    for (int l = 0; l < cfg->n_layers; l++) {
        const llmbed_layer_weights *w = &model->weights.layers[l];
        const struct {
            const char *name;
            const void *data;
            bool needed;
        } tensors[] = {
            {"attn_norm", w->attn_norm, true},  {"q_proj", w->wq.data, true},        {"k_proj", w->wk.data, true},
            {"v_proj", w->wv.data, true},       {"o_proj", w->wo.data, true},        {"q_proj.bias", w->bq, cfg->qkv_bias},
            {"k_proj.bias", w->bk, cfg->qkv_bias}, {"v_proj.bias", w->bv, cfg->qkv_bias},
            {"q_norm", w->q_norm, cfg->qk_norm}, {"k_norm", w->k_norm, cfg->qk_norm},
            {"ffn_norm", w->ffn_norm, true},    {"gate_proj", w->w_gate.data, true}, {"up_proj", w->w_up.data, true},
            {"down_proj", w->w_down.data, true},
            {"post_attention_norm", w->post_attn_norm, cfg->sandwich_norms},
            {"post_feedforward_norm", w->post_ffn_norm, cfg->sandwich_norms},
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
    LLMBED_TRY(check_weights(model, error));
    cpu_backend *cpu = calloc(1, sizeof *cpu);
    if (cpu == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "cpu backend: out of memory");
    cpu->base.ops = &cpu_ops;
    cpu->base.model = model;
    cpu->base.max_tokens = 0;
    cpu->n_threads = n_threads > 0 ? n_threads : omp_get_num_procs();
    const llmbed_status st = cpu_reserve(&cpu->base, max_tokens, error);
    if (st != LLMBED_OK) {
        cpu_destroy(&cpu->base);
        return st;
    }
    *out = &cpu->base;
    return LLMBED_OK;
}
