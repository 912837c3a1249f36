#include "scheduler/window.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "io/json_line.h"
#include "scheduler/truncate.h"

void llmbed_window_clear(llmbed_window *window) {
    for (int i = 0; i < window->n; i++) {
        llmbed_window_item *item = &window->items[i];
        llmbed_input_record_clear(&item->record);
        free(item->ids);
        free(item->message);
    }
    free(window->items);
    memset(window, 0, sizeof *window);
}

static void reject(llmbed_window_item *item, const llmbed_error *error) {
    item->status = error->status != LLMBED_OK ? error->status : LLMBED_ERR_INTERNAL;
    item->message = strdup(error->message);
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
static void prepare_templated(llmbed_window_item *item, const llmbed_job_engine *engine, const llmbed_job_options *o,
                              const char *source) {
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
    if (st != LLMBED_OK) {
        char message[LLMBED_ERROR_MESSAGE_CAPACITY];
        snprintf(message, sizeof message, "%s", error.message);
        llmbed_fail(&error, st, "%s:%" PRId64 ": %s", source, item->line_no, message);
        reject(item, &error);
        free(item->ids);
        item->ids = NULL;
        item->n_ids = 0;
    }
    free(item->record.text);
    item->record.text = NULL;
}

static void prepare_text(llmbed_window_item *item, const llmbed_job_engine *engine, const llmbed_job_options *o,
                         const char *source) {
    if (engine->tokenize_template != NULL) {
        prepare_templated(item, engine, o, source);
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
            llmbed_fail(&error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, item->line_no);
            reject(item, &error);
            return;
        }
        memcpy(joined, o->prompt, p);
        memcpy(joined + p, text, len + 1);
        text = joined;
        len += p;
        item->instruction_len = o->instruction_len;
    }
    llmbed_status st = tokenize_all(engine, text, len, 1, &item->ids, &item->n_ids, &error);
    if (st == LLMBED_OK && o->max_tokens > 0 && item->n_ids > (size_t)o->max_tokens && o->truncate) {
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
    if (st != LLMBED_OK) {
        char message[LLMBED_ERROR_MESSAGE_CAPACITY];
        snprintf(message, sizeof message, "%s", error.message);
        llmbed_fail(&error, st, "%s:%" PRId64 ": %s", source, item->line_no, message);
        reject(item, &error);
    }
    free(item->record.text); /* the id (record.id_json) stays for the output */
    item->record.text = NULL;
}

static void validate(llmbed_window_item *item, const llmbed_job_engine *engine, const llmbed_job_options *o,
                     const char *source) {
    llmbed_error error = {0};
    if (item->n_ids == 0) {
        llmbed_fail(&error, LLMBED_ERR_EMPTY_SEQUENCE, "%s:%" PRId64 ": empty sequence (no tokens to embed)", source,
                    item->line_no);
        reject(item, &error);
        return;
    }
    if (o->max_tokens > 0 && item->n_ids > (size_t)o->max_tokens) {
        if (!o->truncate) {
            llmbed_fail(&error, LLMBED_ERR_SEQUENCE_TOO_LONG,
                        "%s:%" PRId64 ": %zu tokens, more than --max-tokens %" PRId64 " (use --truncate to cut it)",
                        source, item->line_no, item->n_ids, o->max_tokens);
            reject(item, &error);
            return;
        }
        item->n_ids = (size_t)o->max_tokens; /* pre-tokenised ids carry no known specials: keep the head */
        item->truncated = 1;
    }
    for (size_t i = 0; i < item->n_ids; i++) {
        if (item->ids[i] < 0 || (engine->vocab_size > 0 && item->ids[i] >= engine->vocab_size)) {
            llmbed_fail(&error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                        "%s:%" PRId64 ": input_ids[%zu] = %" PRId32 " is outside the vocabulary [0, %d)", source,
                        item->line_no, i, item->ids[i], engine->vocab_size);
            reject(item, &error);
            return;
        }
    }
    /* A prompt cut by truncation must not mask the whole sequence out of the pool. */
    if ((size_t)item->instruction_len >= item->n_ids) item->instruction_len = (int32_t)item->n_ids - 1;
    if (item->pool_end <= item->instruction_len || (size_t)item->pool_end > item->n_ids) item->pool_end = 0;
}

typedef struct prepare_task {
    llmbed_window *window;
    const llmbed_job_engine *engine;
    const llmbed_job_options *options;
    const char *source;
    int thread_index;
    int n_threads;
} prepare_task;

static void *prepare_stride(void *arg) {
    prepare_task *t = arg;
    for (int i = t->thread_index; i < t->window->n; i += t->n_threads) {
        llmbed_window_item *item = &t->window->items[i];
        if (item->status != LLMBED_OK) continue;
        if (item->record.kind == LLMBED_RECORD_TEXT) {
            prepare_text(item, t->engine, t->options, t->source);
        } else {
            item->ids = item->record.ids;
            item->n_ids = item->record.n_ids;
            item->record.ids = NULL;
        }
        if (item->status == LLMBED_OK) validate(item, t->engine, t->options, t->source);
    }
    return NULL;
}

static void read_lines(llmbed_window *window, llmbed_line_reader *reader, const llmbed_job_options *o) {
    int max_lines = o->window_lines > 0 ? o->window_lines : 4096;
    size_t max_bytes = o->window_bytes > 0 ? o->window_bytes : (size_t)16 << 20;
    window->items = calloc((size_t)max_lines, sizeof *window->items);
    if (window->items == NULL) {
        window->status = llmbed_fail(&window->error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the input window");
        return;
    }
    llmbed_input_parse_options parse = {llmbed_line_reader_name(reader), o->text_field, o->id_field, o->strict_utf8,
                                        llmbed_json_line_create(), 0};
    if (parse.json == NULL) {
        window->status = llmbed_fail(&window->error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for the JSON parser");
        return;
    }
    size_t bytes = 0;
    while (window->n < max_lines && bytes < max_bytes) {
        const char *line;
        size_t len;
        int64_t line_no, end_offset;
        llmbed_status st = llmbed_line_reader_next(reader, &line, &len, &line_no, &end_offset, &window->error);
        if (st != LLMBED_OK) {
            window->status = st;
            break;
        }
        if (line == NULL) {
            window->eof = 1;
            break;
        }
        llmbed_window_item *item = &window->items[window->n++];
        item->line_no = line_no;
        item->end_offset = end_offset;
        item->prefix_crc = llmbed_line_reader_crc(reader);
        llmbed_error error = {0};
        if (llmbed_input_parse_line(line, len, line_no, &parse, &item->record, &error) != LLMBED_OK) {
            reject(item, &error);
        }
        bytes += len;
    }
    llmbed_json_line_free(parse.json);
}

void llmbed_window_fill(llmbed_window *window, llmbed_line_reader *reader, const llmbed_job_engine *engine,
                        const llmbed_job_options *o) {
    memset(window, 0, sizeof *window);
    read_lines(window, reader, o);
    int n_threads = o->tokenize_threads > 0 ? o->tokenize_threads : 1;
    if (n_threads > window->n) n_threads = window->n > 0 ? window->n : 1;
    prepare_task tasks[64];
    pthread_t threads[64];
    if (n_threads > 64) n_threads = 64;
    int started = 0;
    for (int t = 0; t < n_threads; t++) {
        tasks[t] = (prepare_task){window, engine, o, llmbed_line_reader_name(reader), t, n_threads};
    }
    for (int t = 1; t < n_threads; t++) {
        if (pthread_create(&threads[t], NULL, prepare_stride, &tasks[t]) != 0) break;
        started = t;
    }
    /* Strides whose thread failed to start run here, in this thread. */
    prepare_stride(&tasks[0]);
    for (int t = started + 1; t < n_threads; t++) prepare_stride(&tasks[t]);
    for (int t = 1; t <= started; t++) pthread_join(threads[t], NULL);
}
