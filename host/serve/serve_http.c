#include "serve/serve_http.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/error.h"
#include "serve/serve_request.h"
#include "serve/serve_response.h"

struct serve_http {
    serve_http_config config;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int draining;
    pthread_mutex_t intake_lock; /* orders closing against handing bodies to the pool */
    int intake_closed;
    atomic_long in_flight;
    int64_t started; /* Unix time, "created" of /v1/models */
};

typedef enum call_state { CALL_RECEIVING = 0, CALL_WORKING, CALL_ANSWERED, CALL_GONE } call_state;

/* One POST /v1/embeddings from headers to answer. */
typedef struct serve_call {
    serve_http *http;
    struct MHD_Connection *connection;
    int fd;
    char *body;
    size_t len, capacity;
    size_t discarded; /* > 0: the body passed the limit; bytes dropped since */
    call_state state;
    serve_request request;
    serve_work work;
    float *rows;
    double received; /* monotonic time the body was complete */
    /* The answer, built on a pool thread and queued by the HTTP thread. */
    unsigned status;
    char *answer;
    size_t answer_len;
    const char *retry_after;
    atomic_int client_gone;
} serve_call;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static serve_route route_of(const char *url) {
    if (strcmp(url, "/v1/embeddings") == 0 || strcmp(url, "/embeddings") == 0) return SERVE_ROUTE_EMBEDDINGS;
    if (strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0) return SERVE_ROUTE_MODELS;
    if (strcmp(url, "/health") == 0) return SERVE_ROUTE_HEALTH;
    if (strcmp(url, "/metrics") == 0) return SERVE_ROUTE_METRICS;
    return SERVE_ROUTE_OTHER;
}

/* Queues body (malloc'ed, owned from here) with status and content type. */
static enum MHD_Result send_body(serve_http *http, struct MHD_Connection *connection, serve_route route,
                                 unsigned status, char *body, size_t len, const char *content_type,
                                 const char *extra_name, const char *extra_value) {
    if (body == NULL) return MHD_NO; /* out of memory: drop the connection */
    struct MHD_Response *response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (response == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_name != NULL) MHD_add_response_header(response, extra_name, extra_value);
    if (atomic_load(&http->draining)) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    serve_metrics_count_request(http->config.metrics, route, (int)status);
    return result;
}

static enum MHD_Result send_error(serve_http *http, struct MHD_Connection *connection, serve_route route,
                                  unsigned status, const char *message, const char *type, const char *param,
                                  const char *code, const char *extra_name, const char *extra_value) {
    size_t len = 0;
    char *body = serve_response_error(message, type, param, code, &len);
    return send_body(http, connection, route, status, body, len, "application/json", extra_name, extra_value);
}

/* Bearer token check in time independent of where the strings differ. */
static int authorized(const serve_http *http, struct MHD_Connection *connection) {
    const char *key = http->config.api_key;
    if (key == NULL) return 1;
    const char *header = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (header == NULL || strncmp(header, "Bearer ", 7) != 0) return 0;
    const char *given = header + 7;
    const size_t n_key = strlen(key), n_given = strlen(given);
    unsigned char diff = n_key != n_given;
    for (size_t i = 0; i < n_key; i++) diff |= (unsigned char)(key[i] ^ given[i < n_given ? i : 0]);
    return diff == 0;
}

static enum MHD_Result answer_get(serve_http *http, struct MHD_Connection *connection, serve_route route) {
    size_t len = 0;
    switch (route) {
    case SERVE_ROUTE_HEALTH: {
        /* The model is loaded before the socket is bound: serving means healthy. */
        char *body = strdup(atomic_load(&http->draining) ? "{\"status\":\"draining\"}" : "{\"status\":\"ok\"}");
        return send_body(http, connection, route, atomic_load(&http->draining) ? 503 : 200, body, body ? strlen(body) : 0,
                         "application/json", NULL, NULL);
    }
    case SERVE_ROUTE_METRICS: {
        char *body = serve_metrics_render(http->config.metrics, http->config.model_name, &len);
        return send_body(http, connection, route, 200, body, len, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
    }
    case SERVE_ROUTE_MODELS: {
        char *body = serve_response_models(http->config.model_name, http->started, &len);
        return send_body(http, connection, route, 200, body, len, "application/json", NULL, NULL);
    }
    default:
        return MHD_NO;
    }
}

/* ------------------------------------------------- embeddings requests */

static int client_gone(serve_work *work) {
    serve_call *call = work->user;
    struct pollfd p = {call->fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
        atomic_store(&call->client_gone, 1);
        return 1;
    }
    return 0;
}

static void set_error(serve_call *call, unsigned status, const char *message, const char *type, const char *param,
                      const char *code) {
    call->status = status;
    call->answer = serve_response_error(message, type, param, code, &call->answer_len);
}

/* Engine status -> HTTP: what the client can fix is a 400 naming the input. */
static void set_work_error(serve_call *call, const serve_work *work) {
    switch (work->status) {
    case LLMBED_ERR_INTERRUPTED:
        if (atomic_load(&call->client_gone)) {
            call->state = CALL_GONE;
            return;
        }
        set_error(call, 503, "the server is shutting down; retry on another instance", "server_error", NULL,
                  "shutting_down");
        return;
    case LLMBED_ERR_TOKEN_OUT_OF_RANGE:
    case LLMBED_ERR_EMPTY_SEQUENCE:
    case LLMBED_ERR_SEQUENCE_TOO_LONG:
    case LLMBED_ERR_INVALID_ARGUMENT:
    case LLMBED_ERR_TOKENIZER_MISSING:
        set_error(call, 400, work->message, "invalid_request_error", "input", "invalid_input");
        return;
    default:
        set_error(call, 500, work->message[0] ? work->message : llmbed_status_str(work->status), "server_error", NULL,
                  llmbed_status_name(work->status));
        return;
    }
}

/* The engine's callback, on a pool thread: build the answer, wake the connection. */
static void work_done(serve_work *work) {
    serve_call *call = work->user;
    serve_http *http = call->http;
    if (work->status == LLMBED_OK) {
        call->status = 200;
        call->answer = serve_response_embeddings(call->rows, work->n_inputs, work->dims, call->request.base64,
                                                 http->config.model_name, work->prompt_tokens, &call->answer_len);
        atomic_fetch_add(&http->config.metrics->inputs, (uint64_t)work->n_inputs);
        atomic_fetch_add(&http->config.metrics->tokens, (uint64_t)work->prompt_tokens);
        serve_histogram_observe(&http->config.metrics->latency_seconds, now_seconds() - call->received);
    } else {
        set_work_error(call, work);
    }
    if (call->state != CALL_GONE) call->state = CALL_ANSWERED;
    MHD_resume_connection(call->connection);
}

/* Pool task: parse the body, check it against the server, hand it to the engine. */
static void parse_task(void *arg) {
    serve_call *call = arg;
    serve_http *http = call->http;
    serve_request_error error;
    serve_parse_result r = serve_request_parse(call->body, call->len, http->config.max_inputs, &call->request, &error);
    free(call->body);
    call->body = NULL;
    if (r == SERVE_PARSE_OK && call->request.dimensions > http->config.row_dims) {
        snprintf(error.message, sizeof error.message, "dimensions %d: more than this model's %d", call->request.dimensions,
                 http->config.row_dims);
        error.param = "dimensions";
        r = SERVE_PARSE_INVALID;
    }
    const int dims = call->request.dimensions > 0 ? call->request.dimensions : http->config.row_dims;
    if (r == SERVE_PARSE_OK) {
        call->rows = malloc((size_t)call->request.n_inputs * (size_t)dims * sizeof *call->rows);
        if (call->rows == NULL) r = SERVE_PARSE_NO_MEMORY;
    }
    if (r != SERVE_PARSE_OK) {
        if (r == SERVE_PARSE_INVALID)
            set_error(call, 400, error.message, "invalid_request_error", error.param, "invalid_request");
        else
            set_error(call, 500, "out of memory parsing the request", "server_error", NULL, "out_of_memory");
        call->state = CALL_ANSWERED;
        MHD_resume_connection(call->connection);
        return;
    }
    serve_work *work = &call->work;
    work->inputs = call->request.inputs;
    work->n_inputs = call->request.n_inputs;
    work->dims = dims;
    work->normalize = http->config.normalize || call->request.dimensions > 0;
    work->rows = call->rows;
    work->is_gone = client_gone;
    work->done = work_done;
    work->user = call;
    serve_engine_submit(http->config.engine, work);
}

static enum MHD_Result admit(serve_http *http, struct MHD_Connection *connection, void **con_cls) {
    const serve_route route = SERVE_ROUTE_EMBEDDINGS;
    if (!authorized(http, connection))
        return send_error(http, connection, route, 401, "missing or wrong API key (send Authorization: Bearer KEY)",
                          "invalid_request_error", NULL, "invalid_api_key", MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&http->draining))
        return send_error(http, connection, route, 503, "the server is shutting down; retry on another instance",
                          "server_error", NULL, "shutting_down", NULL, NULL);
    const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = length != NULL ? strtoull(length, NULL, 10) : 0;
    if (declared > http->config.max_request_bytes) {
        char message[160];
        snprintf(message, sizeof message, "the body is %llu bytes, more than this server's limit of %zu (--max-request-bytes)",
                 declared, http->config.max_request_bytes);
        return send_error(http, connection, route, 413, message, "invalid_request_error", NULL, "request_too_large",
                          NULL, NULL);
    }
    /* Admission bounds memory: at most max_queue bodies are held at once. */
    if (atomic_fetch_add(&http->in_flight, 1) >= http->config.max_queue) {
        atomic_fetch_sub(&http->in_flight, 1);
        return send_error(http, connection, route, 429, "too many requests queued; retry shortly", "rate_limit_error",
                          NULL, "queue_full", MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    atomic_fetch_add(&http->config.metrics->in_flight, 1);
    serve_call *call = calloc(1, sizeof *call);
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (call == NULL || info == NULL) {
        free(call);
        atomic_fetch_sub(&http->in_flight, 1);
        atomic_fetch_sub(&http->config.metrics->in_flight, 1);
        return MHD_NO;
    }
    call->http = http;
    call->connection = connection;
    call->fd = info->connect_fd;
    call->capacity = declared > 0 ? (size_t)declared : 0;
    if (call->capacity > 0) call->body = malloc(call->capacity);
    *con_cls = call;
    return MHD_YES;
}

static enum MHD_Result receive(serve_call *call, const char *data, size_t *size) {
    serve_http *http = call->http;
    if (call->discarded > 0 || call->len + *size > http->config.max_request_bytes) {
        /* Over the limit: read and drop the rest (up to the limit once more)
         * so the client gets the 413 instead of a reset from unread data. */
        call->discarded += *size;
        *size = 0;
        free(call->body);
        call->body = NULL;
        call->len = call->capacity = 0;
        if (call->discarded > http->config.max_request_bytes) return MHD_NO;
        if (call->discarded == 0) call->discarded = 1;
        return MHD_YES;
    }
    if (call->len + *size > call->capacity) {
        size_t want = call->capacity > 0 ? call->capacity * 2 : 4096;
        while (want < call->len + *size) want *= 2;
        if (want > http->config.max_request_bytes) want = http->config.max_request_bytes;
        char *grown = realloc(call->body, want);
        if (grown == NULL) return MHD_NO;
        call->body = grown;
        call->capacity = want;
    }
    memcpy(call->body + call->len, data, *size);
    call->len += *size;
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    serve_http *http = cls;
    serve_call *call = *con_cls;
    if (call == NULL) {
        const serve_route route = route_of(url);
        const int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        const int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        if (route == SERVE_ROUTE_OTHER)
            return send_error(http, connection, route, 404, "no such endpoint (POST /v1/embeddings, GET /v1/models, "
                              "GET /health, GET /metrics)", "invalid_request_error", NULL, "not_found", NULL, NULL);
        if (route == SERVE_ROUTE_EMBEDDINGS && !is_post)
            return send_error(http, connection, route, 405, "use POST for /v1/embeddings", "invalid_request_error", NULL,
                              "method_not_allowed", MHD_HTTP_HEADER_ALLOW, "POST");
        if (route != SERVE_ROUTE_EMBEDDINGS && !is_get)
            return send_error(http, connection, route, 405, "use GET for this endpoint", "invalid_request_error", NULL,
                              "method_not_allowed", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        if (route == SERVE_ROUTE_MODELS && !authorized(http, connection))
            return send_error(http, connection, route, 401, "missing or wrong API key (send Authorization: Bearer KEY)",
                              "invalid_request_error", NULL, "invalid_api_key", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                              "Bearer");
        if (route != SERVE_ROUTE_EMBEDDINGS) return answer_get(http, connection, route);
        return admit(http, connection, con_cls);
    }
    switch (call->state) {
    case CALL_RECEIVING:
        if (*upload_data_size > 0) return receive(call, upload_data, upload_data_size);
        if (call->discarded > 0) {
            char message[160];
            snprintf(message, sizeof message,
                     "the body is more than this server's limit of %zu bytes (--max-request-bytes)",
                     http->config.max_request_bytes);
            call->state = CALL_GONE;
            return send_error(http, connection, SERVE_ROUTE_EMBEDDINGS, 413, message, "invalid_request_error", NULL,
                              "request_too_large", MHD_HTTP_HEADER_CONNECTION, "close");
        }
        call->received = now_seconds();
        pthread_mutex_lock(&http->intake_lock);
        if (http->intake_closed) {
            pthread_mutex_unlock(&http->intake_lock);
            call->state = CALL_GONE;
            return send_error(http, connection, SERVE_ROUTE_EMBEDDINGS, 503, "the server is shutting down; retry on "
                              "another instance", "server_error", NULL, "shutting_down", NULL, NULL);
        }
        call->state = CALL_WORKING;
        MHD_suspend_connection(connection);
        if (serve_pool_run(http->config.pool, parse_task, call) != LLMBED_OK) {
            set_error(call, 500, "out of memory queueing the request", "server_error", NULL, "out_of_memory");
            call->state = CALL_ANSWERED;
            MHD_resume_connection(connection);
        }
        pthread_mutex_unlock(&http->intake_lock);
        return MHD_YES;
    case CALL_WORKING:
        return MHD_YES; /* resumed spuriously: wait for the answer */
    case CALL_ANSWERED: {
        if (call->answer == NULL) return MHD_NO; /* out of memory building it */
        char *answer = call->answer;
        call->answer = NULL;
        return send_body(http, connection, SERVE_ROUTE_EMBEDDINGS, call->status, answer, call->answer_len,
                         "application/json", NULL, NULL);
    }
    case CALL_GONE:
    default:
        return MHD_NO;
    }
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
    (void)connection;
    (void)code;
    serve_http *http = cls;
    serve_call *call = *con_cls;
    if (call == NULL) return;
    *con_cls = NULL;
    free(call->body);
    free(call->answer);
    free(call->rows);
    serve_request_clear(&call->request);
    free(call);
    atomic_fetch_sub(&http->in_flight, 1);
    atomic_fetch_sub(&http->config.metrics->in_flight, 1);
}

llmbed_status serve_http_start(const serve_http_config *config, serve_http **out, llmbed_error *error) {
    *out = NULL;
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, config->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)config->port);
    } else if (inet_pton(AF_INET6, config->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)config->port);
        flags |= MHD_USE_IPv6;
    } else {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "--host '%s': expected a numeric IPv4 or IPv6 address (127.0.0.1, 0.0.0.0, ::1)", config->host);
    }
    serve_http *http = calloc(1, sizeof *http);
    if (http == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    http->config = *config;
    pthread_mutex_init(&http->intake_lock, NULL);
    http->started = (int64_t)time(NULL);
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)config->timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (http->daemon == NULL) {
        pthread_mutex_destroy(&http->intake_lock);
        free(http);
        return llmbed_fail(error, LLMBED_ERR_IO, "cannot listen on %s port %d (in use, or not an address of this host)",
                           config->host, config->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info != NULL ? info->port : config->port;
    *out = http;
    return LLMBED_OK;
}

int serve_http_port(const serve_http *http) { return http->port; }

void serve_http_begin_drain(serve_http *http) { atomic_store(&http->draining, 1); }

long serve_http_in_flight(const serve_http *http) { return atomic_load(&((serve_http *)http)->in_flight); }

void serve_http_close_intake(serve_http *http) {
    if (http == NULL) return;
    pthread_mutex_lock(&http->intake_lock);
    http->intake_closed = 1;
    pthread_mutex_unlock(&http->intake_lock);
}

void serve_http_free(serve_http *http) {
    if (http == NULL) return;
    MHD_stop_daemon(http->daemon);
    pthread_mutex_destroy(&http->intake_lock);
    free(http);
}
