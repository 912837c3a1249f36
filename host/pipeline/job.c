#include "pipeline/job.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "pipeline/batch_plan.h"
#include "pipeline/sink.h"
#include "pipeline/source.h"
#include "pipeline/window.h"

enum { MAX_WORKERS = 64 };

void llmbed_job_options_default(llmbed_job_options *options) {
    memset(options, 0, sizeof *options);
    options->input_path = "-";
    options->format = LLMBED_FORMAT_NPY;
    options->dtype = LLMBED_DTYPE_FLOAT32;
    options->truncate = 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Producer: reads and tokenises windows ahead of the embedding loop and
 * hands them over through a one-slot queue. */
typedef struct reader {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    llmbed_window *slot; /* a filled window waiting for the consumer */
    int quit;            /* consumer gave up: stop producing */
    int done;            /* producer finished (eof or read failure) */
    const llmbed_job_source *source;
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
} reader;

static void *produce(void *arg) {
    reader *p = arg;
    for (;;) {
        llmbed_window *w = malloc(sizeof *w);
        if (w != NULL) llmbed_window_fill(w, p->source, p->engine, p->options);
        pthread_mutex_lock(&p->lock);
        while (p->slot != NULL && !p->quit) pthread_cond_wait(&p->changed, &p->lock);
        if (p->quit) {
            pthread_mutex_unlock(&p->lock);
            if (w != NULL) llmbed_window_clear(w);
            free(w);
            return NULL;
        }
        p->slot = w; /* NULL tells the consumer we ran out of memory */
        int last = w == NULL || w->eof || w->status != LLMBED_OK;
        if (last) p->done = 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        if (last) return NULL;
    }
}

static llmbed_window *take_window(reader *p) {
    pthread_mutex_lock(&p->lock);
    while (p->slot == NULL && !p->done) pthread_cond_wait(&p->changed, &p->lock);
    llmbed_window *w = p->slot;
    p->slot = NULL;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return w;
}

static int grow(void **p, size_t n, size_t size) {
    void *bigger = realloc(*p, (n > 0 ? n : 1) * size);
    if (bigger == NULL) return -1;
    *p = bigger;
    return 0;
}

/* One worker's staging of a packed batch, grown to the largest batch. */
typedef struct worker_buffers {
    int32_t *tokens;
    int64_t *offsets;
    int32_t *instruction_lens;
    int32_t *pool_ends;
    float *out;
    size_t seqs_capacity, tokens_capacity, out_capacity;
} worker_buffers;

static void worker_buffers_free(worker_buffers *b) {
    free(b->tokens);
    free(b->offsets);
    free(b->instruction_lens);
    free(b->pool_ends);
    free(b->out);
}

static int worker_buffers_reserve(worker_buffers *b, size_t n_seqs, size_t n_tokens, size_t out_floats) {
    if (n_seqs > b->seqs_capacity) {
        if (grow((void **)&b->offsets, n_seqs + 1, sizeof *b->offsets) ||
            grow((void **)&b->instruction_lens, n_seqs, sizeof *b->instruction_lens) ||
            grow((void **)&b->pool_ends, n_seqs, sizeof *b->pool_ends))
            return -1;
        b->seqs_capacity = n_seqs;
    }
    if (n_tokens > b->tokens_capacity) {
        if (grow((void **)&b->tokens, n_tokens, sizeof *b->tokens)) return -1;
        b->tokens_capacity = n_tokens;
    }
    if (out_floats > b->out_capacity) {
        if (grow((void **)&b->out, out_floats, sizeof *b->out)) return -1;
        b->out_capacity = out_floats;
    }
    return 0;
}

/* The window's plan and rows, shared by the workers. */
typedef struct window_work {
    int64_t *lengths;    /* [n_valid] */
    int *valid;          /* window positions of the items to embed */
    unsigned char *done; /* per valid item: its rows are computed */
    int *order;
    int *batch_starts;
    int64_t *row_start;  /* [n_valid + 1] first row of each valid item in `rows` */
    float *rows;         /* [rows, dims] in window order */
    size_t items_capacity, rows_capacity;
} window_work;

static void window_work_free(window_work *w) {
    free(w->lengths);
    free(w->valid);
    free(w->done);
    free(w->order);
    free(w->batch_starts);
    free(w->row_start);
    free(w->rows);
}

static int window_work_reserve(window_work *w, size_t n_items, size_t n_rows, int dims) {
    if (n_items + 1 > w->items_capacity) {
        const size_t n = n_items + 1;
        if (grow((void **)&w->lengths, n, sizeof *w->lengths) || grow((void **)&w->valid, n, sizeof *w->valid) ||
            grow((void **)&w->done, n, sizeof *w->done) || grow((void **)&w->order, n, sizeof *w->order) ||
            grow((void **)&w->batch_starts, n, sizeof *w->batch_starts) ||
            grow((void **)&w->row_start, n, sizeof *w->row_start))
            return -1;
        w->items_capacity = n;
    }
    if (n_rows > w->rows_capacity) {
        if (grow((void **)&w->rows, n_rows * (size_t)dims, sizeof *w->rows)) return -1;
        w->rows_capacity = n_rows;
    }
    return 0;
}

typedef struct job_state {
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
    const llmbed_job_source *source;
    const llmbed_job_sink *sink;
    llmbed_job_stats *stats;
    window_work work;
    worker_buffers buffers[MAX_WORKERS];
    double start;
    /* the embedding of one window: batches handed out by a shared counter */
    pthread_mutex_t lock;
    const llmbed_window *window;
    int n_valid, n_batches, next_batch;
    int failed_batch; /* the lowest batch index that failed, n_batches when none */
    llmbed_status failed_status;
    llmbed_error failed_error;
} job_state;

static int stop_requested(const job_state *s) { return s->options->stop != NULL && *s->options->stop != 0; }

static const llmbed_job_item *valid_item(const job_state *s, int v) { return &s->window->items[s->work.valid[v]]; }

/* A NaN or Inf row (weights holding NaN, an overflow) would be written as
 * if it were an embedding: it is an error naming the first such input. */
static llmbed_status check_finite(const job_state *s, int first, int last, const float *out, llmbed_error *error) {
    const int dims = s->engine->dims;
    const llmbed_job_item *bad = NULL;
    float value = 0;
    int bad_dim = 0;
    const float *rows = out;
    for (int j = first; j < last; j++) {
        const int v = s->work.order[j];
        const llmbed_job_item *item = valid_item(s, v);
        const int64_t n_rows = s->work.row_start[v + 1] - s->work.row_start[v];
        const float *next = rows + (size_t)n_rows * (size_t)dims;
        for (int64_t d = 0; d < n_rows * dims; d++) {
            if (!isfinite(rows[d])) {
                if (bad == NULL || item->line_no < bad->line_no) {
                    bad = item;
                    bad_dim = (int)(d % dims);
                    value = rows[d];
                }
                break;
            }
        }
        rows = next;
    }
    if (bad == NULL) return LLMBED_OK;
    char name[512];
    llmbed_window_item_name(s->source, bad, name, sizeof name);
    return llmbed_fail(error, LLMBED_ERR_NON_FINITE,
                       "%s: the embedding holds %s at dimension %d (check the model with llmbed info --check-weights)",
                       name, isnan(value) ? "NaN" : "infinity", bad_dim);
}

/* Batch k of the window's plan on worker `worker`: its rows into work.rows. */
static llmbed_status run_batch(job_state *s, int worker, int k, llmbed_error *error) {
    window_work *w = &s->work;
    worker_buffers *b = &s->buffers[worker];
    const int dims = s->engine->dims;
    const int first = w->batch_starts[k], last = w->batch_starts[k + 1];
    int64_t n_tokens = 0, n_rows = 0;
    for (int j = first; j < last; j++) {
        n_tokens += w->lengths[w->order[j]];
        n_rows += w->row_start[w->order[j] + 1] - w->row_start[w->order[j]];
    }
    if (worker_buffers_reserve(b, (size_t)(last - first), (size_t)n_tokens, (size_t)n_rows * (size_t)dims) != 0)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for a batch of %" PRId64 " tokens", n_tokens);
    const llmbed_job_item *head = valid_item(s, w->order[first]);
    llmbed_status st;
    if (head->n_spans > 0) { /* late chunking: one record per batch, one row per span */
        st = s->engine->embed_spans(s->engine->user, worker, head->ids, head->n_ids, head->spans, head->n_spans, b->out,
                                    error);
    } else {
        int any_instruction = 0, any_pool_end = 0;
        b->offsets[0] = 0;
        for (int j = first; j < last; j++) {
            const llmbed_job_item *item = valid_item(s, w->order[j]);
            const int64_t at = b->offsets[j - first];
            memcpy(b->tokens + at, item->ids, item->n_ids * sizeof *b->tokens);
            b->offsets[j - first + 1] = at + (int64_t)item->n_ids;
            b->instruction_lens[j - first] = item->instruction_len;
            any_instruction |= item->instruction_len > 0;
            b->pool_ends[j - first] = item->pool_end > 0 ? item->pool_end : (int32_t)item->n_ids;
            any_pool_end |= item->pool_end > 0 && (size_t)item->pool_end < item->n_ids;
        }
        const llmbed_batch batch = {.tokens = b->tokens,
                                    .offsets = b->offsets,
                                    .n_sequences = last - first,
                                    .instruction_lens = any_instruction ? b->instruction_lens : NULL,
                                    .pool_ends = any_pool_end ? b->pool_ends : NULL};
        st = s->engine->embed(s->engine->user, worker, &batch, b->out, error);
    }
    if (st != LLMBED_OK) {
        char name[512], message[LLMBED_ERROR_MESSAGE_CAPACITY];
        llmbed_window_item_name(s->source, head, name, sizeof name);
        snprintf(message, sizeof message, "%s", error->message);
        return llmbed_fail(error, st, head->n_spans > 0 ? "%s: %s" : "batch of %s...: %s", name, message);
    }
    LLMBED_TRY(check_finite(s, first, last, b->out, error));
    const float *from = b->out;
    for (int j = first; j < last; j++) {
        const int v = w->order[j];
        const size_t floats = (size_t)(w->row_start[v + 1] - w->row_start[v]) * (size_t)dims;
        memcpy(w->rows + (size_t)w->row_start[v] * (size_t)dims, from, floats * sizeof(float));
        from += floats;
    }
    return LLMBED_OK;
}

/* A worker's loop: the next batch of the window until none is left, a batch
 * failed or a stop was requested. The plan sorts shortest first; batches are
 * handed out from its end, longest first (LPT: Graham 1969), so the long
 * sequences of a skewed window start early and the short batches fill the
 * other workers meanwhile instead of one long batch finishing alone. */
static void work_batches(job_state *s, int worker) {
    for (;;) {
        pthread_mutex_lock(&s->lock);
        const int k = s->n_batches - 1 - s->next_batch;
        const int give_up = k < 0 || s->failed_batch < s->n_batches || stop_requested(s);
        if (!give_up) s->next_batch++;
        pthread_mutex_unlock(&s->lock);
        if (give_up) return;
        llmbed_error error = {0};
        const llmbed_status st = run_batch(s, worker, k, &error);
        pthread_mutex_lock(&s->lock);
        if (st != LLMBED_OK && k < s->failed_batch) {
            s->failed_batch = k;
            s->failed_status = st;
            s->failed_error = error;
        }
        if (st == LLMBED_OK) {
            const window_work *w = &s->work;
            const int first = w->batch_starts[k], last = w->batch_starts[k + 1];
            for (int j = first; j < last; j++) {
                w->done[w->order[j]] = 1;
                s->stats->tokens += w->lengths[w->order[j]];
                s->stats->rows += w->row_start[w->order[j] + 1] - w->row_start[w->order[j]];
            }
            s->stats->sequences += last - first;
            s->stats->batches++;
            s->stats->seconds = now_seconds() - s->start;
            if (s->options->on_progress != NULL) s->options->on_progress(s->options->callback_user, s->stats);
        }
        pthread_mutex_unlock(&s->lock);
    }
}

typedef struct worker_arg {
    job_state *state;
    int worker;
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg *a = arg;
    work_batches(a->state, a->worker);
    return NULL;
}

/* Embeds every valid item of the window into work.rows (window order) on
 * the engine's workers: the calling thread is worker 0. */
static llmbed_status embed_window(job_state *s, llmbed_error *error) {
    window_work *w = &s->work;
    const int late = s->engine->embed_spans != NULL;
    int n_batches;
    if (late) { /* late chunking: every record alone, in input order */
        for (int v = 0; v <= s->n_valid; v++) {
            w->order[v] = v;
            w->batch_starts[v] = v;
        }
        n_batches = s->n_valid;
    } else {
        n_batches = llmbed_batch_plan(w->lengths, s->n_valid, s->options->batch_tokens, s->engine->alone_above,
                                      w->order, w->batch_starts);
    }
    if (n_batches < 0) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory planning batches");
    s->n_batches = n_batches;
    s->next_batch = 0;
    s->failed_batch = n_batches;
    const int n_workers = s->engine->n_workers > 1 ? (s->engine->n_workers < MAX_WORKERS ? s->engine->n_workers
                                                                                       : MAX_WORKERS)
                                                   : 1;
    pthread_t threads[MAX_WORKERS];
    worker_arg args[MAX_WORKERS];
    int started = 0;
    for (int t = 1; t < n_workers && t < n_batches; t++) {
        args[t] = (worker_arg){s, t};
        if (pthread_create(&threads[t], NULL, worker_main, &args[t]) != 0) break;
        started = t;
    }
    work_batches(s, 0);
    for (int t = 1; t <= started; t++) pthread_join(threads[t], NULL);
    if (s->failed_batch < n_batches) {
        *error = s->failed_error;
        return s->failed_status;
    }
    if (s->next_batch < n_batches) return llmbed_fail(error, LLMBED_ERR_INTERRUPTED, "interrupted");
    return LLMBED_OK;
}

/* Embeds one window and hands its rows and skips to the sink in input order. */
static llmbed_status process_window(job_state *s, const llmbed_window *win, llmbed_error *error) {
    window_work *w = &s->work;
    const int dims = s->engine->dims;
    int64_t n_rows = 0;
    for (int i = 0; i < win->n; i++) {
        const llmbed_job_item *item = &win->items[i];
        if (item->status == LLMBED_OK) n_rows += item->n_spans > 0 ? item->n_spans : 1;
    }
    if (window_work_reserve(w, (size_t)win->n, (size_t)n_rows, dims) != 0)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for %" PRId64 " rows", n_rows);
    s->window = win;
    int n_valid = 0;
    w->row_start[0] = 0;
    for (int i = 0; i < win->n; i++) {
        const llmbed_job_item *item = &win->items[i];
        if (item->status == LLMBED_OK) {
            w->valid[n_valid] = i;
            w->lengths[n_valid] = (int64_t)item->n_ids;
            w->row_start[n_valid + 1] = w->row_start[n_valid] + (item->n_spans > 0 ? item->n_spans : 1);
            n_valid++;
        } else if (!s->options->skip_invalid) {
            return llmbed_fail(error, item->status, "%s", item->message != NULL ? item->message : "invalid input line");
        }
    }
    s->n_valid = n_valid;
    memset(w->done, 0, (size_t)n_valid + 1);
    llmbed_status st = n_valid > 0 ? embed_window(s, error) : LLMBED_OK;
    if (st != LLMBED_OK && st != LLMBED_ERR_INTERRUPTED) return st;
    /* Interrupted: the rows computed so far still go out, up to the first
     * record whose rows are missing, so the input position stays exact. */
    const llmbed_status embedded = st;
    int v = 0;
    for (int i = 0; i < win->n; i++) {
        const llmbed_job_item *item = &win->items[i];
        if (item->status == LLMBED_OK && !w->done[v]) break;
        if (item->status != LLMBED_OK) {
            if (s->options->on_skip != NULL)
                s->options->on_skip(s->options->callback_user, item->message ? item->message : "");
            s->sink->skip(s->sink->user, item);
            s->stats->skipped++;
            continue;
        }
        st = s->sink->rows(s->sink->user, item, w->rows + (size_t)w->row_start[v] * (size_t)dims,
                           (int)(w->row_start[v + 1] - w->row_start[v]), error);
        if (st != LLMBED_OK) return st;
        s->stats->truncated += item->truncated;
        s->stats->invalid_utf8 += item->record.invalid_utf8 > 0;
        s->stats->input_offset = item->end_offset;
        v++;
    }
    if (s->sink->flush != NULL) LLMBED_TRY(s->sink->flush(s->sink->user, error));
    if (embedded != LLMBED_OK) return embedded;
    if (win->n > 0) s->stats->input_offset = win->items[win->n - 1].end_offset;
    return LLMBED_OK;
}

static llmbed_status run_windows(job_state *s, llmbed_error *error) {
    reader p = {.source = s->source, .engine = s->engine, .options = s->options};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    /* Workers leave SIGINT to the main thread, whose handler sets *stop. */
    sigset_t block, previous;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &previous);
    pthread_t producer;
    int started = pthread_create(&producer, NULL, produce, &p) == 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    llmbed_status st = LLMBED_OK;
    if (!started) st = llmbed_fail(error, LLMBED_ERR_INTERNAL, "cannot start the reader thread");
    while (st == LLMBED_OK) {
        llmbed_window *w = take_window(&p);
        if (w == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory reading the input");
            break;
        }
        st = stop_requested(s) ? llmbed_fail(error, LLMBED_ERR_INTERRUPTED, "interrupted") : process_window(s, w, error);
        if (st == LLMBED_OK && w->status != LLMBED_OK) {
            st = w->status;
            *error = w->error;
        }
        int eof = w->eof;
        llmbed_window_clear(w);
        free(w);
        if (eof) break;
    }
    if (started) {
        pthread_mutex_lock(&p.lock);
        p.quit = 1;
        pthread_cond_broadcast(&p.changed);
        pthread_mutex_unlock(&p.lock);
        pthread_join(producer, NULL);
        if (p.slot != NULL) {
            llmbed_window_clear(p.slot);
            free(p.slot);
        }
    }
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    return st;
}

/* The file sink of pipeline/sink.h behind the job's sink callbacks. */
static llmbed_status file_rows(void *user, const llmbed_job_item *item, const float *rows, int n_rows,
                               llmbed_error *error) {
    /* Without an id field, a row's id is its 0-based input line: with
     * skipped lines, and across shards, rows still name their lines. */
    char line_id[24];
    snprintf(line_id, sizeof line_id, "%" PRId64, item->line_no - 1);
    const char *id = item->record.id_json != NULL || item->n_spans > 0 ? item->record.id_json : line_id;
    return llmbed_sink_rows(user, rows, n_rows, item->n_spans > 0 ? item->spans : NULL, id, item->end_offset,
                            item->line_no, item->prefix_crc, (int64_t)item->n_ids, item->truncated, error);
}

static void file_skip(void *user, const llmbed_job_item *item) {
    llmbed_sink_skip(user, item->end_offset, item->line_no, item->prefix_crc);
}

static llmbed_status check_options(const llmbed_job_engine *engine, const llmbed_job_options *options,
                                   llmbed_error *error) {
    if (options->batch_tokens <= 0 || engine->dims <= 0 || options->max_tokens < 0 || options->shard_rows < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "job: batch_tokens, dims must be positive");
    if (options->sink == NULL && options->resume && options->shard_rows == 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "--resume needs a sharded output (--shard-rows N)");
    if (options->sink == NULL && options->late_chunking != 0 && options->shard_rows > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "late chunking: cannot be combined with shards (--shard-rows): rows per line vary");
    if ((options->late_chunking != 0) != (engine->embed_spans != NULL))
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "job: late_chunking without an embed_spans engine");
    return LLMBED_OK;
}

/* The job with its source and sink in place: resume position, windows, commit. */
static llmbed_status run_with(job_state *s, llmbed_sink *files, llmbed_error *error) {
    llmbed_sink_position start = {0};
    if (files != NULL) llmbed_sink_committed(files, &start);
    s->stats->resumed_rows = start.rows;
    llmbed_status st = LLMBED_OK;
    if (s->source->seek != NULL)
        st = s->source->seek(s->source->user, start.next_offset, start.next_line, start.input_crc32, start.complete,
                             files != NULL ? llmbed_sink_manifest_path(files) : "", error);
    if (st == LLMBED_OK && start.complete) {
        s->stats->already_complete = 1;
        s->stats->rows_total = start.rows;
        s->stats->shards = start.shards;
        return LLMBED_OK;
    }
    if (st == LLMBED_OK) {
        s->stats->input_bytes = s->source->size != NULL ? s->source->size(s->source->user) : -1;
        s->stats->input_offset = start.next_offset;
        st = run_windows(s, error);
    }
    if (files == NULL) return st;
    if (st == LLMBED_OK) {
        st = llmbed_sink_finish(files, error);
    } else if (st == LLMBED_ERR_INTERRUPTED) {
        llmbed_error commit_error = {0};
        if (llmbed_sink_interrupt(files, &commit_error) != LLMBED_OK) *error = commit_error;
    } else {
        llmbed_sink_abort(files);
    }
    if (s->options->shard_rows > 0 || st == LLMBED_OK) {
        llmbed_sink_position end;
        llmbed_sink_committed(files, &end);
        s->stats->rows_total = s->options->shard_rows > 0 ? end.rows : s->stats->rows;
        s->stats->shards = end.shards;
    }
    return st;
}

llmbed_status llmbed_job_run(const llmbed_job_engine *engine, const llmbed_job_options *options,
                             llmbed_job_stats *stats, llmbed_error *error) {
    memset(stats, 0, sizeof *stats);
    stats->input_bytes = -1;
    LLMBED_TRY(check_options(engine, options, error));
    job_state s = {.engine = engine, .options = options, .stats = stats, .start = now_seconds()};
    pthread_mutex_init(&s.lock, NULL);
    llmbed_lines_source lines = {0};
    llmbed_job_source line_source;
    llmbed_sink *files = NULL;
    llmbed_status st = LLMBED_OK;
    s.source = options->source;
    if (s.source == NULL) {
        st = llmbed_lines_source_init(&lines, options->input_path, options->text_field, options->id_field,
                                      options->strict_utf8, options->late_chunking != 0, options->max_line_bytes,
                                      &line_source, error);
        s.source = &line_source;
    }
    llmbed_job_sink file_sink;
    s.sink = options->sink;
    if (st == LLMBED_OK && s.sink == NULL) {
        const llmbed_sink_options sink_options = {
            options->output_path, options->format,  options->dtype,
            engine->dims,         options->shard_rows, options->resume,
            options->job_json,    options->source == NULL ? llmbed_file_id_of_path(options->input_path)
                                                          : (llmbed_file_id){0},
            options->late_chunking != 0};
        llmbed_sink_position start;
        st = llmbed_sink_open(&sink_options, &files, &start, error);
        file_sink = (llmbed_job_sink){files, file_rows, file_skip, NULL};
        s.sink = &file_sink;
    }
    if (st == LLMBED_OK) st = run_with(&s, files, error);
    llmbed_sink_free(files);
    if (options->source == NULL) llmbed_lines_source_close(&lines);
    window_work_free(&s.work);
    for (int i = 0; i < MAX_WORKERS; i++) worker_buffers_free(&s.buffers[i]);
    pthread_mutex_destroy(&s.lock);
    stats->seconds = now_seconds() - s.start;
    if (options->sink != NULL) stats->rows_total = stats->rows;
    return st;
}
