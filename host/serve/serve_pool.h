/* A fixed set of worker threads running queued tasks in FIFO order: the
 * server parses requests and encodes responses there, off the
 * HTTP thread and off the stream's threads. */
#ifndef LLMBED_SERVE_POOL_H
#define LLMBED_SERVE_POOL_H

#include "llmbed.h"

typedef struct serve_pool serve_pool;

/* n_threads >= 1. NULL when out of memory or no thread could start. */
serve_pool *serve_pool_create(int n_threads);

/* Queues fn(arg). Any thread. LLMBED_ERR_OUT_OF_MEMORY when the task cannot
 * be queued (then fn is not called). */
llmbed_status serve_pool_run(serve_pool *pool, void (*fn)(void *arg), void *arg);

/* Runs every queued task, then joins the threads and frees the pool. NULL is a no-op. */
void serve_pool_free(serve_pool *pool);

#endif
