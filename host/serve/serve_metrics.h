/* Counters of the server, updated lock-free from every thread and rendered
 * as Prometheus text (exposition format 0.0.4) for GET /metrics. */
#ifndef LLMBED_SERVE_METRICS_H
#define LLMBED_SERVE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum serve_route {
    SERVE_ROUTE_EMBEDDINGS = 0,
    SERVE_ROUTE_MODELS,
    SERVE_ROUTE_HEALTH,
    SERVE_ROUTE_METRICS,
    SERVE_ROUTE_OTHER,
    SERVE_ROUTE_COUNT
} serve_route;

/* The statuses the server answers with; anything else counts as "other". */
#define SERVE_METRIC_CODES {200, 400, 401, 404, 405, 413, 429, 500, 503}
#define SERVE_METRIC_N_CODES 10 /* the list + "other" */

#define SERVE_HISTOGRAM_MAX_BUCKETS 16

typedef struct serve_histogram {
    const double *bounds; /* upper bounds, ascending; +Inf is implicit */
    int n_bounds;
    _Atomic uint64_t counts[SERVE_HISTOGRAM_MAX_BUCKETS + 1];
    _Atomic uint64_t sum_micro; /* sum of observations x 1e6 (integer, so it can be atomic) */
} serve_histogram;

typedef struct serve_metrics {
    _Atomic uint64_t requests[SERVE_ROUTE_COUNT][SERVE_METRIC_N_CODES];
    _Atomic uint64_t inputs;        /* inputs embedded */
    _Atomic uint64_t tokens;        /* tokens embedded (prompt_tokens of the answered requests) */
    _Atomic int64_t in_flight;      /* admitted embeddings requests not yet answered (the queue) */
    _Atomic int64_t pending_sequences; /* inputs in the engine (tokenising or waiting for a batch) */
    _Atomic uint64_t disconnects;   /* requests whose client left before the answer */
    serve_histogram batch_sequences, batch_tokens, latency_seconds;
} serve_metrics;

void serve_metrics_init(serve_metrics *metrics);

void serve_metrics_count_request(serve_metrics *metrics, serve_route route, int http_status);
void serve_histogram_observe(serve_histogram *histogram, double value);

/* Prometheus text; `model` labels llmbed_model_info. malloc'ed, NULL when out of memory. */
char *serve_metrics_render(serve_metrics *metrics, const char *model, size_t *len);

#endif
