/* One JSONL input line -> its fields, through simdjson's DOM parser
 * (C++, behind this C interface). Chosen over cJSON and jansson for the JSONL
 * hot path (bench/results/json_parse_2026-12-02.txt): strings come with their
 * length, so text may hold U+0000 ("\u0000") like any other scalar, and it
 * parses 2-3x faster than cJSON (jansson, also length-aware, is 4-6x slower
 * than cJSON). simdjson validates UTF-8: callers repair or reject invalid
 * bytes first (input_record.c). */
#ifndef LLMBED_IO_JSON_LINE_H
#define LLMBED_IO_JSON_LINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A reusable parser (its buffers grow to the longest line). One thread at a time. */
typedef struct llmbed_json_line llmbed_json_line;

llmbed_json_line *llmbed_json_line_create(void);
void llmbed_json_line_free(llmbed_json_line *parser); /* NULL is a no-op */

typedef enum llmbed_field_state {
    LLMBED_FIELD_ABSENT = 0,
    LLMBED_FIELD_OK,
    LLMBED_FIELD_WRONG_TYPE, /* text: not a string; id: not a string or number; ids: not an array */
    LLMBED_FIELD_BAD_ELEMENT /* ids: element `bad_index` is not an integer in the int32 range;
                                spans: element `bad_index` is not a pair of such integers */
} llmbed_field_state;

typedef struct llmbed_json_fields {
    llmbed_field_state ids_state; /* "input_ids" */
    int32_t *ids;                 /* malloc'ed (OK) */
    size_t n_ids;
    size_t bad_index;
    llmbed_field_state text_state;
    char *text; /* malloc'ed, NUL-terminated after text_len bytes (may contain NULs) */
    size_t text_len;
    llmbed_field_state id_state;
    char *id_json; /* malloc'ed JSON text of the id's value */
    llmbed_field_state spans_state; /* "spans": [[begin, end], ...] (late chunking) */
    int32_t *spans;                 /* malloc'ed, 2 * n_spans values (OK) */
    size_t n_spans;
    size_t spans_bad_index;
} llmbed_json_fields;

typedef enum llmbed_json_result {
    LLMBED_JSON_OK = 0,
    LLMBED_JSON_MALFORMED,  /* *why names the problem */
    LLMBED_JSON_NOT_OBJECT,
    LLMBED_JSON_NO_MEMORY
} llmbed_json_result;

/* Parses line[0..len) (valid UTF-8; need not be NUL-terminated) and extracts
 * "input_ids", the text field, "spans" and (id_field != NULL) the id field. Only
 * whitespace may follow the value. *why (static text) is set on MALFORMED. */
llmbed_json_result llmbed_json_line_parse(llmbed_json_line *parser, const char *line, size_t len,
                                          const char *text_field, const char *id_field, llmbed_json_fields *out,
                                          const char **why);

void llmbed_json_fields_clear(llmbed_json_fields *fields);

#ifdef __cplusplus
}
#endif

#endif
