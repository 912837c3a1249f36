/* Late chunking from the command line: one record at a time through
 * llmbed_embed_spans (a long document is one forward, chunked over the
 * key/value cache when it is long), rows streamed to the output writer and
 * their provenance to the row index. Both files appear only when the job
 * succeeds. */
#include "cli/late_chunking.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "io/atomic_file.h"
#include "io/input_record.h"
#include "io/json_line.h"
#include "io/line_reader.h"
#include "io/output_writer.h"

enum { MAX_LINE_BYTES = 64 << 20 };

int cli_parse_late_chunking(const char *spec, int *span_tokens) {
    if (strcmp(spec, "spans") == 0) {
        *span_tokens = 0;
        return 0;
    }
    if (strncmp(spec, "tokens:", 7) != 0) return -1;
    char *end = NULL;
    const long n = strtol(spec + 7, &end, 10);
    if (end == spec + 7 || *end != '\0' || n < 1 || n > INT32_MAX) return -1;
    *span_tokens = (int)n;
    return 0;
}

char *cli_late_chunking_index_path(const char *output) {
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    const size_t stem = dot != NULL && (slash == NULL || dot > slash) ? (size_t)(dot - output) : strlen(output);
    char *path = malloc(stem + sizeof ".rows.jsonl");
    if (path == NULL) return NULL;
    memcpy(path, output, stem);
    strcpy(path + stem, ".rows.jsonl");
    return path;
}

/* Everything one run holds; released by finish(). */
typedef struct late_state {
    const cli_late_chunking_job *job;
    llmbed_line_reader *reader;
    llmbed_output_writer *writer;
    llmbed_atomic_file index;
    char *index_path;
    llmbed_json_line *parser;
    int32_t *spans;
    size_t span_capacity; /* pairs */
    float *rows;
    size_t row_capacity; /* rows */
    const char **row_ids;
} late_state;

static llmbed_status fail_line(llmbed_status st, const late_state *s, int64_t line_no, const char *what) {
    cli_error("%s:%" PRId64 ": %s", llmbed_line_reader_name(s->reader), line_no, what);
    return st;
}

/* The record's own spans, or tokens:N spans over its n tokens. */
static llmbed_status spans_of(late_state *s, const llmbed_input_record *record, size_t n, int64_t line_no,
                              size_t *n_spans) {
    const int N = s->job->span_tokens;
    const size_t count = record->spans != NULL ? record->n_spans : (N > 0 ? (n + (size_t)N - 1) / (size_t)N : 0);
    if (count == 0)
        return fail_line(LLMBED_ERR_INPUT_FORMAT, s, line_no,
                         record->spans != NULL ? "field \"spans\" is empty (one row per span: give at least one)"
                                               : "no \"spans\" field (--late-chunking spans needs one on every line)");
    if (count > s->span_capacity) {
        int32_t *grown = realloc(s->spans, sizeof(int32_t) * 2 * count);
        if (grown == NULL) return fail_line(LLMBED_ERR_OUT_OF_MEMORY, s, line_no, "out of memory for the spans");
        s->spans = grown;
        s->span_capacity = count;
    }
    if (record->spans != NULL) {
        memcpy(s->spans, record->spans, sizeof(int32_t) * 2 * count);
    } else {
        for (size_t i = 0; i < count; i++) {
            s->spans[2 * i] = (int32_t)(i * (size_t)N);
            s->spans[2 * i + 1] = (int32_t)((i + 1) * (size_t)N < n ? (i + 1) * (size_t)N : n);
        }
    }
    *n_spans = count;
    return LLMBED_OK;
}

static llmbed_status reserve_rows(late_state *s, size_t n_rows, int64_t line_no) {
    if (n_rows <= s->row_capacity) return LLMBED_OK;
    float *rows = realloc(s->rows, sizeof(float) * n_rows * (size_t)s->job->dims);
    if (rows != NULL) s->rows = rows;
    const char **ids = realloc(s->row_ids, sizeof(char *) * n_rows);
    if (ids != NULL) s->row_ids = ids;
    if (rows == NULL || ids == NULL) return fail_line(LLMBED_ERR_OUT_OF_MEMORY, s, line_no, "out of memory for the rows");
    s->row_capacity = n_rows;
    return LLMBED_OK;
}

static llmbed_status write_index(late_state *s, const llmbed_input_record *record, size_t n_spans, int64_t first_row,
                                 int64_t line_no) {
    llmbed_error error = {0};
    for (size_t i = 0; i < n_spans; i++) {
        char line[192];
        const int n = snprintf(line, sizeof line, "{\"row\": %" PRId64 ", \"line\": %" PRId64 ", \"span\": [%d, %d]",
                               first_row + (int64_t)i, line_no, s->spans[2 * i], s->spans[2 * i + 1]);
        llmbed_status st = llmbed_atomic_file_write(&s->index, line, (size_t)n, &error);
        if (st == LLMBED_OK && record->id_json != NULL) {
            st = llmbed_atomic_file_write(&s->index, ", \"id\": ", 8, &error);
            if (st == LLMBED_OK) st = llmbed_atomic_file_write(&s->index, record->id_json, strlen(record->id_json), &error);
        }
        if (st == LLMBED_OK) st = llmbed_atomic_file_write(&s->index, "}\n", 2, &error);
        if (st != LLMBED_OK) {
            cli_error("%s", error.message);
            return st;
        }
    }
    return LLMBED_OK;
}

/* One record: its tokens, spans, rows and index lines. */
static llmbed_status embed_record(late_state *s, const llmbed_input_record *record, int64_t line_no,
                                  cli_late_chunking_stats *stats) {
    const cli_late_chunking_job *job = s->job;
    int32_t *owned = NULL;
    const int32_t *ids = record->ids;
    size_t n = record->n_ids;
    llmbed_error error = {0};
    if (record->kind == LLMBED_RECORD_TEXT) {
        llmbed_status st = cli_tokenize_all(job->model, record->text, record->text_len, 1, &owned, &n, &error);
        if (st != LLMBED_OK) return fail_line(st, s, line_no, error.message);
        ids = owned;
    }
    llmbed_status st = LLMBED_OK;
    char message[LLMBED_ERROR_MESSAGE_CAPACITY + 64];
    size_t n_spans = 0;
    if (n == 0) {
        st = fail_line(LLMBED_ERR_EMPTY_SEQUENCE, s, line_no, "the line has no tokens");
    } else if (job->max_tokens > 0 && (int64_t)n > job->max_tokens) {
        snprintf(message, sizeof message,
                 "%zu tokens, more than --max-tokens %" PRId64 " (late chunking never truncates: raise --max-tokens)",
                 n, job->max_tokens);
        st = fail_line(LLMBED_ERR_SEQUENCE_TOO_LONG, s, line_no, message);
    }
    if (st == LLMBED_OK) st = spans_of(s, record, n, line_no, &n_spans);
    if (st == LLMBED_OK) st = reserve_rows(s, n_spans, line_no);
    if (st == LLMBED_OK) {
        st = llmbed_embed_spans(job->ctx, ids, n, s->spans, (int)n_spans, job->params, s->rows,
                                n_spans * (size_t)job->dims);
        if (st != LLMBED_OK) fail_line(st, s, line_no, llmbed_last_error(job->ctx));
    }
    free(owned);
    if (st != LLMBED_OK) return st;
    for (size_t i = 0; i < n_spans; i++) s->row_ids[i] = record->id_json;
    const int64_t first_row = llmbed_output_writer_rows(s->writer);
    st = llmbed_output_writer_write(s->writer, s->rows, n_spans, s->row_ids, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message);
        return st;
    }
    st = write_index(s, record, n_spans, first_row, line_no);
    if (st != LLMBED_OK) return st;
    stats->lines++;
    stats->rows += (int64_t)n_spans;
    stats->tokens += (int64_t)n;
    return LLMBED_OK;
}

static llmbed_status open_outputs(late_state *s) {
    const cli_late_chunking_job *job = s->job;
    llmbed_error error = {0};
    const llmbed_file_id input = llmbed_file_id_of_path(job->input);
    s->index_path = cli_late_chunking_index_path(job->output);
    s->parser = llmbed_json_line_create();
    if (s->index_path == NULL || s->parser == NULL) {
        cli_error("llmbed embed: out of memory");
        return LLMBED_ERR_OUT_OF_MEMORY;
    }
    llmbed_status st = llmbed_line_reader_open(job->input, 0, 0, MAX_LINE_BYTES, &s->reader, &error);
    if (st == LLMBED_OK)
        st = llmbed_output_writer_open(job->output, job->format, job->dtype, job->dims, &input, &s->writer, &error);
    if (st == LLMBED_OK) st = llmbed_atomic_file_open(&s->index, s->index_path, &input, &error);
    if (st != LLMBED_OK) cli_error("%s", error.message);
    return st;
}

/* Commits both files (the index first: a failed output commit then removes
 * it again), or removes both. */
static llmbed_status finish(late_state *s, llmbed_status st) {
    llmbed_error error = {0};
    if (st == LLMBED_OK) {
        st = llmbed_atomic_file_commit(&s->index, &error);
        if (st == LLMBED_OK) {
            st = llmbed_output_writer_commit(s->writer, NULL, &error);
            s->writer = NULL;
            if (st != LLMBED_OK) unlink(s->index_path);
        }
        if (st != LLMBED_OK) cli_error("%s", error.message);
    }
    llmbed_atomic_file_abort(&s->index);
    llmbed_output_writer_abort(s->writer);
    llmbed_line_reader_close(s->reader);
    llmbed_json_line_free(s->parser);
    free(s->index_path);
    free(s->spans);
    free(s->rows);
    free(s->row_ids);
    return st;
}

llmbed_status cli_run_late_chunking(const cli_late_chunking_job *job, cli_late_chunking_stats *stats) {
    late_state s = {.job = job};
    memset(stats, 0, sizeof *stats);
    llmbed_status st = open_outputs(&s);
    if (st != LLMBED_OK) return finish(&s, st);
    const llmbed_input_parse_options parse = {llmbed_line_reader_name(s.reader), job->text_field, job->id_field,
                                              job->strict_utf8, s.parser, 1};
    while (st == LLMBED_OK) {
        const char *line = NULL;
        size_t len = 0;
        int64_t line_no = 0, end_offset = 0;
        llmbed_error error = {0};
        st = llmbed_line_reader_next(s.reader, &line, &len, &line_no, &end_offset, &error);
        if (st != LLMBED_OK) cli_error("%s", error.message);
        if (st != LLMBED_OK || line == NULL) break;
        if (job->stop != NULL && *job->stop) {
            cli_error("interrupted: no output written (%s)", job->output);
            st = LLMBED_ERR_INTERRUPTED;
            break;
        }
        llmbed_input_record record;
        st = llmbed_input_parse_line(line, len, line_no, &parse, &record, &error);
        if (st != LLMBED_OK) {
            cli_error("%s", error.message);
            break;
        }
        st = embed_record(&s, &record, line_no, stats);
        llmbed_input_record_clear(&record);
    }
    return finish(&s, st);
}
