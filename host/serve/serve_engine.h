/* Dynamic batching for the server, behind a small interface so the HTTP
 * layer does not know how rows are made: a request's inputs go in as a
 * work item, its rows come out through a callback.
 *
 * The body is the pipeline's stream (include/llmbed.h llmbed_stream_*):
 * the server's row options become one job spec there, resolved by the same
 * code as `llmbed embed`'s (host/pipeline/spec.c), so a row of the server is
 * the row `llmbed embed` writes for the same input and options. Each input
 * goes in tagged with its work and index; the stream tokenises it on its
 * threads, batches it with every client's inputs (longest first, up to the
 * token budget, waiting at most max_wait_us to fill) and calls back with its
 * row, truncated to the work's dims and normalised as the work asks. */
#ifndef LLMBED_SERVE_ENGINE_H
#define LLMBED_SERVE_ENGINE_H

#include <stdint.h>

#include "llmbed.h"
#include "serve/serve_metrics.h"
#include "serve/serve_pool.h"
#include "serve/serve_request.h"

typedef struct serve_work serve_work;
typedef struct serve_work_state serve_work_state;

struct serve_work {
    /* Set by the caller before serve_engine_submit. */
    const serve_input *inputs;
    int n_inputs;
    int dims;      /* output row width (<= hidden_size) */
    int normalize; /* 1: L2-normalise each row after truncation to dims */
    float *rows;   /* n_inputs * dims floats, the caller's */
    int (*is_gone)(serve_work *work); /* 1 once the client has left (asked before each input runs); may be NULL */
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
    llmbed_ctx *ctx;                   /* the stream's from create to free */
    const llmbed_text_params *text;    /* prompt, max_tokens, truncate (`llmbed embed`'s text params) */
    const llmbed_embed_params *params; /* pooling, dims, normalize, chunks (`llmbed embed`'s embed params) */
    int tokenize_threads;
    int64_t max_wait_us; /* how long a batch may wait to fill (e.g. 2000) */
    serve_pool *pool;    /* runs done() */
    serve_metrics *metrics;
} serve_engine_config;

/* Opens the stream. Errors (the spec's, naming the option) in *error. */
llmbed_status serve_engine_create(const serve_engine_config *config, serve_engine **out, llmbed_error *error);

/* Queues the work's inputs (any thread); done() follows exactly once, also
 * after an error. */
void serve_engine_submit(serve_engine *engine, serve_work *work);

/* Stops the engine: work still queued ends with LLMBED_ERR_INTERRUPTED
 * (done() queued on the pool), and so does work submitted later. NULL is a no-op. */
void serve_engine_stop(serve_engine *engine);

/* Stops the engine if needed and frees it, once nothing can submit any more
 * (the pool is drained). NULL is a no-op. */
void serve_engine_free(serve_engine *engine);

#endif
