/* The streaming front of the pipeline (include/llmbed.h llmbed_stream_*):
 * a queue instead of a file, a callback instead of a sink, the same spec,
 * tokenisation, batching rule and engine workers as every job.
 *
 *   submit (any thread) -> raw queue -> tokenizer threads (the job's
 *   prepare step) -> ready queue -> engine workers: wait until the ready
 *   tokens fill the budget or the oldest ready input has waited max_wait,
 *   take the longest inputs first up to the budget, run, post-process each
 *   row to its input's width and normalisation, call back.
 *
 * The engine runs with raw rows (full width, no normalisation) so inputs
 * of one batch may ask for different widths; the post-processing op is the
 * engine's own, so a row equals the one the engine would have written. */
#include "pipeline/stream.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "cpu/cpu_ops.h" /* post-processing, as the engine does until the backend has its op (issue 20) */
#include "model/model.h"
#include "pipeline/bind.h"
#include "pipeline/window.h"

enum { MAX_THREADS = 64, MAX_BATCH = 4096 /* inputs per batch: a job's window */ };

typedef struct stream_item {
    llmbed_job_item item; /* record, then the prepared ids */
    int dims, normalize;
    double ready_at;      /* when it joined the ready queue */
} stream_item;

typedef struct worker_arg {
    struct llmbed_stream *stream;
    int worker;
} worker_arg;

/* A FIFO of item pointers. */
typedef struct item_queue {
    stream_item **items;
    size_t head, n, capacity;
} item_queue;

struct llmbed_stream {
    llmbed_job_spec spec; /* raw rows: full width, not normalised */
    int default_dims, default_normalize, hidden;
    llmbed_engine *engines[MAX_THREADS];
    int n_engines;
    llmbed_job_binding binding;
    llmbed_job_engine engine;
    llmbed_job_options options;
    llmbed_job_source naming; /* how messages name an input: "input N" */
    llmbed_stream_callback callback;
    void *user;
    int (*is_cancelled)(void *user, void *tag);
    void (*on_batch)(void *user, int n_inputs, int64_t n_tokens);
    double max_wait;
    pthread_mutex_t lock;
    pthread_cond_t raw_ready, batch_ready;
    item_queue raw;
    stream_item **ready; /* not in order: sorted when a batch is taken */
    size_t n_ready, ready_capacity;
    int64_t ready_tokens;
    int64_t pending;  /* submitted, not yet called back */
    int64_t submitted;
    int tokenizing;   /* items a tokenizer holds */
    int closing;
    pthread_t tokenizers[MAX_THREADS], workers[MAX_THREADS];
    worker_arg worker_args[MAX_THREADS];
    int n_tokenizers, n_workers;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int queue_push(item_queue *q, stream_item *item) {
    if (q->n == q->capacity) {
        const size_t capacity = q->capacity ? 2 * q->capacity : 64;
        stream_item **items = malloc(capacity * sizeof *items);
        if (items == NULL) return -1;
        for (size_t i = 0; i < q->n; i++) items[i] = q->items[(q->head + i) % q->capacity];
        free(q->items);
        q->items = items;
        q->head = 0;
        q->capacity = capacity;
    }
    q->items[(q->head + q->n) % q->capacity] = item;
    q->n++;
    return 0;
}

static stream_item *queue_pop(item_queue *q) {
    stream_item *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->n--;
    return item;
}

static void item_free(stream_item *s) {
    llmbed_input_record_clear(&s->item.record);
    free(s->item.ids);
    free(s->item.spans);
    free(s->item.message);
    free(s);
}

/* The callback for an input, then its memory and the pending count. */
static void deliver(llmbed_stream *st, stream_item *s, llmbed_status status, const char *message, const float *row,
                    int dims) {
    const llmbed_stream_row out = {s->item.tag, status, message != NULL ? message : "", row, dims,
                                   (int64_t)s->item.n_ids, s->item.truncated};
    st->callback(st->user, &out);
    item_free(s);
    pthread_mutex_lock(&st->lock);
    st->pending--;
    pthread_mutex_unlock(&st->lock);
}

/* The caller's cancellation (llmbed_stream_params.is_cancelled): a dropped
 * input is called back as interrupted, without a row. */
static int drop_if_cancelled(llmbed_stream *st, stream_item *s) {
    if (st->is_cancelled == NULL || !st->is_cancelled(st->user, s->item.tag)) return 0;
    char name[64], message[128];
    llmbed_window_item_name(&st->naming, &s->item, name, sizeof name);
    snprintf(message, sizeof message, "%s: cancelled by the caller", name);
    deliver(st, s, LLMBED_ERR_INTERRUPTED, message, NULL, 0);
    return 1;
}

static void *tokenize_main(void *arg) {
    llmbed_stream *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->lock);
        while (st->raw.n == 0 && !st->closing) pthread_cond_wait(&st->raw_ready, &st->lock);
        if (st->raw.n == 0) {
            pthread_mutex_unlock(&st->lock);
            return NULL;
        }
        stream_item *s = queue_pop(&st->raw);
        st->tokenizing++;
        pthread_mutex_unlock(&st->lock);
        if (drop_if_cancelled(st, s)) {
            pthread_mutex_lock(&st->lock);
            st->tokenizing--;
            pthread_cond_broadcast(&st->batch_ready); /* a closing worker waits for tokenizers to finish */
            pthread_mutex_unlock(&st->lock);
            continue;
        }
        llmbed_window one = {.items = &s->item, .n = 1, .capacity = 1};
        llmbed_window_prepare(&one, &st->naming, &st->engine, &st->options, 1);
        pthread_mutex_lock(&st->lock);
        st->tokenizing--;
        int queued = 0;
        if (s->item.status == LLMBED_OK) {
            if (st->n_ready == st->ready_capacity) {
                const size_t capacity = st->ready_capacity ? 2 * st->ready_capacity : 64;
                stream_item **grown = realloc(st->ready, capacity * sizeof *grown);
                if (grown != NULL) {
                    st->ready = grown;
                    st->ready_capacity = capacity;
                }
            }
            if (st->n_ready < st->ready_capacity) {
                s->ready_at = now_seconds();
                st->ready[st->n_ready++] = s;
                st->ready_tokens += (int64_t)s->item.n_ids;
                queued = 1;
            } else {
                s->item.status = LLMBED_ERR_OUT_OF_MEMORY;
            }
        }
        pthread_cond_broadcast(&st->batch_ready);
        pthread_mutex_unlock(&st->lock);
        if (!queued)
            deliver(st, s, s->item.status,
                    s->item.message != NULL ? s->item.message : "out of memory queueing the input", NULL, 0);
    }
}

static int longest_first(const void *a, const void *b) {
    const stream_item *x = *(stream_item *const *)a, *y = *(stream_item *const *)b;
    if (x->item.n_ids != y->item.n_ids) return x->item.n_ids > y->item.n_ids ? -1 : 1;
    return x->ready_at < y->ready_at ? -1 : x->ready_at > y->ready_at;
}

/* Under the lock: whether a batch should run now, or how long to wait. */
static int batch_due(const llmbed_stream *st, double *wait) {
    *wait = -1;
    if (st->n_ready == 0) return 0;
    if (st->closing || st->ready_tokens >= st->spec.batch_tokens) return 1;
    double oldest = st->ready[0]->ready_at;
    for (size_t i = 1; i < st->n_ready; i++)
        if (st->ready[i]->ready_at < oldest) oldest = st->ready[i]->ready_at;
    *wait = oldest + st->max_wait - now_seconds();
    return *wait <= 0;
}

/* Under the lock: takes the longest ready inputs up to the budget (one
 * input alone when it is longer than the engine runs with others). */
static int take_batch(llmbed_stream *st, stream_item **batch) {
    qsort(st->ready, st->n_ready, sizeof *st->ready, longest_first);
    const int64_t budget = st->spec.batch_tokens, alone = st->engine.alone_above;
    int n = 0;
    int64_t tokens = 0;
    size_t kept = 0;
    for (size_t i = 0; i < st->n_ready; i++) {
        stream_item *s = st->ready[i];
        const int64_t length = (int64_t)s->item.n_ids;
        const int fits = n == 0 || (tokens + length <= budget && (int64_t)batch[0]->item.n_ids <= alone);
        if (fits && n < MAX_BATCH) {
            batch[n++] = s;
            tokens += length;
        } else {
            st->ready[kept++] = s;
        }
    }
    st->n_ready = kept;
    st->ready_tokens -= tokens;
    return n;
}

static void run_batch(llmbed_stream *st, int worker, stream_item **batch, int n, int32_t *tokens, int64_t *offsets,
                      int32_t *instruction_lens, int32_t *pool_ends, float *raw, float *row) {
    int any_instruction = 0, any_pool_end = 0;
    offsets[0] = 0;
    for (int i = 0; i < n; i++) {
        const llmbed_job_item *item = &batch[i]->item;
        memcpy(tokens + offsets[i], item->ids, item->n_ids * sizeof *tokens);
        offsets[i + 1] = offsets[i] + (int64_t)item->n_ids;
        instruction_lens[i] = item->instruction_len;
        any_instruction |= item->instruction_len > 0;
        pool_ends[i] = item->pool_end > 0 ? item->pool_end : (int32_t)item->n_ids;
        any_pool_end |= item->pool_end > 0 && (size_t)item->pool_end < item->n_ids;
    }
    const llmbed_batch packed = {tokens, offsets, n, any_instruction ? instruction_lens : NULL,
                                 any_pool_end ? pool_ends : NULL};
    llmbed_error error = {0};
    const llmbed_status status = st->engine.embed(st->engine.user, worker, &packed, raw, &error);
    if (status == LLMBED_OK && st->on_batch != NULL) st->on_batch(st->user, n, offsets[n]);
    for (int i = 0; i < n; i++) {
        stream_item *s = batch[i];
        if (status != LLMBED_OK) {
            deliver(st, s, status, error.message, NULL, 0);
            continue;
        }
        const float *in = raw + (size_t)i * (size_t)st->hidden;
        const llmbed_postprocess_params post = {1, st->hidden, s->dims, s->normalize, LLMBED_PRECISION_FLOAT32};
        llmbed_cpu_postprocess(&post, in, row, NULL, row + st->hidden);
        int finite = 1;
        for (int d = 0; d < s->dims && finite; d++) finite = isfinite(row[d]);
        if (!finite) {
            char name[64], message[160];
            llmbed_window_item_name(&st->naming, &s->item, name, sizeof name);
            snprintf(message, sizeof message,
                     "%s: the embedding holds NaN or infinity (check the model with llmbed info --check-weights)", name);
            deliver(st, s, LLMBED_ERR_NON_FINITE, message, NULL, 0);
            continue;
        }
        deliver(st, s, LLMBED_OK, "", row, s->dims);
    }
}

static void *worker_main(void *arg) {
    const worker_arg *a = arg;
    llmbed_stream *st = a->stream;
    const int64_t budget = st->spec.batch_tokens;
    /* staging for the largest batch: the budget, or one input above it */
    size_t token_capacity = (size_t)budget;
    int32_t *tokens = malloc(sizeof *tokens * token_capacity);
    int64_t *offsets = malloc(sizeof *offsets * (MAX_BATCH + 1));
    int32_t *instruction_lens = malloc(sizeof *instruction_lens * MAX_BATCH);
    int32_t *pool_ends = malloc(sizeof *pool_ends * MAX_BATCH);
    float *raw = malloc(sizeof *raw * (size_t)MAX_BATCH * (size_t)st->hidden);
    float *row = malloc(sizeof *row * 2 * (size_t)st->hidden); /* the row, then the post-processing scratch */
    stream_item **batch = malloc(sizeof *batch * MAX_BATCH);
    const int ok = tokens && offsets && instruction_lens && pool_ends && raw && row && batch;
    for (;;) {
        pthread_mutex_lock(&st->lock);
        double wait;
        while (!batch_due(st, &wait)) {
            if (st->closing && st->raw.n == 0 && st->tokenizing == 0 && st->n_ready == 0) break;
            if (wait < 0) {
                pthread_cond_wait(&st->batch_ready, &st->lock);
            } else {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                const double at = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + wait;
                until.tv_sec = (time_t)at;
                until.tv_nsec = (long)((at - (double)until.tv_sec) * 1e9);
                pthread_cond_timedwait(&st->batch_ready, &st->lock, &until);
            }
        }
        if (st->n_ready == 0) {
            pthread_mutex_unlock(&st->lock);
            break;
        }
        const int taken = take_batch(st, batch);
        if (taken < (int)MAX_BATCH && st->n_ready > 0) pthread_cond_broadcast(&st->batch_ready);
        pthread_mutex_unlock(&st->lock);
        int n = 0;
        for (int i = 0; i < taken; i++)
            if (!drop_if_cancelled(st, batch[i])) batch[n++] = batch[i];
        if (n == 0) continue;
        size_t n_tokens = 0;
        for (int i = 0; i < n; i++) n_tokens += batch[i]->item.n_ids;
        if (ok && n_tokens > token_capacity) {
            int32_t *grown = realloc(tokens, sizeof *tokens * n_tokens);
            if (grown != NULL) {
                tokens = grown;
                token_capacity = n_tokens;
            }
        }
        if (!ok || n_tokens > token_capacity) {
            for (int i = 0; i < n; i++) deliver(st, batch[i], LLMBED_ERR_OUT_OF_MEMORY, "stream: out of memory", NULL, 0);
            continue;
        }
        run_batch(st, a->worker, batch, n, tokens, offsets, instruction_lens, pool_ends, raw, row);
    }
    free(tokens);
    free(offsets);
    free(instruction_lens);
    free(pool_ends);
    free(raw);
    free(row);
    free(batch);
    return NULL;
}

static void stream_free(llmbed_stream *st) {
    while (st->raw.n > 0) item_free(queue_pop(&st->raw));
    for (size_t i = 0; i < st->n_ready; i++) item_free(st->ready[i]);
    free(st->raw.items);
    free(st->ready);
    pthread_cond_destroy(&st->raw_ready);
    pthread_cond_destroy(&st->batch_ready);
    pthread_mutex_destroy(&st->lock);
    llmbed_spec_free(&st->spec);
    free(st);
}

/* Stops the threads once everything queued has been called back. */
static void stop_threads(llmbed_stream *st) {
    pthread_mutex_lock(&st->lock);
    st->closing = 1;
    pthread_cond_broadcast(&st->raw_ready);
    pthread_cond_broadcast(&st->batch_ready);
    pthread_mutex_unlock(&st->lock);
    for (int t = 0; t < st->n_tokenizers; t++) pthread_join(st->tokenizers[t], NULL);
    pthread_mutex_lock(&st->lock);
    pthread_cond_broadcast(&st->batch_ready);
    pthread_mutex_unlock(&st->lock);
    for (int w = 0; w < st->n_workers; w++) pthread_join(st->workers[w], NULL);
}

llmbed_status llmbed_stream_start(const llmbed_model *model, llmbed_engine *const *engines, int n_engines,
                                  const llmbed_text_params *text, const llmbed_embed_params *params,
                                  const llmbed_stream_params *sp, llmbed_stream_callback callback, void *user,
                                  llmbed_stream **out, llmbed_error *error) {
    *out = NULL;
    if (n_engines < 1 || n_engines > MAX_THREADS || callback == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream: 1..%d contexts and a callback are required",
                           MAX_THREADS);
    if (sp->struct_size != sizeof *sp)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "stream params: struct_size %zu, expected %zu (call llmbed_stream_params_default)",
                           sp->struct_size, sizeof *sp);
    if (sp->max_wait_us < 0 || sp->tokenize_threads < 0 || sp->tokenize_threads > MAX_THREADS)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "stream params: max_wait_us %" PRId64 " must not be negative, tokenize_threads %d in [0, %d]",
                           sp->max_wait_us, sp->tokenize_threads, MAX_THREADS);
    llmbed_stream *st = calloc(1, sizeof *st);
    if (st == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "stream: out of memory");
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->raw_ready, NULL);
    pthread_cond_init(&st->batch_ready, NULL);
    llmbed_status status = llmbed_spec_resolve(model, params, text, engines[0]->batch_tokens, &st->spec, error);
    if (status == LLMBED_OK && (st->spec.late_chunking != 0 || st->spec.engine.pooling == LLMBED_POOLING_NONE))
        status = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "stream: one pooled row per input (no late chunking, no "
                                                            "pooling none)");
    if (status != LLMBED_OK) {
        stream_free(st);
        return status;
    }
    /* raw rows from the engine; each input's width and normalisation after */
    st->hidden = model->config.hidden_size;
    st->default_dims = st->spec.engine.out_dims;
    st->default_normalize = st->spec.engine.normalize;
    st->spec.engine.out_dims = st->spec.dims = st->hidden;
    st->spec.engine.normalize = 0;
    for (int w = 0; w < n_engines; w++) st->engines[w] = engines[w];
    st->n_engines = n_engines;
    llmbed_job_options_default(&st->options);
    llmbed_job_bind(&st->binding, &st->spec, st->engines, n_engines, &st->engine, &st->options);
    st->naming = (llmbed_job_source){NULL, "input", 0, NULL, NULL, NULL};
    st->callback = callback;
    st->user = user;
    st->is_cancelled = sp->is_cancelled;
    st->on_batch = sp->on_batch;
    st->max_wait = 1e-6 * (double)sp->max_wait_us;
    status = llmbed_job_bind_prepare(&st->binding, error);
    if (status != LLMBED_OK) {
        stream_free(st);
        return status;
    }
    const int n_tokenizers = sp->tokenize_threads > 0 ? sp->tokenize_threads : 1;
    for (int t = 0; t < n_tokenizers && pthread_create(&st->tokenizers[t], NULL, tokenize_main, st) == 0; t++)
        st->n_tokenizers++;
    for (int w = 0; w < n_engines; w++) {
        st->worker_args[w] = (worker_arg){st, w};
        if (pthread_create(&st->workers[w], NULL, worker_main, &st->worker_args[w]) != 0) break;
        st->n_workers++;
    }
    if (st->n_tokenizers == 0 || st->n_workers == 0) {
        stop_threads(st);
        stream_free(st);
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "stream: cannot start its threads");
    }
    *out = st;
    return LLMBED_OK;
}

void llmbed_stream_params_default(llmbed_stream_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->max_wait_us = 2000;
    params->tokenize_threads = 1;
}

static llmbed_status check_input(const llmbed_stream *st, const llmbed_stream_input *in, int index,
                                 llmbed_error *error) {
    if (in->ids == NULL && in->text == NULL && in->text_len > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream input %d: text is NULL", index);
    if (in->dims < 0 || in->dims > st->hidden)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream input %d: dims %d outside [0, %d] (hidden size)",
                           index, in->dims, st->hidden);
    if (in->normalize < -1 || in->normalize > 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream input %d: normalize %d is not -1, 0 or 1", index,
                           in->normalize);
    return LLMBED_OK;
}

/* A copy of the input as a record (text or ids), its row options and tag. */
static stream_item *make_item(const llmbed_stream *st, const llmbed_stream_input *in, int64_t number) {
    stream_item *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    llmbed_input_record *r = &s->item.record;
    if (in->ids != NULL) {
        r->kind = LLMBED_RECORD_IDS;
        r->ids = malloc(sizeof *r->ids * (in->n_ids > 0 ? in->n_ids : 1));
        if (r->ids != NULL && in->n_ids > 0) memcpy(r->ids, in->ids, sizeof *r->ids * in->n_ids);
        r->n_ids = in->n_ids;
    } else {
        r->kind = LLMBED_RECORD_TEXT;
        r->text = malloc(in->text_len + 1);
        if (r->text != NULL && in->text_len > 0) memcpy(r->text, in->text, in->text_len);
        if (r->text != NULL) r->text[in->text_len] = '\0';
        r->text_len = in->text_len;
    }
    if (r->ids == NULL && r->text == NULL) {
        free(s);
        return NULL;
    }
    s->item.line_no = number + 1;
    s->item.tag = in->tag;
    s->dims = in->dims > 0 ? in->dims : st->default_dims;
    s->normalize = in->normalize >= 0 ? in->normalize : st->default_normalize;
    return s;
}

llmbed_status llmbed_stream_submit(llmbed_stream *st, const llmbed_stream_input *inputs, int n, llmbed_error *error) {
    llmbed_error_clear(error);
    if (st == NULL || (inputs == NULL && n > 0) || n < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream_submit: stream and inputs are required");
    for (int i = 0; i < n; i++) LLMBED_TRY(check_input(st, &inputs[i], i, error));
    stream_item **items = malloc(sizeof *items * (size_t)(n > 0 ? n : 1));
    if (items == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "stream_submit: out of memory");
    pthread_mutex_lock(&st->lock);
    const int64_t first = st->submitted;
    st->submitted += n;
    pthread_mutex_unlock(&st->lock);
    int made = 0;
    for (; made < n; made++)
        if ((items[made] = make_item(st, &inputs[made], first + made)) == NULL) break;
    llmbed_status status = LLMBED_OK;
    pthread_mutex_lock(&st->lock);
    if (st->closing) status = llmbed_fail(error, LLMBED_ERR_INTERRUPTED, "stream_submit: the stream is closing");
    else if (made < n) status = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "stream_submit: out of memory");
    int queued = 0;
    for (; status == LLMBED_OK && queued < n; queued++)
        if (queue_push(&st->raw, items[queued]) != 0) break;
    if (status == LLMBED_OK && queued < n) {
        /* nothing half-queued: take back what went in */
        st->raw.n -= (size_t)queued;
        status = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "stream_submit: out of memory");
    }
    if (status == LLMBED_OK) st->pending += n;
    pthread_cond_broadcast(&st->raw_ready);
    pthread_mutex_unlock(&st->lock);
    if (status != LLMBED_OK)
        for (int i = 0; i < made; i++) item_free(items[i]);
    free(items);
    return status;
}

int64_t llmbed_stream_pending(const llmbed_stream *st) {
    if (st == NULL) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&st->lock);
    const int64_t pending = st->pending;
    pthread_mutex_unlock((pthread_mutex_t *)&st->lock);
    return pending;
}

void llmbed_stream_close(llmbed_stream *st) {
    if (st == NULL) return;
    stop_threads(st);
    stream_free(st);
}
