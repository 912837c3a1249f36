/* Dynamic batching for the server, behind a small interface so the HTTP
 * layer does not know how rows are made: a request's inputs go in as a
 * work item, its rows come out through a callback.
 *
 * This implementation runs over today's library: inputs are tokenised in
 * the submitting thread exactly as a window of `llmbed embed` prepares its
 * lines (prompt prepended, special tokens, truncation keeping them, the
 * same checks), then one engine thread merges the sequences of every
 * request into token-budget batches, longest first, waiting at most a short
 * window for a batch to fill, and embeds them with llmbed_embed. Rows are
 * pooled raw and post-processed per request (Matryoshka truncation to the
 * request's dimensions, then L2 normalisation) with the CPU reference's
 * post-processing op, as the engine does for the CLI. When the pipeline of
 * issue 19 lands, its streaming source and callback sink replace the body
 * of this file; the interface stays. */
#ifndef LLMBED_SERVE_ENGINE_H
#define LLMBED_SERVE_ENGINE_H

#include <stdint.h>

#include "llmbed.h"
#include "serve/serve_metrics.h"
#include "serve/serve_pool.h"
#include "serve/serve_request.h"

/* How rows are made, resolved once from the server's options as `llmbed
 * embed` resolves its own (host/cli/cmd_serve.c). */
typedef struct serve_row_spec {
    llmbed_embed_params params; /* resolved (no DEFAULT left); params.dims and normalize apply per work */
    const char *prompt;         /* prepended to text inputs; NULL = none */
    int32_t instruction_len;    /* prompt tokens left out of the pool; 0 = none */
    int64_t max_tokens;         /* longest input; 0 = no limit */
    int truncate;               /* 1: cut longer inputs keeping the special tokens; 0: reject them */
    int hidden_size;            /* width of a raw pooled row */
    int vocab_size;
} serve_row_spec;

typedef struct serve_work serve_work;
typedef struct serve_work_state serve_work_state;

struct serve_work {
    /* Set by the caller before serve_engine_submit. */
    const serve_input *inputs;
    int n_inputs;
    int dims;      /* output row width (<= hidden_size) */
    int normalize; /* 1: L2-normalise each row after truncation to dims */
    float *rows;   /* n_inputs * dims floats, the caller's */
    int (*is_gone)(serve_work *work); /* 1 once the client has left (checked between batches); may be NULL */
    void (*done)(serve_work *work);   /* called once, on a pool thread, when rows or an error are ready */
    void *user;
    /* Set by the engine before done(). */
    llmbed_status status; /* OK; INTERRUPTED when is_gone said so or the engine stopped; else the failure */
    int bad_input;        /* index of the input at fault, -1 when none */
    char message[LLMBED_ERROR_MESSAGE_CAPACITY];
    int64_t prompt_tokens; /* tokens embedded for this work (after truncation) */
    serve_work_state *state; /* the engine's */
};

typedef struct serve_engine serve_engine;

typedef struct serve_engine_config {
    const llmbed_model *model;
    llmbed_ctx *ctx; /* used by the engine thread only, from create to free */
    serve_row_spec spec;
    int64_t batch_tokens;  /* token budget of one forward (the context's) */
    double window_seconds; /* how long a batch may wait to fill (e.g. 0.002) */
    serve_pool *pool;      /* runs done() */
    serve_metrics *metrics;
} serve_engine_config;

/* Starts the engine thread. NULL when out of memory or the thread cannot start. */
serve_engine *serve_engine_create(const serve_engine_config *config);

/* Tokenises the work's inputs in the calling thread (any thread) and queues
 * its sequences; done() follows exactly once, also after an error. */
void serve_engine_submit(serve_engine *engine, serve_work *work);

/* Stops the engine thread: queued work ends with LLMBED_ERR_INTERRUPTED
 * (done() queued on the pool), and so does work submitted later. NULL is a no-op. */
void serve_engine_stop(serve_engine *engine);

/* Stops the engine if needed and frees it, once nothing can submit any more
 * (the pool is drained). NULL is a no-op. */
void serve_engine_free(serve_engine *engine);

#endif
