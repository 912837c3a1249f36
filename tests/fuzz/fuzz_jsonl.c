/* libFuzzer target for the input-line parser (host/io/input_record.c):
 * every line of the input goes through llmbed_input_parse_line with a text
 * and an id field, strict UTF-8 and "spans" accepted or not by the first
 * byte; the parser must never crash, leak or read out of bounds, and must
 * return either a well-formed record or LLMBED_ERR_INPUT_FORMAT with a
 * message naming the line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/input_record.h"
#include "io/json_line.h"

/* One parser for the whole run, as a job's reader keeps one per window. */
static llmbed_json_line *parser;

static void check_line(const char *line, size_t len, int64_t line_no, int strict, int accept_spans) {
    if (parser == NULL) parser = llmbed_json_line_create();
    llmbed_input_parse_options options = {"fuzz.jsonl", "text", "id", strict, parser, accept_spans};
    llmbed_input_record record;
    llmbed_error error = {0};
    llmbed_status st = llmbed_input_parse_line(line, len, line_no, &options, &record, &error);
    if (st == LLMBED_OK) {
        if (record.kind == LLMBED_RECORD_TEXT) {
            if (record.text == NULL || record.text[record.text_len] != '\0') abort(); /* NUL bytes inside are data */
        } else if (record.kind == LLMBED_RECORD_IDS) {
            if (record.n_ids > 0 && record.ids == NULL) abort();
        } else {
            abort();
        }
        if ((record.n_spans > 0 && record.spans == NULL) || (!accept_spans && record.spans != NULL)) abort();
    } else {
        if (st != LLMBED_ERR_INPUT_FORMAT && st != LLMBED_ERR_OUT_OF_MEMORY) abort();
        if (strncmp(error.message, "fuzz.jsonl:", 11) != 0) abort();
        if (record.text != NULL || record.ids != NULL || record.id_json != NULL || record.spans != NULL) abort();
    }
    llmbed_input_record_clear(&record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    int64_t line_no = 1;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || text[i] == '\n') {
            check_line(text + start, i - start, line_no++, size > 0 && (data[0] & 1), size > 0 && (data[0] & 2));
            start = i + 1;
        }
    }
    return 0;
}
