/* The HTTP side of `llmbed serve`, over GNU libmicrohttpd (Debian's
 * libmicrohttpd12): one epoll thread reads requests and writes answers;
 * parsing and encoding run on the worker pool, tokenising and embedding in
 * the pipeline's stream (serve/serve_engine.h), the connection suspended in
 * between.
 *
 * Endpoints (OpenAI's shapes): POST /v1/embeddings, GET /v1/models,
 * GET /health, GET /metrics. Errors in OpenAI's error shape; 400 bad input,
 * 401 missing/wrong key, 404, 405, 413 body over the limit (Content-Length
 * or while reading), 429 + Retry-After when --max-queue requests are
 * already admitted, 503 while draining. */
#ifndef LLMBED_SERVE_HTTP_H
#define LLMBED_SERVE_HTTP_H

#include <stddef.h>

#include "llmbed.h"
#include "serve/serve_engine.h"
#include "serve/serve_metrics.h"
#include "serve/serve_pool.h"

typedef struct serve_http_config {
    const char *host;         /* numeric IPv4 or IPv6 address to bind */
    int port;                 /* 0 = any free port (serve_http_port tells which) */
    const char *api_key;      /* NULL = no authentication */
    size_t max_request_bytes; /* body limit */
    int max_inputs;           /* inputs per request */
    int max_queue;            /* embeddings requests admitted at once (receiving, queued or embedding) */
    int timeout_seconds;      /* idle connections are closed after this */
    const char *model_name;   /* "model" of the answers and /v1/models */
    int row_dims;             /* width of a row without "dimensions" */
    int normalize;            /* rows L2-normalised by default ("dimensions" always re-normalises) */
    serve_engine *engine;
    serve_pool *pool;
    serve_metrics *metrics;
} serve_http_config;

typedef struct serve_http serve_http;

/* Binds and starts serving. On failure *error names the address. */
llmbed_status serve_http_start(const serve_http_config *config, serve_http **out, llmbed_error *error);

/* The bound port. */
int serve_http_port(const serve_http *http);

/* From now on new embeddings requests get 503 (with Connection: close);
 * admitted ones go on. Any thread. */
void serve_http_begin_drain(serve_http *http);

/* Embeddings requests admitted and not yet answered. Any thread. */
long serve_http_in_flight(const serve_http *http);

/* From now on a request whose body completes is answered 503 at once,
 * never handed to the pool: call before the pool is drained at shutdown. */
void serve_http_close_intake(serve_http *http);

/* Stops the daemon (every connection closed) and frees. Call after
 * serve_http_close_intake and after the engine and the pool are stopped,
 * so no connection is left suspended. */
void serve_http_free(serve_http *http);

#endif
