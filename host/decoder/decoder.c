/* The decoder loop over the backend op table. Per layer (HF
 * LlamaDecoderLayer / Qwen2 / Qwen3 / MiniCPMDecoderLayer), with the
 * residual stream x kept in fp32 by every backend:
 *   xn = rmsnorm(x)                          attn_norm
 *   q, k, v = xn Wq^T, xn Wk^T, xn Wv^T      (+ qwen2 biases)
 *   q, k = rope(qk_norm(q), qk_norm(k))      (qwen3 q/k norm before RoPE)
 *   x += rs * attention(q, k, v) Wo^T        rs = MiniCPM scale_depth / sqrt(L), else 1
 *   xn = rmsnorm(x)                          ffn_norm
 *   x += rs * (silu(xn Wg^T) * xn Wu^T) Wd^T
 * then hidden = rmsnorm(x) with the final norm, and pooling. The residual add
 * is folded into the o/down projections (GEMM beta = 1) on both backends.
 *
 * With a cache (SPEC §5), attention also reads the cached positions, and a
 * chunk of a long sequence, per layer: selects its ThinK channels from its
 * own q and k (before attention: the selection reads only this chunk),
 * attends to cache + itself, appends its k and v, and moves the keys that
 * left the recent window into the pruned store. The bookkeeping (length,
 * pruned count, chunk boundaries) is the same for every layer and advances
 * once per chunk, after the last layer. */
#include "decoder/decoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/rope_frequencies.h"

/* What the cache does during one forward. */
typedef struct cache_step {
    const llmbed_cache_state *state; /* the cache before this forward */
    int append;                      /* the forward's one sequence is appended at state->length */
    int select;                      /* ThinK: choose channels of chunk state->n_chunks - 1 */
    int kept;                        /* channels a pruned key keeps */
    int new_n_pruned;                /* positions pruned after the append */
} cache_step;

static int min_int(int a, int b) { return a < b ? a : b; }
static int max_int(int a, int b) { return a > b ? a : b; }

static llmbed_status check_common(const llmbed_backend *backend, int n_layers, int pool_kind, int n_pools,
                                  const int32_t *pool_begin, const int32_t *pool_end, float temperature,
                                  llmbed_error *error) {
    const llmbed_config *cfg = &backend->model->config;
    if (n_layers < 0 || n_layers > cfg->n_layers)
        return llmbed_fail(error, LLMBED_ERR_LAYER_OUT_OF_RANGE, "%s backend: n_layers %d outside [0, %d]",
                           backend->ops->name, n_layers, cfg->n_layers);
    if (pool_kind < 0 || pool_kind > LLMBED_POOL_LATENT)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s backend: pool_kind %d", backend->ops->name,
                           pool_kind);
    if (pool_kind == LLMBED_POOL_LATENT && backend->model->weights.latent.q_logits == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "pooling latent: %s has no latent pooling block (NV-Embed's latent_attention_model.* weights)",
                           backend->model->path != NULL ? backend->model->path : "the model");
    if (pool_kind != 0 && (n_pools < 1 || pool_begin == NULL || pool_end == NULL))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s backend: pooling without pool ranges",
                           backend->ops->name);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "attention temperature %g must be positive",
                           (double)temperature);
    return LLMBED_OK;
}

static llmbed_status check_request(const llmbed_decoder *d, const llmbed_forward_request *r,
                                   llmbed_error *error) {
    const llmbed_backend *backend = d->backend;
    if (r->n_tokens < 1 || r->n_tokens > backend->max_tokens || r->n_seqs < 1 ||
        r->seq_offsets[r->n_seqs] != r->n_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "%s backend: request of %d tokens in %d sequences (capacity %lld tokens)",
                           backend->ops->name, r->n_tokens, r->n_seqs, (long long)backend->max_tokens);
    if (r->pool_kind != 0 && r->n_pools > backend->max_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s backend: %d pooled rows above the capacity of %lld",
                           backend->ops->name, r->n_pools, (long long)backend->max_tokens);
    if (r->cache_lens != NULL) {
        if (!r->causal)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "a cached prefix needs causal attention");
        for (int s = 0; s < r->n_seqs; s++)
            if (!d->cache_valid || r->cache_lens[s] < 0 || r->cache_lens[s] > d->cache.length)
                return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                                   "sequence %d continues %d cached positions; the cache holds %d", s,
                                   r->cache_lens[s], d->cache_valid ? d->cache.length : 0);
    }
    return check_common(backend, r->n_layers, r->pool_kind, r->n_pools, r->pool_begin, r->pool_end,
                        r->attention_temperature, error);
}

/* Grows a decoder scratch array to `count` elements of `size` bytes. */
static llmbed_status grow(void **array, size_t *capacity, size_t count, size_t size, const char *what,
                          llmbed_error *error) {
    if (count <= *capacity) return LLMBED_OK;
    void *grown = realloc(*array, count * size);
    if (grown == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decoder: cannot stage %zu %s", count, what);
    *array = grown;
    *capacity = count;
    return LLMBED_OK;
}

/* inv_freq[n_seqs, D/2] for sequences of the given lengths (dynamic NTK
 * depends on the length; the other scalings repeat one row). */
static llmbed_status rope_frequencies(llmbed_decoder *d, int n_seqs, const int *lengths, float *attention_scaling,
                                      llmbed_error *error) {
    const llmbed_config *cfg = &d->backend->model->config;
    const size_t half = (size_t)cfg->head_dim / 2;
    LLMBED_TRY(grow((void **)&d->inv_freq, &d->inv_freq_capacity, (size_t)n_seqs * half, sizeof(float),
                    "RoPE frequencies", error));
    *attention_scaling = 1.0f;
    for (int s = 0; s < n_seqs; s++)
        LLMBED_TRY(llmbed_rope_frequencies(cfg, lengths[s], d->inv_freq + (size_t)s * half, attention_scaling,
                                               error));
    return LLMBED_OK;
}

static llmbed_status run_layer(llmbed_backend *b, int layer, int T, const llmbed_rope_params *rope_q,
                               const llmbed_rope_params *rope_k, const llmbed_attention_params *attn,
                               const cache_step *step, llmbed_error *error) {
    const llmbed_config *cfg = &b->model->config;
    const llmbed_backend_ops *ops = b->ops;
    const float rs = cfg->residual_scale;
    const int D = cfg->head_dim;
    const llmbed_rmsnorm_params norm = {T, cfg->hidden_size, cfg->rms_norm_eps};
    const llmbed_rmsnorm_params q_norm = {T * cfg->n_heads, D, cfg->rms_norm_eps};
    const llmbed_rmsnorm_params k_norm = {T * cfg->n_kv_heads, D, cfg->rms_norm_eps};
    const llmbed_linear_op qkv = {T, layer, LLMBED_W_QKV, 1.0f};
    const llmbed_linear_op o = {T, layer, LLMBED_W_O, rs};
    const llmbed_linear_op gate_up = {T, layer, LLMBED_W_GATE_UP, 1.0f};
    const llmbed_linear_op down = {T, layer, LLMBED_W_DOWN, rs};
    const llmbed_swiglu_params mlp = {T, cfg->intermediate_size};

    LLMBED_TRY(ops->rmsnorm(b, &norm, layer, LLMBED_W_ATTN_NORM, LLMBED_ACT_XN, error));
    LLMBED_TRY(ops->linear(b, &qkv, error));
    LLMBED_TRY(ops->qk_rope(b, layer, cfg->qk_norm ? &q_norm : NULL, cfg->qk_norm ? &k_norm : NULL, rope_q,
                            rope_k, error));
    if (step == NULL) {
        LLMBED_TRY(ops->attention(b, layer, attn, error));
    } else {
        llmbed_kv_cache_view view;
        ops->cache_view(b, layer, step->state, &view);
        if (step->select) {
            const llmbed_think_select_params select = {cfg->n_heads, cfg->n_kv_heads, D, 0, T,
                                                       min_int(LLMBED_THINK_OBSERVATION_WINDOW, T), step->kept,
                                                       step->state->n_chunks - 1, view.chunk_capacity};
            LLMBED_TRY(ops->think_select(b, &view, &select, error));
        }
        llmbed_attention_params cached = *attn;
        cached.cache = &view;
        LLMBED_TRY(ops->attention(b, layer, &cached, error));
        if (step->append) {
            const llmbed_cache_append_params append = {cfg->n_kv_heads, D, 0, T, step->state->length,
                                                       step->state->n_pruned};
            LLMBED_TRY(ops->cache_append(b, &view, &append, error));
            const llmbed_cache_compact_params compact = {cfg->n_kv_heads, D, step->state->length + T,
                                                         step->state->n_pruned, step->new_n_pruned};
            if (step->new_n_pruned > step->state->n_pruned) LLMBED_TRY(ops->cache_compact(b, &view, &compact, error));
        }
    }
    LLMBED_TRY(ops->linear(b, &o, error));
    LLMBED_TRY(ops->rmsnorm(b, &norm, layer, LLMBED_W_FFN_NORM, LLMBED_ACT_XN, error));
    LLMBED_TRY(ops->linear(b, &gate_up, error));
    LLMBED_TRY(ops->swiglu(b, &mlp, error));
    return ops->linear(b, &down, error);
}

/* Embedding, layers and final norm of the uploaded inputs: HIDDEN holds the
 * result. */
static llmbed_status run_layers(llmbed_backend *b, const llmbed_forward_inputs *in, int causal, int n_layers,
                                float temperature, float attention_scaling, const cache_step *step,
                                llmbed_error *error) {
    const llmbed_config *cfg = &b->model->config;
    const int T = in->n_tokens, C = cfg->hidden_size, D = cfg->head_dim;
    const llmbed_rope_params rope_q = {in->n_seqs, in->seq_offsets, cfg->n_heads, D, cfg->n_heads * D,
                                       in->inv_freq, attention_scaling, in->position_offsets};
    const llmbed_rope_params rope_k = {in->n_seqs, in->seq_offsets, cfg->n_kv_heads, D, cfg->n_kv_heads * D,
                                       in->inv_freq, attention_scaling, in->position_offsets};
    const llmbed_attention_params attn = {in->n_seqs,
                                          in->seq_offsets,
                                          cfg->n_heads,
                                          cfg->n_kv_heads,
                                          D,
                                          causal,
                                          (float)(1.0 / (sqrt((double)D) * (double)temperature)),
                                          step != NULL ? in->position_offsets : NULL,
                                          NULL};
    const llmbed_embedding_params emb = {T, C, cfg->vocab_size, cfg->scale_emb};
    LLMBED_TRY(b->ops->embedding(b, &emb, in->tokens, error));
    for (int l = 0; l < n_layers; l++) LLMBED_TRY(run_layer(b, l, T, &rope_q, &rope_k, &attn, step, error));
    const llmbed_rmsnorm_params final_norm = {T, C, cfg->rms_norm_eps};
    return b->ops->rmsnorm(b, &final_norm, -1, LLMBED_W_FINAL_NORM, LLMBED_ACT_HIDDEN, error);
}

/* The latent block's shape for n_tokens rows, LATENT_ROWS_PER_PASS at a time. */
static llmbed_latent_attention_params latent_params(const llmbed_model *model, int n_tokens) {
    const llmbed_latent_config *l = &model->config.latent;
    const llmbed_latent_attention_params p = {n_tokens, model->config.hidden_size, l->n_heads, l->n_latents,
                                              l->ff_inner, l->eps, LATENT_ROWS_PER_PASS};
    return p;
}

/* HIDDEN -> the backend's pooled rows with `kind`: NV-Embed's latent pooling
 * is its block over the hidden states followed by the mean (SPEC §6). */
static llmbed_status pool_rows(llmbed_backend *b, int kind, const llmbed_forward_inputs *view, llmbed_error *error) {
    if (kind == LLMBED_POOL_LATENT) {
        const llmbed_latent_attention_params lp = latent_params(b->model, view->n_tokens);
        LLMBED_TRY(b->ops->latent(b, &lp, error));
        kind = LLMBED_POOL_MEAN;
    }
    const llmbed_pooling_params pool = {(llmbed_pool_kind)kind, view->n_pools, view->pool_begin, view->pool_end,
                                        b->model->config.hidden_size};
    return b->ops->pool(b, &pool, error);
}

/* The backend's pooled rows (or host_rows) -> out, as `post` asks (NULL: raw fp32 rows). */
static llmbed_status finish_rows(llmbed_backend *b, int n_rows, const llmbed_postprocess_params *post,
                                 const float *host_rows, void *out, float *scales, llmbed_error *error) {
    const int hidden = b->model->config.hidden_size;
    llmbed_postprocess_params p = {n_rows, hidden, hidden, 0, LLMBED_PRECISION_FLOAT32};
    if (post != NULL) p.dims = post->dims, p.normalize = post->normalize, p.precision = post->precision;
    return b->ops->postprocess(b, &p, host_rows, out, scales, error);
}

llmbed_status llmbed_decoder_forward(llmbed_decoder *decoder, const llmbed_forward_request *request,
                                     void *out, llmbed_error *error) {
    llmbed_backend *b = decoder->backend;
    LLMBED_TRY(check_request(decoder, request, error));
    const int n = request->n_seqs;
    int *lengths = malloc(sizeof(int) * (size_t)n);
    if (lengths == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decoder: out of memory");
    for (int s = 0; s < n; s++)
        lengths[s] = request->seq_offsets[s + 1] - request->seq_offsets[s] +
                     (request->cache_lens != NULL ? request->cache_lens[s] : 0);
    float attention_scaling = 1.0f;
    llmbed_status st = rope_frequencies(decoder, n, lengths, &attention_scaling, error);
    free(lengths);
    if (st != LLMBED_OK) return st;
    const int pooled = request->pool_kind != 0;
    const llmbed_forward_inputs host = {
        .n_tokens = request->n_tokens,
        .n_seqs = n,
        .n_pools = pooled ? request->n_pools : 0,
        .tokens = request->tokens,
        .seq_offsets = request->seq_offsets,
        .position_offsets = request->cache_lens,
        .inv_freq = decoder->inv_freq,
        .attention_scaling = attention_scaling,
        .pool_begin = pooled ? request->pool_begin : NULL,
        .pool_end = pooled ? request->pool_end : NULL,
    };
    const cache_step step = {&decoder->cache, 0, 0, 0, decoder->cache.n_pruned};
    llmbed_forward_inputs view;
    LLMBED_TRY(b->ops->begin_forward(b, &host, &view, error));
    st = run_layers(b, &view, request->causal, request->n_layers, request->attention_temperature, attention_scaling,
                    request->cache_lens != NULL ? &step : NULL, error);
    if (st == LLMBED_OK && !pooled) st = b->ops->read_hidden(b, request->n_tokens, out, error);
    if (st == LLMBED_OK && pooled) st = pool_rows(b, request->pool_kind, &view, error);
    if (st == LLMBED_OK && pooled)
        st = finish_rows(b, request->n_pools, request->post, NULL, out, request->scales, error);
    b->ops->end_forward(b);
    return st;
}

/* ------------------------------------------------------ chunked prefill */

static llmbed_status check_chunked(const llmbed_decoder *d, const llmbed_chunked_request *r, llmbed_error *error) {
    const llmbed_backend *b = d->backend;
    if (r->n_tokens < 1 || r->tokens == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "chunked request: no tokens");
    if (r->chunk_tokens < 1 || r->chunk_tokens > b->max_tokens)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "chunk_tokens: %d outside [1, %lld] (the capacity)",
                           r->chunk_tokens, (long long)b->max_tokens);
    if (!(r->think_ratio >= 0.0f && r->think_ratio < 1.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "think_ratio: %g outside [0, 1)",
                           (double)r->think_ratio);
    for (int p = 0; r->pool_kind != 0 && p < r->n_pools; p++)
        if (r->pool_begin[p] < 0 || r->pool_end[p] > r->n_tokens || r->pool_begin[p] > r->pool_end[p] ||
            (p > 0 && r->pool_begin[p] < r->pool_end[p - 1]))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "pool range %d [%d, %d) is out of [0, %d] or overlaps the one before", p,
                               r->pool_begin[p], r->pool_end[p], r->n_tokens);
    return check_common(b, r->n_layers, r->pool_kind, r->n_pools, r->pool_begin, r->pool_end,
                        r->attention_temperature, error);
}

/* The cache an n-token sequence in chunks of C needs: every position, the
 * full-width keys of the recent window (all of them without ThinK), and the
 * channels a pruned key keeps. */
static llmbed_cache_shape cache_shape(int n, int chunk, int think, int kept) {
    const llmbed_cache_shape shape = {
        .capacity = n,
        .full_capacity = think ? min_int(n, chunk + LLMBED_THINK_RECENT_WINDOW) : n,
        .kept = think ? kept : 0,
        .chunk_capacity = (n + chunk - 1) / chunk,
    };
    return shape;
}

/* Channels a pruned key keeps: D - floor(D * ratio) (SPEC §5). */
static int kept_channels(int head_dim, float think_ratio) {
    return head_dim - (int)floorf((float)head_dim * think_ratio);
}

/* ThinK pays only where its layout (the kept channels of every position plus
 * full keys of the recent window) is smaller than plain keys of every
 * position: a shorter sequence runs on the plain cache, its rows exact.
 * Below about (C + 32) / ratio tokens the pruned layout would hold 25-38%
 * more key bytes for a small saving in accuracy, none in memory. */
static int think_saves_memory(int n, int chunk, int head_dim, int kept) {
    const int64_t window = min_int(n, chunk + LLMBED_THINK_RECENT_WINDOW);
    return (int64_t)n * kept + window * head_dim < (int64_t)n * head_dim;
}

size_t llmbed_decoder_cache_bytes(const llmbed_decoder *d, int n_tokens, int chunk_tokens, float think_ratio) {
    const llmbed_backend *b = d->backend;
    const int D = b->model->config.head_dim, kept = kept_channels(D, think_ratio);
    if (b->ops->cache_bytes == NULL || n_tokens < 1 || chunk_tokens < 1) return 0;
    const llmbed_cache_shape shape =
        cache_shape(n_tokens, chunk_tokens, kept < D && think_saves_memory(n_tokens, chunk_tokens, D, kept), kept);
    return b->ops->cache_bytes(b, &shape);
}

/* Makes room for the cache of an n-token sequence in chunks of C and resets
 * the bookkeeping. */
static llmbed_status start_cache(llmbed_decoder *d, int n, int chunk, int think, int kept, llmbed_error *error) {
    llmbed_backend *b = d->backend;
    const int n_chunks = (n + chunk - 1) / chunk;
    const llmbed_cache_shape shape = cache_shape(n, chunk, think, kept);
    const size_t cache = b->ops->cache_bytes(b, &shape), activations = b->ops->activation_bytes(b, b->max_tokens);
    if (d->memory_limit_bytes > 0 &&
        (cache == SIZE_MAX || cache > (size_t)d->memory_limit_bytes || activations > (size_t)d->memory_limit_bytes - cache))
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY,
                           "a %d-token sequence needs %zu MiB of key/value cache (plus %zu MiB of activations), "
                           "above the context's memory limit of %lld MiB (memory_limit_bytes)",
                           n, cache >> 20, activations >> 20, (long long)(d->memory_limit_bytes >> 20));
    LLMBED_TRY(grow((void **)&d->chunk_starts, &d->chunk_capacity, (size_t)n_chunks + 1, sizeof(int32_t),
                    "chunk boundaries", error));
    d->cache_valid = 0;
    LLMBED_TRY(b->ops->cache_reserve(b, &shape, error));
    d->chunk_starts[0] = 0;
    const llmbed_cache_state empty = {0, 0, 0, d->chunk_starts};
    d->cache = empty;
    return LLMBED_OK;
}

/* Pooled rows of one chunk [a, b) folded into the sums: a mean is a sum of
 * chunk means weighted by their token counts; SGPT's weighted mean over a
 * range splits as sum_k (k + 1) h_k = sum_chunks (W_j wmean_j + base_j n_j mean_j)
 * with base_j the range index of the chunk's first pooled token and
 * W_j = n_j (n_j + 1) / 2; first/last take the chunk that holds that token. */
static void fold_chunk(const llmbed_chunked_request *r, int a, int b, int hidden, const float *chunk_pooled,
                       double *sums) {
    const size_t H = (size_t)hidden;
    for (int p = 0; p < r->n_pools; p++) {
        const int lo = max_int(r->pool_begin[p], a), hi = min_int(r->pool_end[p], b);
        if (lo >= hi) continue;
        const float *row = chunk_pooled + (size_t)p * H; /* the mean, or the first/last row */
        const float *weighted = chunk_pooled + ((size_t)r->n_pools + p) * H;
        double *sum = sums + (size_t)p * H;
        const double n_j = hi - lo, base = lo - r->pool_begin[p];
        for (size_t c = 0; c < H; c++) {
            switch (r->pool_kind) {
            case LLMBED_POOL_MEAN:
            case LLMBED_POOL_LATENT: sum[c] += n_j * row[c]; break;
            case LLMBED_POOL_WEIGHTED_MEAN:
                sum[c] += n_j * (n_j + 1) / 2 * weighted[c] + base * n_j * row[c];
                break;
            case LLMBED_POOL_LAST:
                if (hi == r->pool_end[p]) sum[c] = row[c];
                break;
            default: /* FIRST */
                if (lo == r->pool_begin[p]) sum[c] = row[c];
            }
        }
    }
}

static void finish_pools(const llmbed_chunked_request *r, int hidden, const double *sums, float *out) {
    for (int p = 0; p < r->n_pools; p++) {
        const double n = r->pool_end[p] - r->pool_begin[p];
        const double weight = r->pool_kind == LLMBED_POOL_MEAN || r->pool_kind == LLMBED_POOL_LATENT ? n
                              : r->pool_kind == LLMBED_POOL_WEIGHTED_MEAN ? n * (n + 1) / 2
                                                                          : 1.0;
        for (int c = 0; c < hidden; c++)
            out[(size_t)p * hidden + c] = n > 0 ? (float)(sums[(size_t)p * hidden + c] / weight) : 0.0f;
    }
}

/* Scratch for the pools of a chunked request. */
static llmbed_status reserve_pools(llmbed_decoder *d, int n_pools, int hidden, llmbed_error *error) {
    const size_t n = (size_t)n_pools, H = (size_t)hidden;
    if (n <= d->pool_capacity) return LLMBED_OK;
    int32_t *ranges = realloc(d->chunk_ranges, sizeof(int32_t) * 2 * n);
    if (ranges != NULL) d->chunk_ranges = ranges;
    double *sums = realloc(d->pooled_sums, sizeof(double) * n * H);
    if (sums != NULL) d->pooled_sums = sums;
    float *rows = realloc(d->chunk_pooled, sizeof(float) * 2 * n * H);
    if (rows != NULL) d->chunk_pooled = rows;
    if (ranges == NULL || sums == NULL || rows == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "decoder: cannot stage %d pooled rows", n_pools);
    d->pool_capacity = n;
    return LLMBED_OK;
}

/* Pools of chunk [a, b) into d->chunk_pooled (raw fp32 rows): the first
 * n_pools rows by the request's kind (MEAN for the weighted mean too), then
 * for the weighted mean the chunk's own weighted means. Ranges are local to
 * the chunk. */
static llmbed_status pool_chunk(llmbed_decoder *d, const llmbed_chunked_request *r, const llmbed_forward_inputs *view,
                                llmbed_error *error) {
    llmbed_backend *b = d->backend;
    const int hidden = b->model->config.hidden_size;
    const int first_kind = r->pool_kind == LLMBED_POOL_WEIGHTED_MEAN ? LLMBED_POOL_MEAN : r->pool_kind;
    LLMBED_TRY(pool_rows(b, first_kind, view, error));
    LLMBED_TRY(finish_rows(b, r->n_pools, NULL, NULL, d->chunk_pooled, NULL, error));
    if (r->pool_kind != LLMBED_POOL_WEIGHTED_MEAN) return LLMBED_OK;
    llmbed_pooling_params pool = {LLMBED_POOL_WEIGHTED_MEAN, r->n_pools, view->pool_begin, view->pool_end, hidden};
    LLMBED_TRY(b->ops->pool(b, &pool, error));
    return finish_rows(b, r->n_pools, NULL, NULL, d->chunk_pooled + (size_t)r->n_pools * hidden, NULL, error);
}

llmbed_status llmbed_decoder_forward_chunked(llmbed_decoder *d, const llmbed_chunked_request *r, void *out,
                                             llmbed_error *error) {
    llmbed_backend *b = d->backend;
    LLMBED_TRY(check_chunked(d, r, error));
    const llmbed_config *cfg = &b->model->config;
    const int N = r->n_tokens, C = r->chunk_tokens, D = cfg->head_dim, hidden = cfg->hidden_size;
    const int kept = kept_channels(D, r->think_ratio);
    /* ratio 0 keeps every channel: plain chunked prefill, bit for bit; so does a sequence too short for
     * ThinK to save memory */
    const int think = kept < D && think_saves_memory(N, C, D, kept);
    const int pooled = r->pool_kind != 0, n_pools = pooled ? r->n_pools : 0;
    if (pooled) LLMBED_TRY(reserve_pools(d, n_pools, hidden, error));
    if (pooled) memset(d->pooled_sums, 0, sizeof(double) * (size_t)n_pools * hidden);
    LLMBED_TRY(start_cache(d, N, C, think, kept, error));
    /* RoPE of the whole sequence (dynamic NTK: its full length), as a single pass computes it */
    float attention_scaling = 1.0f;
    LLMBED_TRY(rope_frequencies(d, 1, &N, &attention_scaling, error));

    for (int a = 0, j = 0; a < N; a += C, j++) {
        const int end = min_int(a + C, N), n = end - a;
        d->chunk_starts[j + 1] = end;
        llmbed_cache_state before = d->cache;
        before.n_chunks = j + 1;
        LLMBED_TRY(b->ops->cache_set_chunks(b, &before, error));
        for (int p = 0; p < n_pools; p++) {
            const int lo = max_int(r->pool_begin[p], a), hi = min_int(r->pool_end[p], end);
            d->chunk_ranges[p] = lo < hi ? lo - a : 0;
            d->chunk_ranges[n_pools + p] = lo < hi ? hi - a : 0;
        }
        const int32_t offsets[2] = {0, n}, start[1] = {a};
        const llmbed_forward_inputs host = {
            .n_tokens = n,
            .n_seqs = 1,
            .n_pools = n_pools,
            .tokens = r->tokens + a,
            .seq_offsets = offsets,
            .position_offsets = start,
            .inv_freq = d->inv_freq,
            .attention_scaling = attention_scaling,
            .pool_begin = pooled ? d->chunk_ranges : NULL,
            .pool_end = pooled ? d->chunk_ranges + n_pools : NULL,
        };
        const cache_step step = {&before, 1, think, kept,
                                 think ? max_int(before.n_pruned, end - LLMBED_THINK_RECENT_WINDOW) : 0};
        llmbed_forward_inputs view;
        LLMBED_TRY(b->ops->begin_forward(b, &host, &view, error));
        llmbed_status st = run_layers(b, &view, 1, r->n_layers, r->attention_temperature, attention_scaling, &step,
                                      error);
        if (st == LLMBED_OK && !pooled) st = b->ops->read_hidden(b, n, (float *)out + (size_t)a * hidden, error);
        if (st == LLMBED_OK && pooled) st = pool_chunk(d, r, &view, error);
        b->ops->end_forward(b);
        if (st != LLMBED_OK) return st;
        if (pooled) fold_chunk(r, a, end, hidden, d->chunk_pooled, d->pooled_sums);
        d->cache.length = end;
        d->cache.n_pruned = step.new_n_pruned;
        d->cache.n_chunks = j + 1;
    }
    d->cache_valid = r->keep_cache;
    if (!pooled) return LLMBED_OK;
    /* the folded rows go through the backend's post-processing from host memory */
    finish_pools(r, hidden, d->pooled_sums, d->chunk_pooled);
    return finish_rows(b, n_pools, r->post, d->chunk_pooled, out, r->scales, error);
}

void llmbed_decoder_release(llmbed_decoder *decoder) {
    free(decoder->inv_freq);
    free(decoder->chunk_ranges);
    free(decoder->pooled_sums);
    free(decoder->chunk_pooled);
    free(decoder->chunk_starts);
    llmbed_backend *backend = decoder->backend;
    const int64_t limit = decoder->memory_limit_bytes;
    memset(decoder, 0, sizeof *decoder);
    decoder->backend = backend;
    decoder->memory_limit_bytes = limit;
}
