#include "pipeline/window.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "pipeline/batch_check.h"
#include "pipeline/truncate.h"

void llmbed_window_clear(llmbed_window *window) {
    for (int i = 0; i < window->n; i++) {
        llmbed_job_item *item = &window->items[i];
        llmbed_input_record_clear(&item->record);
        free(item->ids);
        free(item->spans);
        free(item->message);
    }
    free(window->items);
    memset(window, 0, sizeof *window);
}

void llmbed_window_item_name(const llmbed_job_source *source, const llmbed_job_item *item, char *out, size_t cap) {
    if (source->by_line)
        snprintf(out, cap, "%s:%" PRId64, source->name, item->line_no);
    else
        snprintf(out, cap, "%s %" PRId64, source->name, item->line_no - 1);
}

/* Rejects the item with `status` and "<name>: <what>". */
static void reject(llmbed_job_item *item, const llmbed_job_source *source, llmbed_status status, const char *what) {
    char name[512];
    llmbed_window_item_name(source, item, name, sizeof name);
    llmbed_error error = {0};
    llmbed_fail(&error, status != LLMBED_OK ? status : LLMBED_ERR_INTERNAL, "%s: %s", name, what);
    free(item->message);
    item->status = error.status;
    item->message = strdup(error.message);
    free(item->ids);
    item->ids = NULL;
    item->n_ids = 0;
}

/* Tokenises into a growing buffer: tokens rarely outnumber bytes, so the
 * first guess is len + 16 and one retry with the reported count covers the rest. */
static llmbed_status tokenize_all(const llmbed_job_engine *engine, const char *text, size_t len, int add_special,
                                  int32_t **ids, size_t *n_ids, llmbed_error *error) {
    size_t capacity = len + 16;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buffer = malloc(capacity * sizeof *buffer);
        if (buffer == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory tokenising");
        llmbed_status st = engine->tokenize(engine->user, text, len, add_special, buffer, capacity, n_ids, error);
        if (st == LLMBED_OK) {
            *ids = buffer;
            return LLMBED_OK;
        }
        free(buffer);
        if (st != LLMBED_ERR_BUFFER_TOO_SMALL) return st;
        capacity = *n_ids;
    }
    return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer reported inconsistent sizes");
}

/* Templated text (issue 14): the template (with the prompt folded in by the
 * caller) is rendered and tokenised whole; the pool covers the template's
 * span, never the prompt's tokens. */
static void prepare_templated(llmbed_job_item *item, const llmbed_job_source *source, const llmbed_job_engine *engine,
                              const llmbed_job_options *o) {
    llmbed_error error = {0};
    const size_t max_tokens = o->truncate && o->max_tokens > 0 ? (size_t)o->max_tokens : 0;
    size_t capacity = item->record.text_len + 64;
    int32_t begin = 0, end = 0;
    llmbed_status st = LLMBED_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        item->ids = malloc(capacity * sizeof *item->ids);
        if (item->ids == NULL) {
            st = llmbed_fail(&error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory tokenising");
            break;
        }
        st = engine->tokenize_template(engine->user, item->record.text, item->record.text_len, max_tokens, item->ids,
                                       capacity, &item->n_ids, &begin, &end, &item->truncated, &error);
        if (st != LLMBED_ERR_BUFFER_TOO_SMALL) break;
        free(item->ids);
        item->ids = NULL;
        capacity = item->n_ids;
    }
    if (st == LLMBED_OK) {
        item->instruction_len = begin > o->instruction_len ? begin : o->instruction_len;
        item->pool_end = end;
        if (item->instruction_len >= end)
            st = llmbed_fail(&error, LLMBED_ERR_EMPTY_SEQUENCE, "the prompt covers the whole pooled span");
    }
    if (st != LLMBED_OK) reject(item, source, st, error.message);
}

static void prepare_text(llmbed_job_item *item, const llmbed_job_source *source, const llmbed_job_engine *engine,
                         const llmbed_job_options *o) {
    if (engine->tokenize_template != NULL) {
        prepare_templated(item, source, engine, o);
        return;
    }
    llmbed_error error = {0};
    const char *text = item->record.text;
    size_t len = item->record.text_len;
    char *joined = NULL;
    if (o->prompt != NULL && o->prompt[0] != '\0') {
        /* sentence-transformers prepends the prompt string to the text before tokenising. */
        size_t p = strlen(o->prompt);
        joined = malloc(p + len + 1);
        if (joined == NULL) {
            reject(item, source, LLMBED_ERR_OUT_OF_MEMORY, "out of memory");
            return;
        }
        memcpy(joined, o->prompt, p);
        memcpy(joined + p, text, len + 1);
        text = joined;
        len += p;
        item->instruction_len = o->instruction_len;
    }
    llmbed_status st = tokenize_all(engine, text, len, 1, &item->ids, &item->n_ids, &error);
    if (st == LLMBED_OK && o->late_chunking == 0 && o->max_tokens > 0 && item->n_ids > (size_t)o->max_tokens &&
        o->truncate) {
        int32_t *content = NULL;
        size_t n_content = 0;
        st = tokenize_all(engine, text, len, 0, &content, &n_content, &error);
        if (st == LLMBED_OK) {
            item->n_ids = llmbed_truncate_ids(item->ids, item->n_ids, content, n_content, (size_t)o->max_tokens,
                                              item->ids);
            item->truncated = 1;
        }
        free(content);
    }
    free(joined);
    if (st != LLMBED_OK) reject(item, source, st, error.message);
}

/* Late chunking: the record's own spans, or tokens:N spans over its tokens. */
static void prepare_spans(llmbed_job_item *item, const llmbed_job_source *source, const llmbed_job_options *o) {
    const llmbed_input_record *r = &item->record;
    const size_t n = item->n_ids, N = o->late_chunking > 0 ? (size_t)o->late_chunking : 0;
    if (r->spans == NULL && N == 0) {
        reject(item, source, LLMBED_ERR_INPUT_FORMAT,
               source->by_line ? "no \"spans\" field (--late-chunking spans needs one on every line)"
                               : "no spans given (late_chunking -1 needs spans for every input)");
        return;
    }
    const size_t count = r->spans != NULL ? r->n_spans : (n + N - 1) / N;
    if (count == 0 || count > INT32_MAX / 2) {
        reject(item, source, LLMBED_ERR_INPUT_FORMAT,
               "field \"spans\" is empty (one row per span: give at least one)");
        return;
    }
    item->spans = malloc(sizeof(int32_t) * 2 * count);
    if (item->spans == NULL) {
        reject(item, source, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the spans");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        item->spans[2 * i] = r->spans != NULL ? r->spans[2 * i] : (int32_t)(i * N);
        item->spans[2 * i + 1] = r->spans != NULL ? r->spans[2 * i + 1] : (int32_t)((i + 1) * N < n ? (i + 1) * N : n);
    }
    item->n_spans = (int)count;
    llmbed_error error = {0};
    if (llmbed_spans_check(item->spans, item->n_spans, n, &error) != LLMBED_OK)
        reject(item, source, error.status, error.message);
}

static void validate(llmbed_job_item *item, const llmbed_job_source *source, const llmbed_job_engine *engine,
                     const llmbed_job_options *o) {
    char what[256];
    if (item->n_ids == 0) {
        reject(item, source, LLMBED_ERR_EMPTY_SEQUENCE,
               o->late_chunking != 0 ? "the line has no tokens" : "empty sequence (no tokens to embed)");
        return;
    }
    if (o->max_tokens > 0 && item->n_ids > (size_t)o->max_tokens) {
        if (o->late_chunking != 0) {
            snprintf(what, sizeof what,
                     "%zu tokens, more than --max-tokens %" PRId64
                     " (late chunking never truncates: raise --max-tokens)",
                     item->n_ids, o->max_tokens);
            reject(item, source, LLMBED_ERR_SEQUENCE_TOO_LONG, what);
            return;
        }
        if (!o->truncate) {
            snprintf(what, sizeof what,
                     source->by_line ? "%zu tokens, more than --max-tokens %" PRId64 " (use --truncate to cut it)"
                                     : "%zu tokens, more than max_tokens %" PRId64 " (truncate to cut it)",
                     item->n_ids, o->max_tokens);
            reject(item, source, LLMBED_ERR_SEQUENCE_TOO_LONG, what);
            return;
        }
        item->n_ids = (size_t)o->max_tokens; /* pre-tokenised ids carry no known specials: keep the head */
        item->truncated = 1;
    }
    if (item->n_ids > INT32_MAX / 2) {
        snprintf(what, sizeof what, "%zu tokens, limit %d", item->n_ids, INT32_MAX / 2);
        reject(item, source, LLMBED_ERR_SEQUENCE_TOO_LONG, what);
        return;
    }
    if (o->mask_prefix_tokens > 0 && item->n_ids <= (size_t)o->mask_prefix_tokens) {
        snprintf(what, sizeof what,
                 "%zu tokens and --mask-prefix-tokens %d: every token would be masked from the pool (the row would "
                 "be empty)",
                 item->n_ids, o->mask_prefix_tokens);
        reject(item, source, LLMBED_ERR_INVALID_ARGUMENT, what);
        return;
    }
    if (o->max_continuation > 0 && item->n_ids > (size_t)o->max_continuation) {
        snprintf(what, sizeof what,
                 "%zu tokens; in suffix mode an input continues the cached document in one chunk of at most %" PRId64
                 " tokens (--chunk-tokens)",
                 item->n_ids, o->max_continuation);
        reject(item, source, LLMBED_ERR_SEQUENCE_TOO_LONG, what);
        return;
    }
    for (size_t i = 0; i < item->n_ids; i++) {
        if (item->ids[i] < 0 || (engine->vocab_size > 0 && item->ids[i] >= engine->vocab_size)) {
            snprintf(what, sizeof what,
                     source->by_line ? "input_ids[%zu] = %" PRId32 " is outside the vocabulary [0, %d)"
                                     : "position %zu: token id %" PRId32 " outside the vocabulary [0, %d)",
                     i, item->ids[i], engine->vocab_size);
            reject(item, source, LLMBED_ERR_TOKEN_OUT_OF_RANGE, what);
            return;
        }
    }
    /* A prompt cut by truncation must not mask the whole sequence out of the pool. */
    if ((size_t)item->instruction_len >= item->n_ids) item->instruction_len = (int32_t)item->n_ids - 1;
    if (item->pool_end <= item->instruction_len || (size_t)item->pool_end > item->n_ids) item->pool_end = 0;
    if (o->late_chunking != 0) prepare_spans(item, source, o);
}

static void prepare_item(llmbed_job_item *item, const llmbed_job_source *source, const llmbed_job_engine *engine,
                         const llmbed_job_options *o) {
    if (item->status != LLMBED_OK) return;
    if (item->record.kind == LLMBED_RECORD_TEXT) {
        prepare_text(item, source, engine, o);
        free(item->record.text); /* the id (record.id_json) stays for the output */
        item->record.text = NULL;
    } else {
        item->ids = item->record.ids;
        item->n_ids = item->record.n_ids;
        item->record.ids = NULL;
    }
    if (item->status == LLMBED_OK) validate(item, source, engine, o);
}

typedef struct prepare_task {
    llmbed_window *window;
    const llmbed_job_source *source;
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
    int thread_index;
    int n_threads;
} prepare_task;

static void *prepare_stride(void *arg) {
    prepare_task *t = arg;
    for (int i = t->thread_index; i < t->window->n; i += t->n_threads)
        prepare_item(&t->window->items[i], t->source, t->engine, t->options);
    return NULL;
}

void llmbed_window_prepare(llmbed_window *window, const llmbed_job_source *source, const llmbed_job_engine *engine,
                           const llmbed_job_options *o, int n_threads) {
    if (n_threads > window->n) n_threads = window->n > 0 ? window->n : 1;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    prepare_task tasks[64];
    pthread_t threads[64];
    int started = 0;
    for (int t = 0; t < n_threads; t++) tasks[t] = (prepare_task){window, source, engine, o, t, n_threads};
    for (int t = 1; t < n_threads; t++) {
        if (pthread_create(&threads[t], NULL, prepare_stride, &tasks[t]) != 0) break;
        started = t;
    }
    /* Strides whose thread failed to start run here, in this thread. */
    prepare_stride(&tasks[0]);
    for (int t = started + 1; t < n_threads; t++) prepare_stride(&tasks[t]);
    for (int t = 1; t <= started; t++) pthread_join(threads[t], NULL);
}

static void read_records(llmbed_window *window, const llmbed_job_source *source, const llmbed_job_options *o) {
    const int max_lines = o->window_lines > 0 ? o->window_lines : 4096;
    const size_t max_bytes = o->window_bytes > 0 ? o->window_bytes : (size_t)16 << 20;
    window->items = calloc((size_t)max_lines, sizeof *window->items);
    if (window->items == NULL) {
        window->status = llmbed_fail(&window->error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the input window");
        return;
    }
    window->capacity = max_lines;
    size_t bytes = 0;
    while (window->n < max_lines && bytes < max_bytes) {
        llmbed_job_item *item = &window->items[window->n];
        llmbed_error record_error = {0};
        llmbed_status record_status = LLMBED_OK;
        size_t len = 0;
        int eof = 0;
        llmbed_status st = source->next(source->user, &item->record, &record_status, &record_error, &item->line_no,
                                        &item->end_offset, &item->prefix_crc, &len, &eof, &window->error);
        if (st != LLMBED_OK) {
            window->status = st;
            break;
        }
        if (eof) {
            window->eof = 1;
            break;
        }
        window->n++;
        if (record_status != LLMBED_OK) {
            item->status = record_status;
            item->message = strdup(record_error.message);
        }
        bytes += len;
    }
}

void llmbed_window_fill(llmbed_window *window, const llmbed_job_source *source, const llmbed_job_engine *engine,
                        const llmbed_job_options *o) {
    memset(window, 0, sizeof *window);
    read_records(window, source, o);
    llmbed_window_prepare(window, source, engine, o, o->tokenize_threads > 0 ? o->tokenize_threads : 1);
}
