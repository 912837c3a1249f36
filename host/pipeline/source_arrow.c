#include "pipeline/source_arrow.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "io/crc32.h"

#define RERUN "; rerun without --resume to start over"

static llmbed_status stream_error(llmbed_arrow_source *s, int code, const char *what, llmbed_error *error) {
    const char *reason = s->stream->get_last_error != NULL ? s->stream->get_last_error(s->stream) : NULL;
    return llmbed_fail(error, LLMBED_ERR_IO, "%s: %s failed (errno %d): %s", s->name, what, code,
                       reason != NULL ? reason : "no message");
}

static int is_string(const char *format) { return strcmp(format, "u") == 0 || strcmp(format, "U") == 0; }

static int is_integer(const char *format) {
    return strlen(format) == 1 && strchr("cCsSiIlL", format[0]) != NULL;
}

static int find_column(const struct ArrowSchema *schema, const char *name) {
    for (int64_t i = 0; i < schema->n_children; i++)
        if (schema->children[i]->name != NULL && strcmp(schema->children[i]->name, name) == 0) return (int)i;
    return -1;
}

static int row_valid(const struct ArrowArray *column, int64_t at) {
    const uint8_t *validity = column->null_count != 0 && column->n_buffers > 0 ? column->buffers[0] : NULL;
    return validity == NULL || (validity[at >> 3] >> (at & 7)) & 1;
}

/* The string at row `at` (already offset) of a utf8 ("u") or large utf8 ("U") column. */
static void string_at(const struct ArrowArray *column, const char *format, int64_t at, const char **data, size_t *len) {
    const char *bytes = column->buffers[2];
    if (format[0] == 'u') {
        const int32_t *offsets = column->buffers[1];
        *data = bytes + offsets[at];
        *len = (size_t)(offsets[at + 1] - offsets[at]);
    } else {
        const int64_t *offsets = column->buffers[1];
        *data = bytes + offsets[at];
        *len = (size_t)(offsets[at + 1] - offsets[at]);
    }
}

/* The id at row `at` as JSON: a string (quoted, escaped) or an integer. */
static char *id_json_at(const struct ArrowArray *column, const char *format, int64_t at) {
    if (!row_valid(column, at)) return strdup("null");
    char number[32];
    if (is_integer(format)) {
        const void *values = column->buffers[1];
        int64_t v;
        switch (format[0]) {
        case 'c': v = ((const int8_t *)values)[at]; break;
        case 'C': v = ((const uint8_t *)values)[at]; break;
        case 's': v = ((const int16_t *)values)[at]; break;
        case 'S': v = ((const uint16_t *)values)[at]; break;
        case 'i': v = ((const int32_t *)values)[at]; break;
        case 'I': v = ((const uint32_t *)values)[at]; break;
        case 'L': v = (int64_t)((const uint64_t *)values)[at]; break;
        default: v = ((const int64_t *)values)[at]; break;
        }
        snprintf(number, sizeof number, "%" PRId64, v);
        return strdup(number);
    }
    const char *data;
    size_t len;
    string_at(column, format, at, &data, &len);
    char *out = malloc(6 * len + 3), *p = out;
    if (out == NULL) return NULL;
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)data[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

/* The next batch with rows, or eof. */
static llmbed_status next_batch(llmbed_arrow_source *s, llmbed_error *error) {
    while (!s->eof && (s->batch.release == NULL || s->row >= s->batch.length)) {
        if (s->batch.release != NULL) s->batch.release(&s->batch);
        memset(&s->batch, 0, sizeof s->batch);
        s->row = 0;
        const int code = s->stream->get_next(s->stream, &s->batch);
        if (code != 0) return stream_error(s, code, "reading the next record batch", error);
        if (s->batch.release == NULL) s->eof = 1;
        else if (s->batch.n_children != s->schema.n_children)
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s: a record batch has %" PRId64 " columns, the schema %" PRId64,
                               s->name, s->batch.n_children, s->schema.n_children);
    }
    return LLMBED_OK;
}

static llmbed_status arrow_next(void *user, llmbed_input_record *record, llmbed_status *record_status,
                                llmbed_error *record_error, int64_t *line_no, int64_t *end_offset, uint32_t *prefix_crc,
                                size_t *bytes, int *eof, llmbed_error *error) {
    llmbed_arrow_source *s = user;
    LLMBED_TRY(next_batch(s, error));
    if (s->eof) {
        *eof = 1;
        return LLMBED_OK;
    }
    const struct ArrowArray *text = s->batch.children[s->text_column];
    const int64_t at = s->batch.offset + text->offset + s->row;
    memset(record, 0, sizeof *record);
    *line_no = ++s->records;
    *record_status = LLMBED_OK;
    if (!row_valid(text, at)) {
        *record_status = llmbed_fail(record_error, LLMBED_ERR_INPUT_FORMAT,
                                     "%s:%" PRId64 ": column \"%s\" is null (a record needs its text)", s->name,
                                     s->records, s->schema.children[s->text_column]->name);
        s->offset += 1;
        s->crc = llmbed_crc32_update(s->crc, "\n", 1);
        *bytes = 0;
    } else {
        const char *data;
        size_t len;
        string_at(text, s->schema.children[s->text_column]->format, at, &data, &len);
        record->kind = LLMBED_RECORD_TEXT;
        record->text = malloc(len + 1);
        if (record->text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", s->name);
        memcpy(record->text, data, len);
        record->text[len] = '\0';
        record->text_len = len;
        s->offset += (int64_t)len + 1;
        s->crc = llmbed_crc32_update(llmbed_crc32_update(s->crc, data, len), "\n", 1);
        *bytes = len;
    }
    if (s->id_column >= 0) {
        const struct ArrowArray *id = s->batch.children[s->id_column];
        record->id_json = id_json_at(id, s->schema.children[s->id_column]->format, s->batch.offset + id->offset + s->row);
        if (record->id_json == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", s->name);
    }
    s->row++;
    *end_offset = s->offset;
    *prefix_crc = s->crc;
    return LLMBED_OK;
}

/* Re-reads the rows a resumed job already has and checks their count,
 * position and CRC-32 against the manifest. */
static llmbed_status arrow_seek(void *user, int64_t offset, int64_t lines, uint32_t crc32, int complete,
                                const char *mpath, llmbed_error *error) {
    llmbed_arrow_source *s = user;
    while (s->records < lines) {
        llmbed_input_record record;
        llmbed_status record_status;
        llmbed_error record_error;
        int64_t line_no, end;
        uint32_t crc;
        size_t bytes;
        int eof = 0;
        LLMBED_TRY(arrow_next(s, &record, &record_status, &record_error, &line_no, &end, &crc, &bytes, &eof, error));
        llmbed_input_record_clear(&record);
        if (eof)
            return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                               "%s: field \"next_line\" is %" PRId64 " but %s holds %" PRId64 " rows" RERUN, mpath,
                               lines, s->name, s->records);
    }
    if (s->offset != offset || s->crc != crc32)
        return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                           "%s: field \"input_crc32\": the first %" PRId64 " rows of %s changed since the job started "
                           "(position %" PRId64 " was %" PRId64 ", CRC-32 %" PRIu32 " was %" PRIu32 ")" RERUN,
                           mpath, lines, s->name, s->offset, offset, s->crc, crc32);
    if (complete) {
        LLMBED_TRY(next_batch(s, error));
        if (!s->eof)
            return llmbed_fail(error, LLMBED_ERR_RESUME_MISMATCH,
                               "%s: field \"complete\" is true but %s goes on after row %" PRId64 RERUN, mpath, s->name,
                               lines);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_arrow_source_init(llmbed_arrow_source *s, struct ArrowArrayStream *stream, const char *name,
                                       const char *text_column, const char *id_column, llmbed_job_source *source,
                                       llmbed_error *error) {
    memset(s, 0, sizeof *s);
    s->stream = stream;
    snprintf(s->name, sizeof s->name, "%s", name != NULL ? name : "arrow input");
    if (stream == NULL || stream->release == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "arrow_input: the stream is released or NULL");
    const int code = stream->get_schema(stream, &s->schema);
    if (code != 0) return stream_error(s, code, "reading the schema", error);
    if (s->schema.format == NULL || strcmp(s->schema.format, "+s") != 0)
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                           "%s: the Arrow stream holds \"%s\" arrays, not record batches (struct \"+s\")",
                           s->name, s->schema.format != NULL ? s->schema.format : "?");
    const char *text_name = text_column != NULL ? text_column : "text";
    s->text_column = find_column(&s->schema, text_name);
    if (s->text_column < 0)
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s: no column \"%s\" (the text column)", s->name, text_name);
    if (!is_string(s->schema.children[s->text_column]->format))
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                           "%s: column \"%s\" has Arrow type \"%s\", not a string (utf8 or large_utf8)",
                           s->name, text_name, s->schema.children[s->text_column]->format);
    s->id_column = -1;
    if (id_column != NULL) {
        s->id_column = find_column(&s->schema, id_column);
        if (s->id_column < 0)
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s: no column \"%s\" (the id column)", s->name, id_column);
        const char *format = s->schema.children[s->id_column]->format;
        if (!is_string(format) && !is_integer(format))
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                               "%s: id column \"%s\" has Arrow type \"%s\", not a string or an integer",
                               s->name, id_column, format);
    }
    *source = (llmbed_job_source){s, s->name, 1, arrow_next, arrow_seek, NULL};
    return LLMBED_OK;
}

void llmbed_arrow_source_close(llmbed_arrow_source *s) {
    if (s->batch.release != NULL) s->batch.release(&s->batch);
    if (s->schema.release != NULL) s->schema.release(&s->schema);
    if (s->stream != NULL && s->stream->release != NULL) s->stream->release(s->stream);
    memset(s, 0, sizeof *s);
}
