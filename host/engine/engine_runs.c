/* The engine's runs: staging a request from the public batch, a packed run
 * (plain, with a shared prefix, or continuing the cached document), a
 * chunked sequence, one sequence pooled over several spans (late chunking),
 * and the document of suffix mode. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "engine/engine_runs.h"
#include "model/model.h"

/* A shared prefix is worth a forward of its own from this many tokens on. */
enum { MIN_SHARED_PREFIX = 8 };

static int pool_kind_of(llmbed_pooling pooling) {
    switch (pooling) {
    case LLMBED_POOLING_LAST: return LLMBED_POOL_LAST;
    case LLMBED_POOLING_MEAN: return LLMBED_POOL_MEAN;
    case LLMBED_POOLING_FIRST: return LLMBED_POOL_FIRST;
    case LLMBED_POOLING_WEIGHTED_MEAN: return LLMBED_POOL_WEIGHTED_MEAN;
    case LLMBED_POOLING_LATENT: return LLMBED_POOL_LATENT;
    default: return 0; /* NONE: hidden states */
    }
}

/* Grow-only staging: reallocates only when a request needs more than any
 * before it (n_seqs sequences, n_tokens suffix tokens). */
static llmbed_status reserve_staging(llmbed_engine *engine, int n_seqs, size_t n_tokens, llmbed_error *error) {
    if ((size_t)n_seqs > engine->seq_capacity) {
        const size_t n = (size_t)n_seqs;
        int32_t *offsets = realloc(engine->seq_offsets, sizeof(int32_t) * (n + 1));
        if (offsets != NULL) engine->seq_offsets = offsets;
        int32_t *begin = realloc(engine->pool_begin, sizeof(int32_t) * n);
        if (begin != NULL) engine->pool_begin = begin;
        int32_t *end = realloc(engine->pool_end, sizeof(int32_t) * n);
        if (end != NULL) engine->pool_end = end;
        int32_t *cached = realloc(engine->cache_lens, sizeof(int32_t) * n);
        if (cached != NULL) engine->cache_lens = cached;
        if (offsets == NULL || begin == NULL || end == NULL || cached == NULL)
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: cannot stage %d sequences", n_seqs);
        engine->seq_capacity = n;
    }
    if (n_tokens > engine->token_capacity) {
        int32_t *tokens = realloc(engine->tokens, sizeof(int32_t) * n_tokens);
        if (tokens == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: cannot stage %zu tokens", n_tokens);
        engine->tokens = tokens;
        engine->token_capacity = n_tokens;
    }
    return LLMBED_OK;
}

/* First pooled token of sequence s: past its instruction and the prefix mask. */
static int32_t pool_start(const llmbed_batch *batch, int s, const llmbed_embed_options *opt) {
    const int32_t instruction = batch->instruction_lens != NULL ? batch->instruction_lens[s] : 0;
    return instruction > opt->mask_prefix_tokens ? instruction : opt->mask_prefix_tokens;
}

/* Request offsets of sequences [first, first + n) without their first
 * `skip` tokens, and each one's pooled rows: from its pool start to its pool
 * end (or its end), less skip. */
static void stage_request(llmbed_engine *engine, const llmbed_batch *batch, int first, int n, int skip,
                          const llmbed_embed_options *opt) {
    engine->seq_offsets[0] = 0;
    for (int s = 0; s < n; s++) {
        const int64_t begin = batch->offsets[first + s];
        const int32_t len = (int32_t)(batch->offsets[first + s + 1] - begin);
        const int32_t at = engine->seq_offsets[s];
        engine->seq_offsets[s + 1] = at + len - skip;
        engine->pool_begin[s] = at - skip + pool_start(batch, first + s, opt);
        engine->pool_end[s] = at - skip + (batch->pool_ends != NULL ? batch->pool_ends[first + s] : len);
        if (skip > 0) memcpy(engine->tokens + at, batch->tokens + begin + skip, sizeof(int32_t) * (size_t)(len - skip));
    }
}

/* What the backend does to pooled rows before they come back (the decoder
 * fills in the row count and width): truncation and L2 (fp32 rows). */
static llmbed_postprocess_params post_params(const llmbed_embed_options *opt) {
    const llmbed_postprocess_params post = {0, 0, opt->out_dims, opt->normalize, LLMBED_PRECISION_FLOAT32};
    return post;
}

/* The decoder's chunked request over tokens[0, n): what fill_cache, a
 * chunked sequence and late chunking differ in is the pooling and whether
 * the cache is kept. */
static llmbed_chunked_request chunked_request(const llmbed_embed_options *opt, const int32_t *tokens, int n, int chunk,
                                              int pool_kind, int n_pools, const int32_t *pool_begin,
                                              const int32_t *pool_end, int keep_cache,
                                              const llmbed_postprocess_params *post) {
    return (llmbed_chunked_request){
        .n_tokens = n,
        .tokens = tokens,
        .chunk_tokens = chunk,
        .think_ratio = opt->think_ratio,
        .n_layers = opt->n_layers,
        .attention_temperature = opt->attention_temperature,
        .pool_kind = pool_kind,
        .n_pools = n_pools,
        .pool_begin = pool_begin,
        .pool_end = pool_end,
        .keep_cache = keep_cache,
        .post = post,
    };
}

/* The decoder's packed request over the staged offsets and pools. */
static llmbed_forward_request packed_request(const llmbed_engine *engine, const llmbed_embed_options *opt, int n_seqs,
                                             const int32_t *tokens, int pool_kind, int n_pools,
                                             const int32_t *cache_lens, const llmbed_postprocess_params *post) {
    return (llmbed_forward_request){
        .n_seqs = n_seqs,
        .n_tokens = engine->seq_offsets[n_seqs],
        .tokens = tokens,
        .seq_offsets = engine->seq_offsets,
        .causal = opt->causal,
        .n_layers = opt->n_layers,
        .attention_temperature = opt->attention_temperature,
        .pool_kind = pool_kind,
        .n_pools = n_pools,
        .pool_begin = engine->pool_begin,
        .pool_end = engine->pool_end,
        .cache_lens = cache_lens,
        .post = post,
    };
}

static int cache_matches(const llmbed_engine *engine, const llmbed_embed_options *opt) {
    return engine->cached_layers == opt->n_layers && engine->cached_temperature == opt->attention_temperature &&
           engine->cached_think_ratio == opt->think_ratio;
}

static void forget_cache(llmbed_engine *engine) {
    engine->document_tokens = 0;
    engine->prefix_len = 0;
}

/* Tokens [0, n) through the decoder in chunks of the capacity, kept in the
 * cache (nothing is pooled that anyone reads). */
static llmbed_status fill_cache(llmbed_engine *engine, const int32_t *tokens, int n, int chunk,
                                const llmbed_embed_options *opt, llmbed_error *error) {
    forget_cache(engine);
    const int32_t begin = n - 1, end = n;
    float *scratch = malloc(sizeof(float) * (size_t)engine->model->config.hidden_size);
    if (scratch == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: out of memory");
    const llmbed_chunked_request req =
        chunked_request(opt, tokens, n, chunk, LLMBED_POOL_LAST, 1, &begin, &end, 1, NULL);
    const llmbed_status st = llmbed_decoder_forward_chunked(&engine->decoder, &req, scratch, error);
    free(scratch);
    if (st != LLMBED_OK) return st;
    engine->cached_layers = opt->n_layers;
    engine->cached_temperature = opt->attention_temperature;
    engine->cached_think_ratio = opt->think_ratio;
    return LLMBED_OK;
}

/* Length P of an instruction prefix every sequence of the run shares and
 * leaves out of its pool, when computing it once pays; 0 otherwise. The
 * prefix's keys come from a forward of the prefix alone, which equals the
 * full forward's only where RoPE does not depend on the sequence length
 * (not dynamic NTK), and only pooled outputs can skip its hidden states. */
static int shared_prefix(const llmbed_engine *engine, const llmbed_batch *batch, int first, int n,
                         const llmbed_embed_options *opt) {
    if (n < 2 || !opt->causal || opt->continue_document || opt->pooling == LLMBED_POOLING_NONE ||
        batch->instruction_lens == NULL || engine->backend->ops->cache_reserve == NULL ||
        engine->model->config.rope_scaling.type == LLMBED_ROPE_DYNAMIC)
        return 0;
    const int P = batch->instruction_lens[first];
    if (P < MIN_SHARED_PREFIX || P > engine->backend->max_tokens) return 0;
    const int32_t *head = batch->tokens + batch->offsets[first];
    for (int s = first; s < first + n; s++)
        if (batch->instruction_lens[s] != P || batch->offsets[s + 1] - batch->offsets[s] <= P ||
            memcmp(batch->tokens + batch->offsets[s], head, sizeof(int32_t) * (size_t)P) != 0)
            return 0;
    return P;
}

llmbed_status llmbed_engine_run_packed(llmbed_engine *engine, const llmbed_batch *batch, int first, int n,
                                       const llmbed_embed_options *opt, float *out, llmbed_error *error) {
    const int hidden = engine->model->config.hidden_size, pool_kind = pool_kind_of(opt->pooling);
    const int64_t base = batch->offsets[first], run_tokens = batch->offsets[first + n] - base;
    int cached = 0; /* positions every sequence continues */
    if (opt->continue_document) {
        if (engine->document_tokens == 0)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "continue_document: no document is cached (llmbed_cache_document first)");
        if (!cache_matches(engine, opt))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "continue_document: layer and think_ratio must be those the document was cached with");
        cached = engine->document_tokens;
    }
    const int skip = shared_prefix(engine, batch, first, n, opt);
    if (skip > 0) {
        const int32_t *prefix = batch->tokens + base;
        if (!(engine->prefix_len == skip && cache_matches(engine, opt) &&
              memcmp(engine->prefix, prefix, sizeof(int32_t) * (size_t)skip) == 0)) {
            LLMBED_TRY(fill_cache(engine, prefix, skip, (int)engine->backend->max_tokens, opt, error));
            if ((size_t)skip > engine->prefix_capacity) {
                int32_t *grown = realloc(engine->prefix, sizeof(int32_t) * (size_t)skip);
                if (grown == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "engine: out of memory");
                engine->prefix = grown;
                engine->prefix_capacity = (size_t)skip;
            }
            memcpy(engine->prefix, prefix, sizeof(int32_t) * (size_t)skip);
            engine->prefix_len = skip;
        }
        cached = skip;
    }
    LLMBED_TRY(reserve_staging(engine, n, skip > 0 ? (size_t)run_tokens : 0, error));
    stage_request(engine, batch, first, n, skip, opt);
    for (int s = 0; s < n; s++) engine->cache_lens[s] = cached;
    const llmbed_postprocess_params post = post_params(opt);
    const llmbed_forward_request req = packed_request(engine, opt, n, skip > 0 ? engine->tokens : batch->tokens + base,
                                                      pool_kind, n, cached > 0 ? engine->cache_lens : NULL, &post);
    if (pool_kind == 0) return llmbed_decoder_forward(&engine->decoder, &req, out + (size_t)base * hidden, error);
    return llmbed_decoder_forward(&engine->decoder, &req, out + (size_t)first * opt->out_dims, error);
}

llmbed_status llmbed_engine_run_chunked(llmbed_engine *engine, const llmbed_batch *batch, int s,
                                        const llmbed_embed_options *opt, int chunk, float *out, llmbed_error *error) {
    const int hidden = engine->model->config.hidden_size, pool_kind = pool_kind_of(opt->pooling);
    const int64_t base = batch->offsets[s];
    const int len = (int)(batch->offsets[s + 1] - base);
    if (opt->continue_document)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG,
                           "batch: sequence %d has %d tokens; a sequence continuing the cached document must fit "
                           "one chunk (%d tokens)",
                           s, len, chunk);
    LLMBED_TRY(reserve_staging(engine, 1, 0, error));
    forget_cache(engine); /* the chunks overwrite the cache */
    const int32_t begin = pool_start(batch, s, opt);
    const int32_t end = batch->pool_ends != NULL ? batch->pool_ends[s] : len;
    const llmbed_postprocess_params post = post_params(opt);
    const llmbed_chunked_request req =
        chunked_request(opt, batch->tokens + base, len, chunk, pool_kind, 1, &begin, &end, 0, &post);
    if (pool_kind == 0) return llmbed_decoder_forward_chunked(&engine->decoder, &req, out + (size_t)base * hidden, error);
    return llmbed_decoder_forward_chunked(&engine->decoder, &req, out + (size_t)s * opt->out_dims, error);
}

llmbed_status llmbed_engine_run_spans(llmbed_engine *engine, const int32_t *tokens, int n_tokens,
                                      const int32_t *spans, int n_spans, const llmbed_embed_options *opt, int chunk,
                                      float *out, llmbed_error *error) {
    LLMBED_TRY(reserve_staging(engine, n_spans, 0, error));
    for (int p = 0; p < n_spans; p++) {
        engine->pool_begin[p] = spans[2 * p];
        engine->pool_end[p] = spans[2 * p + 1];
    }
    const int pool_kind = pool_kind_of(opt->pooling);
    const llmbed_postprocess_params post = post_params(opt);
    if (chunk > 0) {
        forget_cache(engine); /* the chunks overwrite the cache */
        const llmbed_chunked_request req = chunked_request(opt, tokens, n_tokens, chunk, pool_kind, n_spans,
                                                           engine->pool_begin, engine->pool_end, 0, &post);
        return llmbed_decoder_forward_chunked(&engine->decoder, &req, out, error);
    }
    engine->seq_offsets[0] = 0;
    engine->seq_offsets[1] = n_tokens;
    const llmbed_forward_request req = packed_request(engine, opt, 1, tokens, pool_kind, n_spans, NULL, &post);
    return llmbed_decoder_forward(&engine->decoder, &req, out, error);
}

llmbed_status llmbed_engine_cache_document(llmbed_engine *engine, const int32_t *tokens, size_t n_tokens,
                                           const llmbed_embed_options *opt, llmbed_error *error) {
    if (!opt->causal)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "cache_document: needs causal attention (a bidirectional document has no reusable cache)");
    if (engine->backend->ops->cache_reserve == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "cache_document: the %s backend has no key/value cache",
                           engine->backend->ops->name);
    const int chunk = opt->chunk_tokens > 0 ? opt->chunk_tokens : (int)engine->batch_tokens;
    LLMBED_TRY(llmbed_engine_grow(engine, chunk, error));
    LLMBED_TRY(fill_cache(engine, tokens, (int)n_tokens, chunk, opt, error));
    engine->document_tokens = (int)n_tokens;
    return LLMBED_OK;
}
