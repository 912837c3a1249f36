#include "serve/serve_engine.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* What a stream input carries back: its work and its index there. */
typedef struct serve_tag {
    serve_work *work;
    int index;
} serve_tag;

struct serve_work_state {
    serve_tag *tags; /* one per input */
    int remaining;   /* inputs not yet called back */
    int failed;      /* set once: the work is answered with its error, its other rows are dropped */
};

struct serve_engine {
    serve_engine_config config;
    llmbed_stream *stream;
    pthread_mutex_t lock;   /* the works' states */
    pthread_mutex_t intake; /* submit against stop: nothing enters a closing stream */
    int stopping;           /* under intake and lock */
};

static void fail_work(serve_work *work, llmbed_status status, int bad_input, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_work(serve_work *work, llmbed_status status, int bad_input, const char *fmt, ...) {
    work->status = status;
    work->bad_input = bad_input;
    va_list args;
    va_start(args, fmt);
    vsnprintf(work->message, sizeof work->message, fmt, args);
    va_end(args);
}

static void finish_task(void *arg) {
    serve_work *work = arg;
    if (work->state != NULL) free(work->state->tags);
    free(work->state);
    work->state = NULL;
    work->done(work);
}

/* done() on a pool thread, off the stream's threads. */
static void finish(serve_engine *engine, serve_work *work) {
    if (serve_pool_run(engine->config.pool, finish_task, work) != LLMBED_OK) finish_task(work);
}

/* The stream names an input "input <submission number>: ..."; a client
 * knows it as input[<index in its request>]. */
static const char *without_stream_name(const char *message) {
    if (strncmp(message, "input ", 6) != 0) return message;
    const char *colon = strstr(message, ": ");
    return colon != NULL ? colon + 2 : message;
}

/* The stream's callback (a stream thread): the row into the work's rows, or
 * the work's first error; the last input of a work finishes it. */
static void on_row(void *user, const llmbed_stream_row *row) {
    serve_engine *e = user;
    const serve_tag *tag = row->tag;
    serve_work *work = tag->work;
    const int ok = row->status == LLMBED_OK && row->dims == work->dims;
    if (ok) memcpy(work->rows + (size_t)tag->index * (size_t)work->dims, row->row, sizeof(float) * (size_t)row->dims);
    pthread_mutex_lock(&e->lock);
    serve_work_state *s = work->state;
    if (!s->failed && !ok) {
        s->failed = 1;
        if (row->status == LLMBED_OK)
            fail_work(work, LLMBED_ERR_INTERNAL, tag->index, "input[%d]: a row of %d values, %d expected", tag->index,
                      row->dims, work->dims);
        else if (row->status == LLMBED_ERR_INTERRUPTED)
            fail_work(work, row->status, -1, "the server stopped");
        else
            fail_work(work, row->status, tag->index, "input[%d]: %s", tag->index, without_stream_name(row->message));
    }
    if (ok) work->prompt_tokens += row->tokens;
    const int last = --s->remaining == 0;
    pthread_mutex_unlock(&e->lock);
    atomic_fetch_sub(&e->config.metrics->pending_sequences, 1);
    if (last) finish(e, work);
}

/* Asked by the stream before an input is tokenised and before its batch
 * runs: a work that failed, whose client left or that the engine stopped
 * spends nothing more. */
static int is_cancelled(void *user, void *tag_ptr) {
    serve_engine *e = user;
    serve_work *work = ((const serve_tag *)tag_ptr)->work;
    pthread_mutex_lock(&e->lock);
    int cancelled = work->state->failed || e->stopping;
    pthread_mutex_unlock(&e->lock);
    if (cancelled || work->is_gone == NULL || !work->is_gone(work)) return cancelled;
    pthread_mutex_lock(&e->lock);
    if (!work->state->failed) {
        work->state->failed = 1;
        fail_work(work, LLMBED_ERR_INTERRUPTED, -1, "the client closed the connection");
        atomic_fetch_add(&e->config.metrics->disconnects, 1);
    }
    pthread_mutex_unlock(&e->lock);
    return 1;
}

static void on_batch(void *user, int n_inputs, int64_t n_tokens) {
    serve_engine *e = user;
    serve_histogram_observe(&e->config.metrics->batch_sequences, n_inputs);
    serve_histogram_observe(&e->config.metrics->batch_tokens, (double)n_tokens);
}

void serve_engine_submit(serve_engine *engine, serve_work *work) {
    work->status = LLMBED_OK;
    work->bad_input = -1;
    work->message[0] = '\0';
    work->prompt_tokens = 0;
    work->state = calloc(1, sizeof *work->state);
    llmbed_stream_input *inputs = calloc((size_t)work->n_inputs, sizeof *inputs);
    if (work->state != NULL) work->state->tags = calloc((size_t)work->n_inputs, sizeof *work->state->tags);
    if (work->state == NULL || work->state->tags == NULL || inputs == NULL) {
        free(inputs);
        fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, -1, "out of memory for %d inputs", work->n_inputs);
        finish(engine, work);
        return;
    }
    for (int i = 0; i < work->n_inputs; i++) {
        const serve_input *in = &work->inputs[i];
        work->state->tags[i] = (serve_tag){work, i};
        inputs[i] = (llmbed_stream_input){.dims = work->dims, .normalize = work->normalize, .tag = &work->state->tags[i]};
        if (in->kind == SERVE_INPUT_TEXT) {
            inputs[i].text = in->text;
            inputs[i].text_len = in->text_len;
        } else {
            /* an empty id array is still ids (the stream rejects it as an empty sequence, naming it) */
            static const int32_t no_ids[1] = {0};
            inputs[i].ids = in->ids != NULL ? in->ids : no_ids;
            inputs[i].n_ids = in->n_ids;
        }
    }
    work->state->remaining = work->n_inputs;
    llmbed_error error = {0};
    llmbed_status st = LLMBED_ERR_INTERRUPTED;
    pthread_mutex_lock(&engine->intake);
    if (!engine->stopping) {
        atomic_fetch_add(&engine->config.metrics->pending_sequences, work->n_inputs);
        st = llmbed_stream_submit(engine->stream, inputs, work->n_inputs, &error);
        if (st != LLMBED_OK) atomic_fetch_sub(&engine->config.metrics->pending_sequences, work->n_inputs);
    }
    pthread_mutex_unlock(&engine->intake);
    free(inputs);
    if (st == LLMBED_OK) return;
    /* Nothing was queued: no callback will come. */
    if (st == LLMBED_ERR_INTERRUPTED)
        fail_work(work, st, -1, "the server is shutting down");
    else
        fail_work(work, st, -1, "%s", error.message);
    finish(engine, work);
}

llmbed_status serve_engine_create(const serve_engine_config *config, serve_engine **out, llmbed_error *error) {
    *out = NULL;
    serve_engine *e = calloc(1, sizeof *e);
    if (e == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
    e->config = *config;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->intake, NULL);
    llmbed_stream_params sp;
    llmbed_stream_params_default(&sp);
    sp.max_wait_us = config->max_wait_us;
    sp.tokenize_threads = config->tokenize_threads;
    sp.is_cancelled = is_cancelled;
    sp.on_batch = on_batch;
    llmbed_ctx *const ctxs[1] = {config->ctx};
    const llmbed_status st = llmbed_stream_open(ctxs, 1, config->text, config->params, &sp, on_row, e, &e->stream, error);
    if (st != LLMBED_OK) {
        serve_engine_free(e);
        return st;
    }
    *out = e;
    return LLMBED_OK;
}

void serve_engine_stop(serve_engine *engine) {
    if (engine == NULL) return;
    pthread_mutex_lock(&engine->intake);
    pthread_mutex_lock(&engine->lock);
    engine->stopping = 1;
    pthread_mutex_unlock(&engine->lock);
    pthread_mutex_unlock(&engine->intake);
    /* Every queued input is cancelled (is_cancelled sees stopping) and called back. */
    llmbed_stream_close(engine->stream);
    engine->stream = NULL;
}

void serve_engine_free(serve_engine *engine) {
    if (engine == NULL) return;
    serve_engine_stop(engine);
    pthread_mutex_destroy(&engine->lock);
    pthread_mutex_destroy(&engine->intake);
    free(engine);
}
