#include "common/json_file.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/mmap_file.h"

static void position(const char *text, size_t offset, int *line, int *column) {
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

llmbed_status llmbed_json_parse(const char *text, size_t length, const char *name, cJSON **out,
                                llmbed_error *error) {
    *out = NULL;
    /* A UTF-8 byte order mark is not JSON (RFC 8259 §8.1 lets parsers ignore it;
     * editors on Windows write one): skip it. */
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        length -= 3;
    }
    /* A NUL-terminated copy: cJSON then never reads past our bytes, and an
     * embedded NUL shows up as unparsed trailing input below. */
    char *copy = malloc(length + 1);
    if (copy == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    if (length > 0) memcpy(copy, text, length);
    copy[length] = '\0';
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithOpts(copy, &end, 0);
    size_t stop = end != NULL && end >= copy ? (size_t)(end - copy) : 0;
    if (json != NULL) {
        while (stop < length && is_space(copy[stop])) stop++;
        if (stop < length) {
            cJSON_Delete(json);
            json = NULL;
        }
    }
    if (json == NULL) {
        int line, column;
        position(copy, stop < length ? stop : length, &line, &column);
        free(copy);
        return llmbed_fail(error, LLMBED_ERR_BAD_JSON, "%s: malformed JSON at line %d, column %d", name, line,
                           column);
    }
    free(copy);
    *out = json;
    return LLMBED_OK;
}

llmbed_status llmbed_json_parse_file(const char *path, cJSON **out, llmbed_error *error) {
    *out = NULL;
    llmbed_mapped_file file;
    llmbed_status st = llmbed_map_file(path, &file, error);
    if (st != LLMBED_OK) return st;
    st = llmbed_json_parse((const char *)file.data, file.size, path, out, error);
    llmbed_unmap_file(&file);
    return st;
}
