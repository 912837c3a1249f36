#include "scheduler/job.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "io/line_reader.h"
#include "scheduler/batch_plan.h"
#include "scheduler/sink.h"
#include "scheduler/window.h"

void llmbed_job_options_default(llmbed_job_options *options) {
    memset(options, 0, sizeof *options);
    options->input_path = "-";
    options->format = LLMBED_FORMAT_NPY;
    options->dtype = LLMBED_DTYPE_FLOAT32;
    options->truncate = 1;
    options->batch_tokens = 8192;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Producer: reads and tokenises windows ahead of the embedding loop and
 * hands them over through a one-slot queue. */
typedef struct pipeline {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    llmbed_window *slot; /* a filled window waiting for the consumer */
    int quit;            /* consumer gave up: stop producing */
    int done;            /* producer finished (eof or read failure) */
    llmbed_line_reader *reader;
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
} pipeline;

static void *produce(void *arg) {
    pipeline *p = arg;
    for (;;) {
        llmbed_window *w = malloc(sizeof *w);
        if (w != NULL) llmbed_window_fill(w, p->reader, p->engine, p->options);
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

static llmbed_window *take_window(pipeline *p) {
    pthread_mutex_lock(&p->lock);
    while (p->slot == NULL && !p->done) pthread_cond_wait(&p->changed, &p->lock);
    llmbed_window *w = p->slot;
    p->slot = NULL;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return w;
}

/* Working buffers of the embedding loop, grown to the largest window/batch. */
typedef struct embed_buffers {
    int64_t *lengths;
    int *valid;   /* window positions of the items to embed */
    unsigned char *done; /* per valid item: its row is computed */
    int *order;
    int *batch_starts;
    float *rows;  /* [n_valid, dims] in window order */
    int32_t *tokens;
    int64_t *offsets;
    int32_t *instruction_lens;
    int32_t *pool_ends;
    float *batch_out;
    size_t items_capacity;
    size_t tokens_capacity;
} embed_buffers;

static void buffers_free(embed_buffers *b) {
    free(b->lengths);
    free(b->valid);
    free(b->done);
    free(b->order);
    free(b->batch_starts);
    free(b->rows);
    free(b->tokens);
    free(b->offsets);
    free(b->instruction_lens);
    free(b->pool_ends);
    free(b->batch_out);
}

static int grow(void **p, size_t n, size_t size) {
    void *bigger = realloc(*p, n * size);
    if (bigger == NULL) return -1;
    *p = bigger;
    return 0;
}

static int buffers_reserve(embed_buffers *b, size_t n_items, size_t n_tokens, int dims) {
    /* An empty window (empty input, or a resume that starts at the end) still plans an empty batch list. */
    if (n_items == 0) n_items = 1;
    if (n_items > b->items_capacity) {
        size_t n = n_items + 1;
        if (grow((void **)&b->lengths, n, sizeof *b->lengths) || grow((void **)&b->valid, n, sizeof *b->valid) ||
            grow((void **)&b->done, n, sizeof *b->done) ||
            grow((void **)&b->order, n, sizeof *b->order) || grow((void **)&b->batch_starts, n, sizeof *b->batch_starts) ||
            grow((void **)&b->rows, n * (size_t)dims, sizeof *b->rows) ||
            grow((void **)&b->offsets, n, sizeof *b->offsets) ||
            grow((void **)&b->instruction_lens, n, sizeof *b->instruction_lens) ||
            grow((void **)&b->pool_ends, n, sizeof *b->pool_ends) ||
            grow((void **)&b->batch_out, n * (size_t)dims, sizeof *b->batch_out)) {
            return -1;
        }
        b->items_capacity = n_items;
    }
    if (n_tokens > b->tokens_capacity) {
        if (grow((void **)&b->tokens, n_tokens, sizeof *b->tokens)) return -1;
        b->tokens_capacity = n_tokens;
    }
    return 0;
}

typedef struct job_state {
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
    llmbed_job_stats *stats;
    llmbed_sink *sink;
    embed_buffers buffers;
    double start;
} job_state;

static int stop_requested(const job_state *s) { return s->options->stop != NULL && *s->options->stop != 0; }

/* Embeds every valid item of the window into buffers.rows (window order). */
static llmbed_status embed_window(job_state *s, const llmbed_window *w, int n_valid, llmbed_error *error) {
    embed_buffers *b = &s->buffers;
    const int dims = s->engine->dims;
    int n_batches = llmbed_batch_plan(b->lengths, n_valid, s->options->batch_tokens, b->order, b->batch_starts);
    if (n_batches < 0) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory planning batches");
    for (int k = 0; k < n_batches; k++) {
        if (stop_requested(s)) return llmbed_fail(error, LLMBED_ERR_INTERRUPTED, "interrupted");
        int first = b->batch_starts[k], last = b->batch_starts[k + 1];
        int64_t n_tokens = 0;
        for (int j = first; j < last; j++) n_tokens += b->lengths[b->order[j]];
        if (buffers_reserve(b, (size_t)n_valid, (size_t)n_tokens, dims) != 0) {
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for a batch of %" PRId64 " tokens", n_tokens);
        }
        int any_instruction = 0, any_pool_end = 0;
        b->offsets[0] = 0;
        for (int j = first; j < last; j++) {
            const llmbed_window_item *item = &w->items[b->valid[b->order[j]]];
            int64_t at = b->offsets[j - first];
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
        llmbed_status st = s->engine->embed(s->engine->user, &batch, b->batch_out, error);
        if (st != LLMBED_OK) {
            const llmbed_window_item *item = &w->items[b->valid[b->order[first]]];
            char message[LLMBED_ERROR_MESSAGE_CAPACITY];
            snprintf(message, sizeof message, "%s", error->message);
            return llmbed_fail(error, st, "batch of lines %" PRId64 "...: %s", item->line_no, message);
        }
        /* A NaN or Inf row (weights holding NaN, an overflow) would be written
         * as if it were an embedding: it is an error naming the line. */
        const llmbed_window_item *bad = NULL; /* the first non-finite row in input order */
        int bad_dim = 0, bad_at = 0;
        for (int j = first; j < last; j++) {
            const float *row = b->batch_out + (size_t)(j - first) * (size_t)dims;
            const llmbed_window_item *item = &w->items[b->valid[b->order[j]]];
            for (int d = 0; d < dims; d++) {
                if (!isfinite(row[d])) {
                    if (bad == NULL || item->line_no < bad->line_no) {
                        bad = item;
                        bad_dim = d;
                        bad_at = j - first;
                    }
                    break;
                }
            }
        }
        if (bad != NULL) {
            const char *input = strcmp(s->options->input_path, "-") == 0 ? "<stdin>" : s->options->input_path;
            const float value = b->batch_out[(size_t)bad_at * (size_t)dims + (size_t)bad_dim];
            return llmbed_fail(error, LLMBED_ERR_NON_FINITE,
                               "%s:%" PRId64 ": the embedding holds %s at dimension %d (check the model with "
                               "llmbed info --check-weights)",
                               input, bad->line_no, isnan(value) ? "NaN" : "infinity", bad_dim);
        }
        for (int j = first; j < last; j++) {
            memcpy(b->rows + (size_t)b->order[j] * (size_t)dims, b->batch_out + (size_t)(j - first) * (size_t)dims,
                   (size_t)dims * sizeof(float));
            b->done[b->order[j]] = 1;
        }
        s->stats->sequences += last - first;
        s->stats->tokens += n_tokens;
        s->stats->batches++;
        s->stats->seconds = now_seconds() - s->start;
        if (s->options->on_progress != NULL) s->options->on_progress(s->options->callback_user, s->stats);
    }
    return LLMBED_OK;
}

/* Embeds one window and hands its rows and skips to the sink in input order. */
static llmbed_status process_window(job_state *s, const llmbed_window *w, llmbed_error *error) {
    embed_buffers *b = &s->buffers;
    if (buffers_reserve(b, (size_t)w->n, 0, s->engine->dims) != 0) {
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for %d rows", w->n);
    }
    int n_valid = 0;
    for (int i = 0; i < w->n; i++) {
        const llmbed_window_item *item = &w->items[i];
        if (item->status == LLMBED_OK) {
            b->valid[n_valid] = i;
            b->lengths[n_valid++] = (int64_t)item->n_ids;
        } else if (!s->options->skip_invalid) {
            return llmbed_fail(error, item->status, "%s", item->message != NULL ? item->message : "invalid input line");
        }
    }
    memset(b->done, 0, (size_t)n_valid);
    llmbed_status st = embed_window(s, w, n_valid, error);
    if (st != LLMBED_OK && st != LLMBED_ERR_INTERRUPTED) return st;
    /* Interrupted: the rows computed so far still go out, up to the first
     * line whose row is missing, so the input position stays exact. */
    llmbed_status embedded = st;
    int row = 0;
    for (int i = 0; i < w->n; i++) {
        const llmbed_window_item *item = &w->items[i];
        if (item->status == LLMBED_OK && !b->done[row]) break;
        if (item->status != LLMBED_OK) {
            if (s->options->on_skip != NULL) s->options->on_skip(s->options->callback_user, item->message ? item->message : "");
            llmbed_sink_skip(s->sink, item->end_offset, item->line_no, item->prefix_crc);
            s->stats->skipped++;
            continue;
        }
        /* Without an id field, a row's id is its 0-based input line: with
         * skipped lines, and across shards, rows still name their lines. */
        char line_id[24];
        snprintf(line_id, sizeof line_id, "%" PRId64, item->line_no - 1);
        const char *id = item->record.id_json != NULL ? item->record.id_json : line_id;
        st = llmbed_sink_row(s->sink, b->rows + (size_t)row * (size_t)s->engine->dims, id,
                             item->end_offset, item->line_no, item->prefix_crc, (int64_t)item->n_ids, item->truncated,
                             error);
        if (st != LLMBED_OK) return st;
        s->stats->truncated += item->truncated;
        s->stats->invalid_utf8 += item->record.invalid_utf8 > 0;
        s->stats->input_offset = item->end_offset;
        row++;
    }
    if (embedded != LLMBED_OK) return embedded;
    if (w->n > 0) s->stats->input_offset = w->items[w->n - 1].end_offset;
    return LLMBED_OK;
}

static llmbed_status run_pipeline(job_state *s, llmbed_line_reader *reader, llmbed_error *error) {
    pipeline p = {.reader = reader, .engine = s->engine, .options = s->options};
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

#define RERUN "; rerun without --resume to start over"

/* A resumed job continues only from the input it stopped in: the bytes
 * before next_offset must be whole lines, next_line of them, with the CRC-32
 * the manifest recorded; a complete job must have consumed all of it. */
static llmbed_status check_resume_prefix(const llmbed_sink *sink, const llmbed_sink_position *start,
                                         llmbed_line_reader *reader, llmbed_error *error) {
    const char *mpath = llmbed_sink_manifest_path(sink);
    const char *input = llmbed_line_reader_name(reader);
    int64_t lines;
    int boundary;
    llmbed_line_reader_prefix(reader, &lines, &boundary);
    if (!boundary) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_offset\" is %" PRId64 ", inside line %" PRId64 " of %s, not at the end of a line" RERUN,
                           mpath, start->next_offset, lines + 1, input);
    }
    if (lines != start->next_line) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"next_offset\" is %" PRId64 ": the first %" PRId64 " bytes of %s hold %" PRId64
                           " lines, but \"next_line\" is %" PRId64 RERUN,
                           mpath, start->next_offset, start->next_offset, input, lines, start->next_line);
    }
    if (llmbed_line_reader_crc(reader) != start->input_crc32) {
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"input_crc32\": the first %" PRId64 " bytes of %s changed since the job started "
                           "(CRC-32 %" PRIu32 " was %" PRIu32 ")" RERUN,
                           mpath, start->next_offset, input, llmbed_line_reader_crc(reader), start->input_crc32);
    }
    if (start->complete) {
        const char *line;
        size_t len;
        int64_t line_no, end;
        llmbed_status st = llmbed_line_reader_next(reader, &line, &len, &line_no, &end, error);
        if (st != LLMBED_OK) return st;
        if (line != NULL) {
            return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                               "%s: field \"complete\" is true but %s goes on after next_offset %" PRId64 " (line %" PRId64
                               ")" RERUN,
                               mpath, input, start->next_offset, line_no);
        }
    }
    return LLMBED_OK;
}

llmbed_status llmbed_job_run(const llmbed_job_engine *engine, const llmbed_job_options *options,
                             llmbed_job_stats *stats, llmbed_error *error) {
    memset(stats, 0, sizeof *stats);
    stats->input_bytes = -1;
    if (options->batch_tokens <= 0 || engine->dims <= 0 || options->max_tokens < 0 || options->shard_rows < 0) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "job: batch_tokens, dims must be positive");
    }
    if (options->resume && options->shard_rows == 0) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "--resume needs a sharded output (--shard-rows N)");
    }
    job_state s = {engine, options, stats, NULL, {0}, now_seconds()};
    llmbed_sink_options sink_options = {options->output_path, options->format, options->dtype, engine->dims,
                                        options->shard_rows, options->resume, options->job_json,
                                        llmbed_file_id_of_path(options->input_path)};
    llmbed_sink_position start;
    llmbed_status st = llmbed_sink_open(&sink_options, &s.sink, &start, error);
    if (st != LLMBED_OK) return st;
    stats->resumed_rows = start.rows;
    llmbed_line_reader *reader = NULL;
    size_t max_line = options->max_line_bytes > 0 ? options->max_line_bytes : (size_t)64 << 20;
    st = llmbed_line_reader_open(options->input_path, start.next_offset, start.next_line, max_line, &reader, error);
    if (st == LLMBED_OK) st = check_resume_prefix(s.sink, &start, reader, error);
    if (st == LLMBED_OK && start.complete) {
        llmbed_line_reader_close(reader);
        llmbed_sink_free(s.sink);
        stats->already_complete = 1;
        stats->rows_total = start.rows;
        stats->shards = start.shards;
        return LLMBED_OK;
    }
    if (st == LLMBED_OK) {
        stats->input_bytes = llmbed_line_reader_size(reader);
        stats->input_offset = start.next_offset;
        st = run_pipeline(&s, reader, error);
    }
    if (st == LLMBED_OK) {
        st = llmbed_sink_finish(s.sink, error);
    } else if (st == LLMBED_ERR_INTERRUPTED) {
        llmbed_error commit_error = {0};
        if (llmbed_sink_interrupt(s.sink, &commit_error) != LLMBED_OK) *error = commit_error;
    } else {
        llmbed_sink_abort(s.sink);
    }
    if (options->shard_rows > 0 || st == LLMBED_OK) {
        llmbed_sink_position end;
        llmbed_sink_committed(s.sink, &end);
        stats->rows_total = options->shard_rows > 0 ? end.rows : stats->sequences;
        stats->shards = end.shards;
    }
    llmbed_sink_free(s.sink);
    llmbed_line_reader_close(reader);
    buffers_free(&s.buffers);
    stats->seconds = now_seconds() - s.start;
    return st;
}
