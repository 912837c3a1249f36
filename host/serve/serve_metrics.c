#include "serve/serve_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int metric_codes[] = SERVE_METRIC_CODES;
static const char *const route_names[SERVE_ROUTE_COUNT] = {"/v1/embeddings", "/v1/models", "/health", "/metrics",
                                                           "other"};
static const double sequence_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double token_bounds[] = {16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

static void histogram_init(serve_histogram *h, const double *bounds, int n) {
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n;
}

void serve_metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    histogram_init(&m->batch_sequences, sequence_bounds, (int)(sizeof sequence_bounds / sizeof *sequence_bounds));
    histogram_init(&m->batch_tokens, token_bounds, (int)(sizeof token_bounds / sizeof *token_bounds));
    histogram_init(&m->latency_seconds, latency_bounds, (int)(sizeof latency_bounds / sizeof *latency_bounds));
}

void serve_metrics_count_request(serve_metrics *m, serve_route route, int http_status) {
    int slot = SERVE_METRIC_N_CODES - 1;
    for (int i = 0; i < SERVE_METRIC_N_CODES - 1; i++) {
        if (metric_codes[i] == http_status) slot = i;
    }
    atomic_fetch_add(&m->requests[route][slot], 1);
}

void serve_histogram_observe(serve_histogram *h, double value) {
    int bucket = h->n_bounds;
    for (int i = 0; i < h->n_bounds; i++) {
        if (value <= h->bounds[i]) {
            bucket = i;
            break;
        }
    }
    atomic_fetch_add(&h->counts[bucket], 1);
    atomic_fetch_add(&h->sum_micro, (uint64_t)(value * 1e6 + 0.5));
}

typedef struct text_out {
    char *data;
    size_t len, capacity;
    int failed;
} text_out;

static void put(text_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rendered once per scrape: a few hundred lines, so printf is fine here. */
static void put(text_out *o, const char *fmt, ...) {
    if (o->failed) return;
    for (;;) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(o->data + o->len, o->capacity - o->len, fmt, args);
        va_end(args);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if (o->len + (size_t)n < o->capacity) {
            o->len += (size_t)n;
            return;
        }
        size_t want = o->capacity * 2 + (size_t)n;
        char *grown = realloc(o->data, want);
        if (grown == NULL) {
            o->failed = 1;
            return;
        }
        o->data = grown;
        o->capacity = want;
    }
}

static void put_histogram(text_out *o, const char *name, const char *help, serve_histogram *h) {
    put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (int i = 0; i <= h->n_bounds; i++) {
        cumulative += atomic_load(&h->counts[i]);
        if (i < h->n_bounds) put(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cumulative);
        else put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
    }
    put(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&h->sum_micro) / 1e6, name,
        (unsigned long long)cumulative);
}

char *serve_metrics_render(serve_metrics *m, const char *model, size_t *len) {
    text_out o = {malloc(4096), 0, 4096, 0};
    if (o.data == NULL) return NULL;
    put(&o, "# HELP llmbed_model_info The model this server embeds with.\n# TYPE llmbed_model_info gauge\n");
    put(&o, "llmbed_model_info{model=\"");
    for (const char *c = model; *c != '\0'; c++) put(&o, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
    put(&o, "\"} 1\n");
    put(&o, "# HELP llmbed_http_requests_total HTTP requests answered, by path and status.\n"
            "# TYPE llmbed_http_requests_total counter\n");
    for (int r = 0; r < SERVE_ROUTE_COUNT; r++) {
        for (int c = 0; c < SERVE_METRIC_N_CODES; c++) {
            uint64_t v = atomic_load(&m->requests[r][c]);
            if (v == 0) continue;
            if (c < SERVE_METRIC_N_CODES - 1)
                put(&o, "llmbed_http_requests_total{path=\"%s\",code=\"%d\"} %llu\n", route_names[r], metric_codes[c],
                    (unsigned long long)v);
            else
                put(&o, "llmbed_http_requests_total{path=\"%s\",code=\"other\"} %llu\n", route_names[r],
                    (unsigned long long)v);
        }
    }
    put(&o, "# HELP llmbed_inputs_total Inputs embedded.\n# TYPE llmbed_inputs_total counter\nllmbed_inputs_total %llu\n",
        (unsigned long long)atomic_load(&m->inputs));
    put(&o, "# HELP llmbed_tokens_total Tokens embedded.\n# TYPE llmbed_tokens_total counter\nllmbed_tokens_total %llu\n",
        (unsigned long long)atomic_load(&m->tokens));
    put(&o, "# HELP llmbed_client_disconnects_total Requests dropped because the client left.\n"
            "# TYPE llmbed_client_disconnects_total counter\nllmbed_client_disconnects_total %llu\n",
        (unsigned long long)atomic_load(&m->disconnects));
    put(&o, "# HELP llmbed_queue_depth Embedding requests admitted and not yet answered (bounded by --max-queue).\n"
            "# TYPE llmbed_queue_depth gauge\nllmbed_queue_depth %lld\n",
        (long long)atomic_load(&m->in_flight));
    put(&o, "# HELP llmbed_pending_sequences Inputs in the engine: being tokenised or waiting for a batch.\n"
            "# TYPE llmbed_pending_sequences gauge\nllmbed_pending_sequences %lld\n",
        (long long)atomic_load(&m->pending_sequences));
    put_histogram(&o, "llmbed_batch_sequences", "Sequences per forward batch.", &m->batch_sequences);
    put_histogram(&o, "llmbed_batch_tokens", "Tokens per forward batch.", &m->batch_tokens);
    put_histogram(&o, "llmbed_request_duration_seconds",
                  "Time from a request's body to its answer, embeddings requests answered 200.", &m->latency_seconds);
    if (o.failed) {
        free(o.data);
        return NULL;
    }
    *len = o.len;
    return o.data;
}
