/* cJSON over files and byte ranges, with messages that name the file and
 * the line/column where parsing stopped. cJSON's own error pointer is a
 * global, so positions come from the parse-end pointer instead. */
#ifndef LLMBED_COMMON_JSON_FILE_H
#define LLMBED_COMMON_JSON_FILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses text[0..length) (need not be NUL-terminated; trailing whitespace
 * allowed). LLMBED_ERR_BAD_JSON naming `name` and the position. */
llmbed_status llmbed_json_parse(const char *text, size_t length, const char *name, cJSON **out,
                                llmbed_error *error);

/* Reads and parses a whole file: LLMBED_ERR_FILE_NOT_FOUND or LLMBED_ERR_BAD_JSON. */
llmbed_status llmbed_json_parse_file(const char *path, cJSON **out, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
