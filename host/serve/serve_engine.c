#include "serve/serve_engine.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "pipeline/encode.h"
#include "pipeline/truncate.h"

/* One tokenised input waiting for (or in) a batch. */
typedef struct serve_sequence {
    serve_work *work;
    int index;
    const int32_t *ids;
    int32_t n_ids;
    int32_t instruction_len;
    uint64_t arrival; /* submission order: ties in length go first-come */
} serve_sequence;

struct serve_work_state {
    int32_t **owned_ids; /* per input: ids the engine allocated (text inputs), else NULL */
    float *raw;          /* n_inputs * hidden_size pooled rows, before post-processing */
    int remaining;       /* sequences not yet embedded */
    int raw_width;       /* hidden_size */
    int failed;          /* set once: the work is answered, its other sequences are dropped */
};

struct serve_engine {
    serve_engine_config config;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    serve_sequence *pending;
    size_t n_pending, capacity;
    int64_t pending_tokens;
    uint64_t arrivals;
    double oldest; /* monotonic time the oldest pending sequence arrived */
    int stopping;
    int joined;
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void state_free(serve_work *work) {
    serve_work_state *s = work->state;
    if (s == NULL) return;
    for (int i = 0; s->owned_ids != NULL && i < work->n_inputs; i++) free(s->owned_ids[i]);
    free(s->owned_ids);
    free(s->raw);
    free(s);
    work->state = NULL;
}

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

/* Post-processing (Matryoshka truncation to the work's dims, then L2
 * normalisation: the CPU reference's op, as the engine applies it for the
 * CLI), then done(): on a pool thread, off the engine thread. */
static void finish_task(void *arg) {
    serve_work *work = arg;
    serve_work_state *s = work->state;
    if (work->status == LLMBED_OK) {
        const size_t n = (size_t)work->n_inputs * (size_t)s->raw_width;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(s->raw[i])) {
                const int row = (int)(i / (size_t)s->raw_width);
                fail_work(work, LLMBED_ERR_NON_FINITE, row, "input[%d]: the embedding holds NaN or infinity", row);
                break;
            }
        }
    }
    if (work->status == LLMBED_OK) {
        const llmbed_postprocess_params p = {work->n_inputs, s->raw_width, work->dims, work->normalize,
                                             LLMBED_PRECISION_FLOAT32};
        float *scratch = malloc(sizeof(float) * (size_t)work->dims);
        if (scratch == NULL)
            fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, -1, "out of memory for %d rows", work->n_inputs);
        else
            llmbed_cpu_postprocess(&p, s->raw, work->rows, NULL, scratch);
        free(scratch);
    }
    state_free(work);
    work->done(work);
}

static void finish(serve_engine *engine, serve_work *work) {
    if (serve_pool_run(engine->config.pool, finish_task, work) != LLMBED_OK) finish_task(work);
}

/* One input as a window of `llmbed embed` prepares a line (scheduler/window.c
 * prepare_text + validate): the prompt prepended to text, the tokenizer's
 * special tokens, truncation that keeps them; ids as given, their head kept. */
static llmbed_status prepare_input(const serve_engine_config *c, const serve_input *in, int index,
                                   serve_sequence *seq, int32_t **owned, serve_work *work) {
    const serve_row_spec *spec = &c->spec;
    llmbed_error error = {0};
    size_t n_ids = 0;
    seq->instruction_len = 0;
    if (in->kind == SERVE_INPUT_TEXT) {
        const char *text = in->text;
        size_t len = in->text_len;
        char *joined = NULL;
        if (spec->prompt != NULL && spec->prompt[0] != '\0') {
            /* sentence-transformers prepends the prompt string to the text before tokenising. */
            const size_t p = strlen(spec->prompt);
            joined = malloc(p + len + 1);
            if (joined == NULL) {
                fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, index, "input[%d]: out of memory", index);
                return work->status;
            }
            memcpy(joined, spec->prompt, p);
            memcpy(joined + p, text, len + 1);
            text = joined;
            len += p;
            seq->instruction_len = spec->instruction_len;
        }
        llmbed_status st = llmbed_encode_alloc(c->model, text, len, 1, owned, &n_ids, &error);
        if (st == LLMBED_OK && spec->max_tokens > 0 && n_ids > (size_t)spec->max_tokens && spec->truncate) {
            int32_t *content = NULL;
            size_t n_content = 0;
            st = llmbed_encode_alloc(c->model, text, len, 0, &content, &n_content, &error);
            if (st == LLMBED_OK)
                n_ids = llmbed_truncate_ids(*owned, n_ids, content, n_content, (size_t)spec->max_tokens, *owned);
            free(content);
        }
        free(joined);
        if (st != LLMBED_OK) {
            fail_work(work, st, index, "input[%d]: %s", index, error.message);
            return st;
        }
        seq->ids = *owned;
    } else {
        seq->ids = in->ids;
        n_ids = in->n_ids;
        if (spec->max_tokens > 0 && n_ids > (size_t)spec->max_tokens && spec->truncate) n_ids = (size_t)spec->max_tokens;
        for (size_t i = 0; i < n_ids; i++) {
            if (in->ids[i] < 0 || in->ids[i] >= spec->vocab_size) {
                fail_work(work, LLMBED_ERR_TOKEN_OUT_OF_RANGE, index,
                          "input[%d][%zu] = %" PRId32 " is outside the vocabulary [0, %d)", index, i, in->ids[i],
                          spec->vocab_size);
                return work->status;
            }
        }
    }
    if (n_ids == 0) {
        fail_work(work, LLMBED_ERR_EMPTY_SEQUENCE, index, "input[%d]: empty sequence (no tokens to embed)", index);
        return work->status;
    }
    if (spec->max_tokens > 0 && n_ids > (size_t)spec->max_tokens) {
        fail_work(work, LLMBED_ERR_SEQUENCE_TOO_LONG, index,
                  "input[%d]: %zu tokens, more than this server's limit of %" PRId64 " (--max-tokens; the server "
                  "runs with --no-truncate)",
                  index, n_ids, spec->max_tokens);
        return work->status;
    }
    if (n_ids > INT32_MAX) {
        fail_work(work, LLMBED_ERR_SEQUENCE_TOO_LONG, index, "input[%d]: %zu tokens", index, n_ids);
        return work->status;
    }
    seq->n_ids = (int32_t)n_ids;
    /* A prompt cut by truncation must not mask the whole sequence out of the pool. */
    if (seq->instruction_len >= seq->n_ids) seq->instruction_len = seq->n_ids - 1;
    seq->work = work;
    seq->index = index;
    return LLMBED_OK;
}

static llmbed_status pending_reserve(serve_engine *e, size_t extra) {
    if (e->n_pending + extra <= e->capacity) return LLMBED_OK;
    size_t want = e->capacity > 0 ? e->capacity * 2 : 256;
    while (want < e->n_pending + extra) want *= 2;
    serve_sequence *grown = realloc(e->pending, want * sizeof *grown);
    if (grown == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    e->pending = grown;
    e->capacity = want;
    return LLMBED_OK;
}

void serve_engine_submit(serve_engine *engine, serve_work *work) {
    const serve_engine_config *c = &engine->config;
    work->status = LLMBED_OK;
    work->bad_input = -1;
    work->message[0] = '\0';
    work->prompt_tokens = 0;
    work->state = calloc(1, sizeof *work->state);
    serve_sequence *seqs = calloc((size_t)work->n_inputs, sizeof *seqs);
    if (work->state != NULL) {
        work->state->owned_ids = calloc((size_t)work->n_inputs, sizeof(int32_t *));
        work->state->raw = malloc((size_t)work->n_inputs * (size_t)c->spec.hidden_size * sizeof(float));
        work->state->raw_width = c->spec.hidden_size;
    }
    if (work->state == NULL || seqs == NULL || work->state->owned_ids == NULL || work->state->raw == NULL) {
        fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, -1, "out of memory for %d inputs", work->n_inputs);
    }
    for (int i = 0; work->status == LLMBED_OK && i < work->n_inputs; i++) {
        if (prepare_input(c, &work->inputs[i], i, &seqs[i], &work->state->owned_ids[i], work) == LLMBED_OK)
            work->prompt_tokens += seqs[i].n_ids;
    }
    pthread_mutex_lock(&engine->lock);
    if (work->status == LLMBED_OK && engine->stopping)
        fail_work(work, LLMBED_ERR_INTERRUPTED, -1, "the server is shutting down");
    if (work->status == LLMBED_OK && pending_reserve(engine, (size_t)work->n_inputs) != LLMBED_OK)
        fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, -1, "out of memory queueing %d inputs", work->n_inputs);
    if (work->status == LLMBED_OK) {
        if (engine->n_pending == 0) engine->oldest = now_seconds();
        for (int i = 0; i < work->n_inputs; i++) {
            seqs[i].arrival = engine->arrivals++;
            engine->pending[engine->n_pending++] = seqs[i];
            engine->pending_tokens += seqs[i].n_ids;
        }
        work->state->remaining = work->n_inputs;
        atomic_fetch_add(&c->metrics->pending_sequences, work->n_inputs);
        pthread_cond_signal(&engine->wake);
    }
    pthread_mutex_unlock(&engine->lock);
    free(seqs);
    if (work->status != LLMBED_OK) finish(engine, work);
}

/* Longest first; equal lengths in arrival order. */
static int longest_first(const void *a, const void *b) {
    const serve_sequence *x = a, *y = b;
    if (x->n_ids != y->n_ids) return x->n_ids > y->n_ids ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

/* Drops the queued sequences of works whose client left or that already
 * failed, answering the former. Lock held. */
static void drop_abandoned(serve_engine *e) {
    size_t kept = 0;
    for (size_t i = 0; i < e->n_pending; i++) {
        serve_sequence *seq = &e->pending[i];
        serve_work *work = seq->work;
        serve_work_state *s = work->state;
        if (!s->failed && work->is_gone != NULL && work->is_gone(work)) {
            s->failed = 1;
            fail_work(work, LLMBED_ERR_INTERRUPTED, -1, "the client closed the connection");
            atomic_fetch_add(&e->config.metrics->disconnects, 1);
        }
        if (s->failed) {
            e->pending_tokens -= seq->n_ids;
            atomic_fetch_sub(&e->config.metrics->pending_sequences, 1);
            if (--s->remaining == 0) finish(e, work);
            continue;
        }
        e->pending[kept++] = *seq;
    }
    e->n_pending = kept;
}

/* Moves the next batch out of `pending` into batch[]: the longest sequence,
 * then every other that still fits the budget, longest first (first-fit
 * decreasing). A sequence longer than the budget goes alone (llmbed_embed
 * chunks it). Lock held. */
static int take_batch(serve_engine *e, serve_sequence *batch, int64_t *batch_tokens) {
    qsort(e->pending, e->n_pending, sizeof *e->pending, longest_first);
    const int64_t budget = e->config.batch_tokens;
    int n = 0;
    int64_t tokens = 0;
    size_t kept = 0;
    for (size_t i = 0; i < e->n_pending; i++) {
        serve_sequence *seq = &e->pending[i];
        if (n == 0 || tokens + seq->n_ids <= budget) {
            batch[n++] = *seq;
            tokens += seq->n_ids;
        } else {
            e->pending[kept++] = *seq;
        }
    }
    e->n_pending = kept;
    e->pending_tokens -= tokens;
    *batch_tokens = tokens;
    atomic_fetch_sub(&e->config.metrics->pending_sequences, n);
    return n;
}

/* Packs batch[first, first + n) and embeds it into each sequence's raw row. */
static llmbed_status embed_sequences(serve_engine *e, const serve_sequence *batch, int n, int32_t *tokens,
                                     int64_t *offsets, int32_t *instruction_lens, float *rows) {
    offsets[0] = 0;
    for (int i = 0; i < n; i++) {
        memcpy(tokens + offsets[i], batch[i].ids, (size_t)batch[i].n_ids * sizeof *tokens);
        offsets[i + 1] = offsets[i] + batch[i].n_ids;
        instruction_lens[i] = batch[i].instruction_len;
    }
    llmbed_batch packed = {tokens, offsets, n, instruction_lens, NULL};
    llmbed_embed_params params = e->config.spec.params;
    params.normalize = 0; /* post-processed per work (finish_task) */
    params.dims = 0;
    const int width = e->config.spec.hidden_size;
    llmbed_status st = llmbed_embed(e->config.ctx, &packed, &params, rows, (size_t)n * (size_t)width);
    if (st != LLMBED_OK) return st;
    for (int i = 0; i < n; i++) {
        float *raw = batch[i].work->state->raw + (size_t)batch[i].index * (size_t)width;
        memcpy(raw, rows + (size_t)i * (size_t)width, (size_t)width * sizeof *raw);
    }
    return LLMBED_OK;
}

/* Runs one batch; when it fails, each sequence alone, so one bad input
 * fails its own request only. Engine thread, lock not held. */
static void run_batch(serve_engine *e, serve_sequence *batch, int n, int64_t n_tokens) {
    int32_t *tokens = malloc((size_t)(n_tokens > 0 ? n_tokens : 1) * sizeof *tokens);
    int64_t *offsets = malloc((size_t)(n + 1) * sizeof *offsets);
    int32_t *instruction_lens = malloc((size_t)n * sizeof *instruction_lens);
    float *rows = malloc((size_t)n * (size_t)e->config.spec.hidden_size * sizeof *rows);
    llmbed_status st = LLMBED_ERR_OUT_OF_MEMORY;
    if (tokens != NULL && offsets != NULL && instruction_lens != NULL && rows != NULL)
        st = embed_sequences(e, batch, n, tokens, offsets, instruction_lens, rows);
    serve_histogram_observe(&e->config.metrics->batch_sequences, n);
    serve_histogram_observe(&e->config.metrics->batch_tokens, (double)n_tokens);
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < n; i++) {
        serve_work *work = batch[i].work;
        if (st != LLMBED_OK && n > 1) {
            pthread_mutex_unlock(&e->lock);
            llmbed_status alone = rows != NULL ? embed_sequences(e, &batch[i], 1, tokens, offsets, instruction_lens, rows)
                                               : LLMBED_ERR_OUT_OF_MEMORY;
            pthread_mutex_lock(&e->lock);
            if (alone != LLMBED_OK && !work->state->failed) {
                work->state->failed = 1;
                fail_work(work, alone, batch[i].index, "input[%d]: %s", batch[i].index, llmbed_last_error(e->config.ctx));
            }
        } else if (st != LLMBED_OK && !work->state->failed) {
            work->state->failed = 1;
            fail_work(work, st, batch[i].index, "input[%d]: %s", batch[i].index,
                      st == LLMBED_ERR_OUT_OF_MEMORY ? "out of memory" : llmbed_last_error(e->config.ctx));
        }
        if (--work->state->remaining == 0) finish(e, work);
    }
    pthread_mutex_unlock(&e->lock);
    free(tokens);
    free(offsets);
    free(instruction_lens);
    free(rows);
}

static void *engine_main(void *arg) {
    serve_engine *e = arg;
    serve_sequence *batch = NULL;
    size_t batch_capacity = 0;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->n_pending == 0 && !e->stopping) pthread_cond_wait(&e->wake, &e->lock);
        if (e->stopping) break;
        /* Let a batch fill: wait until the budget is reached or the oldest
         * sequence has waited window_seconds. */
        for (;;) {
            const double deadline = e->oldest + e->config.window_seconds;
            if (e->stopping || e->pending_tokens >= e->config.batch_tokens || now_seconds() >= deadline) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            const double wait = deadline - now_seconds();
            const long nanos = (long)(wait * 1e9);
            until.tv_sec += nanos / 1000000000L;
            until.tv_nsec += nanos % 1000000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
        }
        if (e->stopping) break;
        drop_abandoned(e);
        if (e->n_pending == 0) continue;
        if (batch_capacity < e->n_pending) {
            serve_sequence *grown = realloc(batch, e->n_pending * sizeof *grown);
            if (grown == NULL) {
                /* Out of memory for the batch list: answer the oldest work and go on. */
                serve_work *work = e->pending[0].work;
                work->state->failed = 1;
                fail_work(work, LLMBED_ERR_OUT_OF_MEMORY, -1, "out of memory forming a batch");
                drop_abandoned(e);
                continue;
            }
            batch = grown;
            batch_capacity = e->n_pending;
        }
        int64_t n_tokens = 0;
        const int n = take_batch(e, batch, &n_tokens);
        /* What stays waits from now: it goes first next time if it is the longest. */
        e->oldest = e->n_pending > 0 ? now_seconds() - e->config.window_seconds : e->oldest;
        pthread_mutex_unlock(&e->lock);
        run_batch(e, batch, n, n_tokens);
        pthread_mutex_lock(&e->lock);
    }
    /* Stopping: whatever is queued ends as interrupted. */
    for (size_t i = 0; i < e->n_pending; i++) {
        serve_work_state *s = e->pending[i].work->state;
        if (!s->failed) {
            s->failed = 1;
            fail_work(e->pending[i].work, LLMBED_ERR_INTERRUPTED, -1, "the server stopped");
        }
    }
    drop_abandoned(e);
    pthread_mutex_unlock(&e->lock);
    free(batch);
    return NULL;
}

serve_engine *serve_engine_create(const serve_engine_config *config) {
    serve_engine *e = calloc(1, sizeof *e);
    if (e == NULL) return NULL;
    e->config = *config;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->wake);
        free(e);
        return NULL;
    }
    return e;
}

void serve_engine_stop(serve_engine *engine) {
    if (engine == NULL || engine->joined) return;
    pthread_mutex_lock(&engine->lock);
    engine->stopping = 1;
    pthread_cond_signal(&engine->wake);
    pthread_mutex_unlock(&engine->lock);
    pthread_join(engine->thread, NULL);
    engine->joined = 1;
}

void serve_engine_free(serve_engine *engine) {
    if (engine == NULL) return;
    serve_engine_stop(engine);
    pthread_mutex_destroy(&engine->lock);
    pthread_cond_destroy(&engine->wake);
    free(engine->pending);
    free(engine);
}
