/* One input line -> one record. The rule (documented in `llmbed embed --help`):
 * a line whose first byte is '{' is a JSON object; it holds either
 * "input_ids" (an array of token ids: pre-tokenised, bypasses the tokenizer
 * and the prompt) or a string under the text field (default "text"), and
 * optionally an id under the id field. Any other line is plain UTF-8 text
 * (a trailing "\r" is dropped; an empty line is empty text). JSON strings
 * may hold any Unicode scalar, U+0000 included (text_len counts it).
 * Invalid UTF-8 is counted per line and, unless strict_utf8, replaced by
 * U+FFFD as Python's decode("utf-8", "replace") does (the tokenizer does it
 * for plain text, this parser before parsing JSON). */
#ifndef LLMBED_IO_INPUT_RECORD_H
#define LLMBED_IO_INPUT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

typedef enum llmbed_record_kind { LLMBED_RECORD_TEXT = 0, LLMBED_RECORD_IDS } llmbed_record_kind;

typedef struct llmbed_input_record {
    llmbed_record_kind kind;
    char *text; /* owned, NUL-terminated (TEXT) */
    size_t text_len;
    int32_t *ids; /* owned (IDS) */
    size_t n_ids;
    char *id_json; /* owned JSON text of the id field's value; NULL when absent */
    size_t invalid_utf8; /* invalid UTF-8 sequences in the line (replaced by U+FFFD) */
    int32_t *spans; /* owned: "spans" token ranges [spans[2i], spans[2i + 1]) (late chunking); NULL = none */
    size_t n_spans;
} llmbed_input_record;

typedef struct llmbed_input_parse_options {
    const char *source;     /* file name used in messages ("<stdin>" for -) */
    const char *text_field; /* NULL = "text" */
    const char *id_field;   /* NULL = no ids */
    int strict_utf8;        /* 1: invalid UTF-8 is LLMBED_ERR_INPUT_FORMAT naming the byte */
    struct llmbed_json_line *json; /* reusable parser (io/json_line.h); NULL = one per call */
    int accept_spans; /* 1: read "spans" (late chunking); 0: a "spans" field is an error naming --late-chunking */
} llmbed_input_parse_options;

/* Parses line[0..len) (which need not be NUL-terminated) read from line
 * number `line_no` (1-based). Errors name "source:line" and the field:
 * LLMBED_ERR_INPUT_FORMAT for malformed JSON, a non-object, a missing or
 * non-string text field, input_ids that are not an array of integers in the
 * int32 range, invalid UTF-8 with strict_utf8. `record` is left empty on error. */
llmbed_status llmbed_input_parse_line(const char *line, size_t len, int64_t line_no,
                                      const llmbed_input_parse_options *options,
                                      llmbed_input_record *record, llmbed_error *error);

/* Frees the record's buffers and zeroes it. */
void llmbed_input_record_clear(llmbed_input_record *record);

#endif
