/* llmbed serve: an OpenAI-compatible embeddings server (host/serve/). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/method_args.h"
#include "cli/options.h"
#include "serve/serve_engine.h"
#include "serve/serve_http.h"
#include "serve/serve_metrics.h"
#include "serve/serve_pool.h"

static const char *const serve_usage =
    "usage: llmbed serve --model PATH [--host 127.0.0.1] [--port 8080] [--api-key KEY | --api-key-file F] [options]\n"
    "\n"
    "Serves OpenAI's embeddings API: POST /v1/embeddings (input: a string, an array of strings,\n"
    "an array of token ids or an array of token-id arrays; encoding_format float or base64;\n"
    "dimensions), GET /v1/models, GET /health, GET /metrics (Prometheus). Rows equal `llmbed\n"
    "embed`'s with the same row options. Requests of all clients are tokenised on --workers\n"
    "threads and merged into batches of up to --max-batch-tokens tokens, longest first, each\n"
    "waiting at most 2 ms to fill. With --api-key, /v1/* needs 'Authorization: Bearer KEY'.\n"
    "\n"
    "Limits: a body over --max-request-bytes gets 413, more than --max-inputs inputs 400, and\n"
    "a request arriving while --max-queue requests are admitted 429 with Retry-After (memory\n"
    "stays below max-queue x max-request-bytes plus their tokens and rows). Connections idle\n"
    "for --timeout seconds are closed. SIGTERM or SIGINT: new requests get 503, admitted ones\n"
    "are answered, then the server exits 0 (status 31 if --timeout passed first; a second\n"
    "signal stops at once).";

typedef struct serve_args {
    const char *model, *host, *api_key, *api_key_file, *device, *pooling, *attention, *prompt, *prompt_name, *family;
    const char *model_name, *weights, *rope_scaling;
    int normalize, truncate, exclude_prompt;
    int64_t port, max_batch_tokens, max_request_bytes, max_inputs, max_queue, timeout, threads, workers;
    int64_t dims, layer, max_tokens, chunk_tokens, memory_limit_mib, mask_prefix_tokens;
    double think_ratio;
    cli_method_args method;
    cli_string_list adapters;
} serve_args;

/* The key from --api-key or the first line of --api-key-file (*owned freed by the caller). */
static llmbed_status resolve_api_key(const serve_args *a, char **owned, const char **key) {
    *owned = NULL;
    *key = a->api_key;
    if (a->api_key_file == NULL) return LLMBED_OK;
    if (a->api_key != NULL) {
        cli_error("llmbed serve: --api-key and --api-key-file exclude each other");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    FILE *f = fopen(a->api_key_file, "rb");
    char line[4096];
    if (f == NULL || fgets(line, sizeof line, f) == NULL) {
        cli_error("llmbed serve: --api-key-file %s: %s", a->api_key_file, f == NULL ? strerror(errno) : "empty file");
        if (f != NULL) fclose(f);
        return LLMBED_ERR_FILE_NOT_FOUND;
    }
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0) {
        cli_error("llmbed serve: --api-key-file %s: the first line is empty", a->api_key_file);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    *owned = strdup(line);
    *key = *owned;
    return *owned != NULL ? LLMBED_OK : LLMBED_ERR_OUT_OF_MEMORY;
}

static int is_loopback(const char *host) { return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0; }

/* Flags -> params as `llmbed embed` maps them (host/cli/cmd_embed.c run());
 * the job spec of the stream (host/pipeline/spec.c) resolves the rest:
 * the family's defaults, the prompt and its masked tokens, the token limit. */
static llmbed_status row_params(serve_args *a, llmbed_embed_params *params, llmbed_text_params *text,
                                char **owned_prompt) {
    llmbed_embed_params_default(params);
    llmbed_text_params_default(text);
    cli_method method;
    a->method.pooling = a->pooling;
    if (cli_resolve_method("serve", &a->method, &method) != LLMBED_OK) return LLMBED_ERR_INVALID_ARGUMENT;
    cli_method_params(&a->method, &method, params, text);
    if (a->attention != NULL && cli_parse_attention(a->attention, &params->attention) != 0) {
        cli_error("llmbed serve: --attention '%s': expected causal or bidirectional", a->attention);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    params->normalize = a->normalize;
    params->dims = (int)a->dims;
    params->layer = (int)a->layer;
    params->chunk_tokens = (int)a->chunk_tokens;
    params->think_ratio = (float)a->think_ratio;
    params->mask_prefix_tokens = (int)a->mask_prefix_tokens;
    text->exclude_prompt = a->exclude_prompt;
    text->max_tokens = a->max_tokens;
    text->truncate = a->truncate;
    return cli_resolve_prompt(a->model, a->prompt, a->prompt_name, owned_prompt, &text->prompt);
}

/* The model's name in answers: --model-name, else the last part of the path. */
static char *model_display_name(const serve_args *a) {
    if (a->model_name != NULL) return strdup(a->model_name);
    char *name = strdup(a->model);
    if (name == NULL) return NULL;
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/') name[--n] = '\0';
    const char *slash = strrchr(name, '/');
    if (slash != NULL && slash[1] != '\0') memmove(name, slash + 1, strlen(slash + 1) + 1);
    return name;
}

static double monotonic_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* SIGINT/SIGTERM reach the main thread through a pipe written by their
 * handler. Blocking them and sigwait()ing is not enough: OpenBLAS starts
 * its threads when it is loaded, before main(), with the signals unblocked,
 * so a signal arriving while the main thread is not inside sigwait() went
 * to one of them and its default action killed the server (exit -15 in 8
 * of 40 starts stopped at once, 2026-12-07). A handler runs on whichever
 * thread gets the signal; the pipe's write end is a static because a
 * handler can reach nothing else (it lives as long as the process). */
static int signal_pipe_write = -1;

static void on_stop_signal(int signal_number) {
    const int saved = errno;
    const unsigned char byte = (unsigned char)signal_number;
    if (write(signal_pipe_write, &byte, 1) < 0) {
        /* the pipe is full of earlier signals: this one is already seen */
    }
    errno = saved;
}

/* The read end of the pipe, with the handlers installed; -1 on failure. */
static int install_stop_signals(void) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    signal_pipe_write = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    return fds[0];
}

/* The next signal's number, waiting at most timeout_ms (-1 = forever); 0 when none came. */
static int next_stop_signal(int signals, int timeout_ms) {
    struct pollfd p = {signals, POLLIN, 0};
    for (;;) {
        const int ready = poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        unsigned char byte = 0;
        if (ready > 0 && read(signals, &byte, 1) == 1) return byte;
        return 0;
    }
}

/* Blocks until SIGINT/SIGTERM, then drains: 503 for new requests, admitted
 * ones answered, at most timeout seconds; a second signal ends the wait. */
static llmbed_status wait_and_drain(serve_http *http, int signals, int64_t timeout) {
    int signal_number = 0;
    while ((signal_number = next_stop_signal(signals, -1)) == 0) {
    }
    serve_http_begin_drain(http);
    fprintf(stderr, "llmbed: serve: %s: no new requests; answering the %ld admitted (at most %" PRId64 " s)\n",
            signal_number == SIGTERM ? "SIGTERM" : "SIGINT", serve_http_in_flight(http), timeout);
    const double deadline = monotonic_seconds() + (double)timeout;
    while (serve_http_in_flight(http) > 0 && monotonic_seconds() < deadline) {
        if (next_stop_signal(signals, 10) != 0) {
            fprintf(stderr, "llmbed: serve: second signal: stopping now\n");
            break;
        }
    }
    const long left = serve_http_in_flight(http);
    if (left == 0) return LLMBED_OK;
    cli_error("serve: stopped with %ld requests unanswered (they get 503 or a closed connection)", left);
    return LLMBED_ERR_INTERRUPTED;
}

static int run(serve_args *a) {
    /* First thing: a signal while the model loads is then seen at the wait (drain, exit 0). */
    const int signals = install_stop_signals();
    if (signals < 0) {
        cli_error("llmbed serve: cannot create the signal pipe: %s", strerror(errno));
        return LLMBED_ERR_INTERNAL;
    }
    if (a->port < 0 || a->port > 65535) {
        cli_error("llmbed serve: --port %" PRId64 ": expected 0..65535 (0 = any free port)", a->port);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    char *owned_key = NULL, *owned_prompt = NULL, *name = NULL;
    const char *key = NULL;
    llmbed_status st = resolve_api_key(a, &owned_key, &key);
    if (st != LLMBED_OK) return st;
    llmbed_ctx_params ctx_params;
    llmbed_ctx_params_default(&ctx_params);
    llmbed_model_params model_params;
    llmbed_model_params_default(&model_params);
    model_params.n_threads = (int)a->threads;
    model_params.adapters = a->adapters.items;
    model_params.n_adapters = a->adapters.n;
    model_params.family = a->family;
    model_params.rope_scaling = a->rope_scaling;
    llmbed_embed_params params, resolved;
    llmbed_text_params text;
    llmbed_model *model = NULL;
    llmbed_ctx *ctx = NULL;
    serve_pool *pool = NULL;
    serve_engine *engine = NULL;
    serve_http *http = NULL;
    llmbed_error error = {0};
    int row_dims = 0;
    if (cli_parse_device(a->device, &ctx_params) != 0) {
        cli_error("llmbed serve: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    if (ctx_params.n_devices != 0) { /* the stream runs one context's first engine */
        cli_error("llmbed serve: --device '%s': one GPU per server (run one server per GPU behind a load balancer)",
                  a->device);
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    if (cli_weights_option("serve", a->weights, &model_params) != 0) {
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    st = row_params(a, &params, &text, &owned_prompt);
    if (st == LLMBED_OK) st = cli_load_model_with(a->model, &model_params, &model);
    if (st != LLMBED_OK) goto done;
    st = llmbed_embed_params_resolve(model, &params, &resolved, &row_dims, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed serve: %s", error.message);
        goto done;
    }
    const int64_t batch_tokens = a->max_batch_tokens > 0 ? a->max_batch_tokens : llmbed_suggested_batch_tokens(model);
    ctx_params.n_threads = (int)a->threads;
    ctx_params.batch_tokens = batch_tokens;
    ctx_params.memory_limit_bytes = a->memory_limit_mib * 1024 * 1024;
    st = llmbed_ctx_create(model, &ctx_params, &ctx, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
        goto done;
    }
    cli_note_device(ctx);
    name = model_display_name(a);
    pool = serve_pool_create((int)a->workers);
    if (name == NULL || pool == NULL) {
        cli_error("llmbed serve: out of memory (or no thread could start)");
        st = LLMBED_ERR_OUT_OF_MEMORY;
        goto done;
    }
    serve_metrics metrics;
    serve_metrics_init(&metrics);
    const serve_engine_config engine_config = {ctx, &text, &params, (int)a->workers, 2000, pool, &metrics};
    st = serve_engine_create(&engine_config, &engine, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed serve: %s", error.message);
        goto done;
    }
    const serve_http_config http_config = {a->host, (int)a->port, key, (size_t)a->max_request_bytes, (int)a->max_inputs,
                                           (int)a->max_queue, (int)a->timeout, name, row_dims, resolved.normalize,
                                           engine, pool, &metrics};
    st = serve_http_start(&http_config, &http, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed serve: %s", error.message);
        goto done;
    }
    if (!is_loopback(a->host) && key == NULL)
        fprintf(stderr, "llmbed: warning: serving on %s without an API key: anyone who can reach this host can use "
                        "it (--api-key or --api-key-file)\n", a->host);
    fprintf(stderr,
            "llmbed: serving %s on http://%s%s%s:%d (rows of %d, normalize %d; batches of up to %" PRId64 " tokens)\n",
            name, strchr(a->host, ':') ? "[" : "", a->host, strchr(a->host, ':') ? "]" : "", serve_http_port(http),
            row_dims, resolved.normalize, batch_tokens);
    st = wait_and_drain(http, signals, a->timeout);
    if (st == LLMBED_OK)
        fprintf(stderr, "llmbed: serve: every admitted request answered (%llu embeddings requests answered 200); bye\n",
                (unsigned long long)atomic_load(&metrics.requests[SERVE_ROUTE_EMBEDDINGS][0]));
done:
    /* Order: no new body reaches the pool; the engine answers what it still
     * holds (queued inputs cancelled); the pool runs what is queued (parsing
     * into the stopped engine answers 503) and every answer, resuming its
     * connection; then the daemon stops with no connection suspended. */
    serve_http_close_intake(http);
    serve_engine_stop(engine);
    serve_pool_free(pool);
    serve_http_free(http);
    serve_engine_free(engine);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    free(name);
    free(owned_prompt);
    free(owned_key);
    return st;
}

int cli_serve(int argc, char **argv) {
    serve_args a = {.host = "127.0.0.1", .port = 8080, .device = "auto", .normalize = -1, .truncate = 1,
                    .exclude_prompt = -1, .max_request_bytes = 8 << 20, .max_inputs = 2048, .max_queue = 64,
                    .timeout = 30, .workers = 2};
    const cli_option options[] = {
        {"model", CLI_STRING, &a.model, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"model-name", CLI_STRING, &a.model_name, 0, 0, "NAME", "model name in answers (default: the path's last part)"},
        {"host", CLI_STRING, &a.host, 0, 0, "ADDR", "address to bind (default 127.0.0.1; 0.0.0.0 or :: for all)"},
        {"port", CLI_INT, &a.port, 0, 0, "N", "port (default 8080; 0 = any free port, printed at start)"},
        {"api-key", CLI_STRING, &a.api_key, 0, 0, "KEY", "require 'Authorization: Bearer KEY' on /v1/*"},
        {"api-key-file", CLI_STRING, &a.api_key_file, 0, 0, "F", "the key from the first line of F"},
        {"max-batch-tokens", CLI_INT, &a.max_batch_tokens, 0, 0, "N",
         "tokens per forward batch (default: from model size and free memory, as embed)"},
        {"max-request-bytes", CLI_INT, &a.max_request_bytes, 0, 1, "N", "largest request body (default 8 MiB)"},
        {"max-inputs", CLI_INT, &a.max_inputs, 0, 1, "N", "inputs per request (default 2048)"},
        {"max-queue", CLI_INT, &a.max_queue, 0, 1, "N", "embeddings requests admitted at once; more get 429 (default 64)"},
        {"timeout", CLI_INT, &a.timeout, 0, 1, "S", "idle connection timeout and shutdown drain limit (default 30)"},
        {"workers", CLI_INT, &a.workers, 0, 1, "N", "threads parsing, tokenising and encoding (default 2)"},
        {"device", CLI_STRING, &a.device, 0, 0, "D", CLI_DEVICE_HELP},
        {"threads", CLI_INT, &a.threads, 0, 0, "N", "CPU threads of the engine (0 = all cores)"},
        {"memory-limit", CLI_INT, &a.memory_limit_mib, 0, 1, "MiB", "activation + key/value cache memory of the engine"},
        {"pooling", CLI_STRING, &a.pooling, 0, 0, "P", "last, mean, first, weighted-mean or latent (NV-Embed)"},
        {"attention", CLI_STRING, &a.attention, 0, 0, "A", "causal or bidirectional"},
        {"family", CLI_STRING, &a.family, 0, 0, "NAME", "embedder convention instead of the detected one (llmbed info)"},
        {"adapter", CLI_STRING_LIST, &a.adapters, 0, 0, "DIR", "PEFT LoRA adapter merged at load (repeatable, in order)"},
        {"normalize", CLI_FLAG, &a.normalize, 1, 0, NULL, "L2-normalise each row"},
        {"no-normalize", CLI_FLAG, &a.normalize, 0, 0, NULL, "keep raw pooled rows (\"dimensions\" re-normalises)"},
        {"dims", CLI_INT, &a.dims, 0, 0, "N", "Matryoshka: rows of the first N values, re-normalised"},
        {"prompt", CLI_STRING, &a.prompt, 0, 0, "TEXT", "prepended to every text input"},
        {"prompt-name", CLI_STRING, &a.prompt_name, 0, 0, "NAME", "prompt from config_sentence_transformers.json"},
        {"exclude-prompt", CLI_FLAG, &a.exclude_prompt, 1, 0, NULL,
         "leave prompt tokens out of the pool (default: 1_Pooling include_prompt)"},
        {"include-prompt", CLI_FLAG, &a.exclude_prompt, 0, 0, NULL, "pool over the prompt tokens too"},
        {"max-tokens", CLI_INT, &a.max_tokens, 0, 0, "N", "longest input in tokens (default: the model's limit)"},
        {"truncate", CLI_FLAG, &a.truncate, 1, 0, NULL, "cut longer inputs (default)"},
        {"no-truncate", CLI_FLAG, &a.truncate, 0, 0, NULL, "answer 400 naming a longer input"},
        {"chunk-tokens", CLI_INT, &a.chunk_tokens, 0, 1, "C",
         "inputs longer than C tokens run in chunks of C over a key/value cache (causal)"},
        {"think-ratio", CLI_DOUBLE, &a.think_ratio, 0, 0, "X", "ThinK key-channel pruning of chunked inputs, [0, 1)"},
        {"layer", CLI_INT, &a.layer, 0, 0, "K", "early exit after K decoder layers (0 = all)"},
        {"mask-prefix-tokens", CLI_INT, &a.mask_prefix_tokens, 0, 0, "N", "drop the first N tokens of each input from the pool"},
        {"rope-scaling", CLI_STRING, &a.rope_scaling, 0, 0, "T:F",
         "RoPE scaling instead of the config's: none, linear:F, dynamic:F, yarn:F[:ORIG], llama3:F[:ORIG]"},
        {"weights", CLI_STRING, &a.weights, 0, 0, "W",
         "CPU weights: native (as the file stores them; rows = f32; default), bf16, or f32"},
        CLI_METHOD_OPTION_ROWS(a.method),
    };
    int parsed = cli_parse("serve", serve_usage, argc, argv, 2, options, (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (a.model == NULL) {
        cli_error("llmbed serve: --model PATH is required (see llmbed serve --help)");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return run(&a);
}
