#include "io/input_record.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "io/json_line.h"
#include "tokenizer/utf8.h"

void llmbed_input_record_clear(llmbed_input_record *record) {
    free(record->text);
    free(record->ids);
    free(record->id_json);
    free(record->spans);
    memset(record, 0, sizeof *record);
}

static char *copy_bytes(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) return NULL;
    if (n > 0) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Byte offset of the first invalid UTF-8 sequence, or len when valid. */
static size_t first_invalid(const char *text, size_t len) {
    size_t at = 0;
    while (at < len) {
        size_t bad = 0, ok = tok_utf8_valid_len((const uint8_t *)text + at, len - at, &bad);
        if (ok == 0) return at;
        at += ok;
    }
    return len;
}

static llmbed_status parse_json(const char *line, size_t len, int64_t line_no, const char *source,
                                const llmbed_input_parse_options *options, llmbed_input_record *record,
                                llmbed_error *error) {
    const char *text_field = options->text_field != NULL ? options->text_field : "text";
    llmbed_json_line *parser = options->json != NULL ? options->json : llmbed_json_line_create();
    if (parser == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
    llmbed_json_fields f;
    const char *why = "";
    llmbed_json_result r = llmbed_json_line_parse(parser, line, len, text_field, options->id_field, &f, &why);
    if (options->json == NULL) llmbed_json_line_free(parser);
    llmbed_status st = LLMBED_OK;
    if (r == LLMBED_JSON_NO_MEMORY) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
    } else if (r == LLMBED_JSON_MALFORMED) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": malformed JSON: %s", source, line_no, why);
    } else if (r == LLMBED_JSON_NOT_OBJECT) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": line starts with '{' but is not a JSON object",
                         source, line_no);
    } else if (f.ids_state == LLMBED_FIELD_WRONG_TYPE) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": field \"input_ids\" is not an array", source,
                         line_no);
    } else if (f.ids_state == LLMBED_FIELD_BAD_ELEMENT) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                         "%s:%" PRId64 ": field \"input_ids\"[%zu] is not an integer token id", source, line_no,
                         f.bad_index);
    } else if (f.ids_state == LLMBED_FIELD_ABSENT && f.text_state == LLMBED_FIELD_ABSENT) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                         "%s:%" PRId64 ": JSON object has neither \"input_ids\" nor the text field \"%s\"", source,
                         line_no, text_field);
    } else if (f.text_state == LLMBED_FIELD_WRONG_TYPE) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": field \"%s\" is not a string", source, line_no,
                         text_field);
    } else if (f.spans_state != LLMBED_FIELD_ABSENT && !options->accept_spans) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                         "%s:%" PRId64 ": field \"spans\" is for late chunking: add --late-chunking (or rename the field)",
                         source, line_no);
    } else if (f.spans_state == LLMBED_FIELD_WRONG_TYPE) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": field \"spans\" is not an array", source,
                         line_no);
    } else if (f.spans_state == LLMBED_FIELD_BAD_ELEMENT) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                         "%s:%" PRId64 ": field \"spans\"[%zu] is not a [begin, end] pair of token positions", source,
                         line_no, f.spans_bad_index);
    } else if (f.id_state == LLMBED_FIELD_WRONG_TYPE) {
        st = llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": id field \"%s\" is not a string or number",
                         source, line_no, options->id_field);
    }
    if (st != LLMBED_OK) {
        llmbed_json_fields_clear(&f);
        return st;
    }
    if (f.ids_state == LLMBED_FIELD_OK) {
        record->kind = LLMBED_RECORD_IDS;
        record->ids = f.ids;
        record->n_ids = f.n_ids;
        f.ids = NULL;
    } else {
        record->kind = LLMBED_RECORD_TEXT;
        record->text = f.text;
        record->text_len = f.text_len;
        f.text = NULL;
    }
    record->id_json = f.id_json;
    f.id_json = NULL;
    record->spans = f.spans;
    record->n_spans = f.n_spans;
    f.spans = NULL;
    llmbed_json_fields_clear(&f);
    return LLMBED_OK;
}

llmbed_status llmbed_input_parse_line(const char *line, size_t len, int64_t line_no,
                                      const llmbed_input_parse_options *options,
                                      llmbed_input_record *record, llmbed_error *error) {
    memset(record, 0, sizeof *record);
    const char *source = options->source != NULL ? options->source : "<input>";
    if (len > 0 && line[len - 1] == '\r') len--;
    size_t bad_at = first_invalid(line, len);
    if (bad_at < len) {
        if (options->strict_utf8) {
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                               "%s:%" PRId64 ": invalid UTF-8 at byte %zu of the line (--strict-utf8)", source, line_no,
                               bad_at + 1);
        }
        record->invalid_utf8 = tok_utf8_count_invalid(line, len);
    }
    if (len == 0 || line[0] != '{') {
        record->kind = LLMBED_RECORD_TEXT;
        record->text_len = len;
        record->text = copy_bytes(line, len);
        if (record->text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
        return LLMBED_OK;
    }
    size_t invalid = record->invalid_utf8;
    llmbed_status st;
    if (invalid > 0) {
        /* JSON must be UTF-8: repair first, as a Python reader opening the file with errors="replace" would. */
        tok_bytes repaired = {0};
        if (!tok_utf8_repair(line, len, &repaired)) {
            tok_bytes_free(&repaired);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
        }
        st = parse_json(repaired.data, repaired.len, line_no, source, options, record, error);
        tok_bytes_free(&repaired);
    } else {
        st = parse_json(line, len, line_no, source, options, record, error);
    }
    if (st != LLMBED_OK) {
        llmbed_input_record_clear(record);
        return st;
    }
    record->invalid_utf8 = invalid;
    return LLMBED_OK;
}
