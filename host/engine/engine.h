/* The embedding engine: runs the batches the pipeline (host/pipeline/)
 * planned, each one backend forward (or one long sequence in chunks over the
 * key/value cache), and post-processes the pooled rows (Matryoshka
 * truncation, L2 normalisation: the backend's postprocess op) into the caller's rows. It trusts what it is
 * given: options resolved by the job spec, sequences validated, batches cut
 * by the planner (no second split). Backend-neutral: it talks to the backend
 * only through host/backend.h. One engine is one worker of the pipeline's
 * engine stage (one per context: a GPU or a CPU replica). */
#ifndef LLMBED_ENGINE_ENGINE_H
#define LLMBED_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "decoder/decoder.h"
#include "llmbed.h"

/* llmbed_embed_params with every DEFAULT resolved from the model
 * (host/pipeline/spec.h). */
typedef struct llmbed_embed_options {
    llmbed_pooling pooling; /* never DEFAULT */
    int causal;
    int normalize;          /* 0 or 1 */
    int n_layers;           /* decoder layers to run (params.layer, or all) */
    int out_dims;           /* width of an output row: dims, the pooled width (after Dense modules), or hidden for NONE */
    float attention_temperature; /* softmax temperature of every attention layer; 1 = none */
    int chunk_tokens;       /* 0 = chunk only sequences above the budget */
    float think_ratio;      /* 0 = off */
    int continue_document;  /* sequences continue the cached document */
    int mask_prefix_tokens; /* leading tokens of every sequence left out of the pool */
} llmbed_embed_options;

/* Per-context state: the backend, the decoder loop's scratch and grow-only
 * staging buffers. */
typedef struct llmbed_engine {
    const llmbed_model *model;
    int n_threads;              /* CPU threads (0 = all cores), for host-side work around the backend */
    int64_t batch_tokens;       /* the caller's budget per forward */
    int64_t memory_limit_bytes; /* activation memory the backend may grow to; 0 = no limit */
    llmbed_backend *backend;    /* never NULL after a successful init */
    llmbed_decoder decoder;
    int32_t *seq_offsets;       /* [seq_capacity + 1] request offsets */
    int32_t *pool_begin;        /* [seq_capacity] request pool ranges */
    int32_t *pool_end;          /* [seq_capacity] */
    size_t seq_capacity;
    int64_t n_chunked;          /* sequences processed in chunks so far (for the CLI's notice) */
    int32_t *cache_lens;        /* [seq_capacity] cached positions each request sequence continues */
    int32_t *tokens;            /* [token_capacity] suffixes of sequences that share a cached prefix */
    size_t token_capacity;
    /* What the decoder's cache holds: a document (suffix mode) or the shared
     * prefix of the last packed run (its tokens, to reuse it), and the
     * options it was computed with (they change its keys and values). */
    int document_tokens;        /* > 0: a document of this many tokens */
    int32_t *prefix;
    int prefix_len;             /* > 0: a shared prefix of this many tokens */
    size_t prefix_capacity;
    int cached_layers;
    float cached_temperature, cached_think_ratio;
} llmbed_engine;

/* Creates the backend for `device` with activations for batch_tokens tokens.
 * A sequence longer than that grows the activations in place (weights stay
 * where they are) up to memory_limit_bytes (0 = no limit). */
llmbed_status llmbed_engine_init(llmbed_engine *engine, const llmbed_model *model,
                                 llmbed_device device, int device_index, int n_threads,
                                 int64_t batch_tokens, int64_t memory_limit_bytes, llmbed_error *error);

/* Frees the backend and buffers; a zeroed engine is a no-op. */
void llmbed_engine_release(llmbed_engine *engine);

/* Grows the backend's activations to `tokens` within the memory limit; on
 * failure the backend keeps its previous size and stays usable. */
llmbed_status llmbed_engine_grow(llmbed_engine *engine, int64_t tokens, llmbed_error *error);

/* Length above which a sequence needs a run of its own: a causal sequence
 * longer than the chunk size runs in chunks over the cache; any sequence
 * longer than the budget grows the activations. The planner cuts batches so
 * that such a sequence is alone. */
int64_t llmbed_engine_alone_above(const llmbed_engine *engine, const llmbed_embed_options *opt);

/* UNSUPPORTED when opt asks for chunking or ThinK on a backend without a
 * key/value cache (checked once per job). */
llmbed_status llmbed_engine_check_options(const llmbed_engine *engine, const llmbed_embed_options *opt,
                                          llmbed_error *error);

/* One planned run: sequences that fit one forward together, or a single
 * sequence (chunked or grown as llmbed_engine_alone_above says). Rows go to
 * out[n_sequences, out_dims] (pooling NONE: [tokens, hidden]). */
llmbed_status llmbed_engine_run(llmbed_engine *engine, const llmbed_batch *batch, const llmbed_embed_options *opt,
                                float *out, llmbed_error *error);

/* The document of suffix mode into the cache (validated ids). */
llmbed_status llmbed_engine_cache_document(llmbed_engine *engine, const int32_t *tokens, size_t n_tokens,
                                           const llmbed_embed_options *opt, llmbed_error *error);

/* Late chunking: one sequence (validated) pooled over validated spans into out[n_spans, out_dims]. */
llmbed_status llmbed_engine_embed_spans(llmbed_engine *engine, const int32_t *tokens, size_t n_tokens,
                                        const int32_t *spans, int n_spans, const llmbed_embed_options *opt,
                                        float *out, llmbed_error *error);

#endif
