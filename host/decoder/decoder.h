/* The one decoder loop: embedding, decoder layers, final norm and pooling
 * of one packed varlen batch, and the chunked prefill of long sequences over
 * a key/value cache with ThinK channel pruning (SPEC §5), written once over
 * the backend op table (host/backend.h). The CPU reference and the CUDA
 * backend differ only in the ops they supply, so a change to the order of
 * operations is made here and nowhere else. */
#ifndef LLMBED_DECODER_DECODER_H
#define LLMBED_DECODER_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "llmbed.h"

/* ThinK's windows (SPEC §5): observation queries per chunk and recent keys
 * kept whole. */
#define LLMBED_THINK_OBSERVATION_WINDOW 32
#define LLMBED_THINK_RECENT_WINDOW 32

/* One forward over a packed batch that fits the backend's capacity:
 * n_tokens <= backend->max_tokens, no empty sequence, ids < vocab (the
 * engine validates the public batch before it gets here). */
typedef struct llmbed_forward_request {
    int n_seqs;
    int n_tokens;                /* seq_offsets[n_seqs] */
    const int32_t *tokens;       /* [n_tokens] */
    const int32_t *seq_offsets;  /* [n_seqs + 1] */
    int causal;
    int n_layers;                /* decoder layers to run (early exit), then the final norm */
    float attention_temperature; /* softmax(q.k / (sqrt(D) * T)); 1 = plain attention */
    int pool_kind;               /* llmbed_pool_kind, or 0: out receives the hidden states */
    int n_pools;                 /* pooled rows when pool_kind != 0 (at most n_tokens) */
    const int32_t *pool_begin;   /* [n_pools] first pooled row (packed token index) */
    const int32_t *pool_end;     /* [n_pools] one past the last pooled row */
    /* [n_seqs] or NULL: each sequence continues the first cache_lens[s]
     * positions of the decoder's cache (a shared prefix, or the document of
     * suffix mode); its positions start there. Causal only. */
    const int32_t *cache_lens;
    /* Pooled rows as the caller stores them: the model's Dense modules, then
     * dims, normalize and precision of *post (its n_rows and in_dims are the
     * decoder's: n_pools, the pooled width), int8 scales into
     * scales[n_pools]; post NULL: raw fp32 rows [n_pools, hidden]. */
    const llmbed_postprocess_params *post;
    float *scales;
} llmbed_forward_request;

/* A long causal sequence in chunks (SPEC §5): chunk j covers tokens
 * [j C, (j + 1) C) and attends to itself and to the cache of every earlier
 * position; with think_ratio > 0 the keys of positions older than the
 * recent window keep only D - floor(D * ratio) channels of their chunk. */
typedef struct llmbed_chunked_request {
    int n_tokens;
    const int32_t *tokens;
    int chunk_tokens;            /* C >= 1, at most the backend's capacity */
    float think_ratio;           /* [0, 1); 0: every channel (plain chunked prefill) */
    int n_layers;
    float attention_temperature;
    int pool_kind;               /* 0: out receives the hidden states [n_tokens, hidden] */
    int n_pools;
    const int32_t *pool_begin;   /* [n_pools] positions of the sequence */
    const int32_t *pool_end;
    int keep_cache;              /* 1: the sequence stays in the cache for requests with cache_lens */
    const llmbed_postprocess_params *post; /* as for llmbed_forward_request */
    float *scales;
} llmbed_chunked_request;

/* The loop's host-side state over a backend it does not own: scratch
 * (RoPE frequencies, chunk ranges, pooled sums), grow-only, and the
 * bookkeeping of the cache. */
typedef struct llmbed_decoder {
    llmbed_backend *backend;
    int64_t memory_limit_bytes; /* activations + cache; 0 = no limit */
    float *inv_freq;
    size_t inv_freq_capacity; /* floats */
    int32_t *chunk_ranges;    /* [2 * n_pools] local pool ranges of one chunk */
    double *pooled_sums;      /* [n_pools * hidden] */
    float *chunk_pooled;      /* [2 * n_pools * hidden] */
    size_t pool_capacity;     /* pools the three above hold */
    float *dense_rows;        /* two halves of Dense module outputs (finish_rows) */
    size_t dense_capacity;    /* floats */
    /* the cache: positions [0, length) of the last sequence kept in it */
    llmbed_cache_state cache;
    int32_t *chunk_starts;
    size_t chunk_capacity;
    int cache_valid;
} llmbed_decoder;

/* Runs the request: out (host memory) receives the n_pools pooled rows
 * post-processed by the backend (request->post), or [n_tokens, hidden]
 * final-norm hidden states (fp32) when pool_kind is 0. */
llmbed_status llmbed_decoder_forward(llmbed_decoder *decoder, const llmbed_forward_request *request,
                                     void *out, llmbed_error *error);

/* Runs a chunked sequence; out as for llmbed_decoder_forward (pool rows or
 * hidden states of the whole sequence). */
llmbed_status llmbed_decoder_forward_chunked(llmbed_decoder *decoder, const llmbed_chunked_request *request,
                                             void *out, llmbed_error *error);

/* Frees the scratch (not the backend); a zeroed decoder is a no-op. */
void llmbed_decoder_release(llmbed_decoder *decoder);

/* Bytes of key/value cache the backend allocates for one n_tokens sequence
 * in chunks of chunk_tokens with ThinK think_ratio; 0 without a cache. */
size_t llmbed_decoder_cache_bytes(const llmbed_decoder *decoder, int n_tokens, int chunk_tokens, float think_ratio);

#endif
