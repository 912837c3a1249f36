#include "io/input_record.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

void llmbed_input_record_clear(llmbed_input_record *record) {
    free(record->text);
    free(record->ids);
    free(record->id_json);
    memset(record, 0, sizeof *record);
}

static char *copy_bytes(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static llmbed_status parse_ids(const cJSON *array, const char *source, int64_t line_no,
                               llmbed_input_record *record, llmbed_error *error) {
    if (!cJSON_IsArray(array)) {
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": field \"input_ids\" is not an array",
                           source, line_no);
    }
    int n = cJSON_GetArraySize(array);
    record->ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (record->ids == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
    int i = 0;
    for (const cJSON *item = array->child; item != NULL; item = item->next, i++) {
        double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
        if (!(v == floor(v) && v >= (double)INT32_MIN && v <= (double)INT32_MAX)) {
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                               "%s:%" PRId64 ": field \"input_ids\"[%d] is not an integer token id", source, line_no, i);
        }
        record->ids[i] = (int32_t)v;
    }
    record->n_ids = (size_t)i;
    record->kind = LLMBED_RECORD_IDS;
    return LLMBED_OK;
}

static llmbed_status parse_object(const cJSON *root, const char *source, int64_t line_no,
                                  const llmbed_input_parse_options *options, llmbed_input_record *record,
                                  llmbed_error *error) {
    if (!cJSON_IsObject(root)) {
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": line starts with '{' but is not a JSON object",
                           source, line_no);
    }
    const char *text_field = options->text_field != NULL ? options->text_field : "text";
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "input_ids");
    if (ids != NULL) {
        llmbed_status st = parse_ids(ids, source, line_no, record, error);
        if (st != LLMBED_OK) return st;
    } else {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, text_field);
        if (text == NULL) {
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT,
                               "%s:%" PRId64 ": JSON object has neither \"input_ids\" nor the text field \"%s\"", source,
                               line_no, text_field);
        }
        if (!cJSON_IsString(text)) {
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": field \"%s\" is not a string", source,
                               line_no, text_field);
        }
        record->text_len = strlen(text->valuestring);
        record->text = copy_bytes(text->valuestring, record->text_len);
        if (record->text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
        record->kind = LLMBED_RECORD_TEXT;
    }
    if (options->id_field != NULL) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, options->id_field);
        if (id != NULL) {
            if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
                return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": id field \"%s\" is not a string or number",
                                   source, line_no, options->id_field);
            }
            record->id_json = cJSON_PrintUnformatted(id);
            if (record->id_json == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
        }
    }
    return LLMBED_OK;
}

llmbed_status llmbed_input_parse_line(const char *line, size_t len, int64_t line_no,
                                      const llmbed_input_parse_options *options,
                                      llmbed_input_record *record, llmbed_error *error) {
    memset(record, 0, sizeof *record);
    const char *source = options->source != NULL ? options->source : "<input>";
    if (len > 0 && line[len - 1] == '\r') len--;
    if (len == 0 || line[0] != '{') {
        record->kind = LLMBED_RECORD_TEXT;
        record->text_len = len;
        record->text = copy_bytes(line, len);
        if (record->text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s:%" PRId64 ": out of memory", source, line_no);
        return LLMBED_OK;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (root == NULL) {
        /* return_parse_end points at the error (cJSON_GetErrorPtr is global state). */
        size_t column = end != NULL && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
        return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": malformed JSON near column %zu", source,
                           line_no, column);
    }
    /* Only whitespace may follow the object. */
    for (const char *p = end; p != NULL && p < line + len; p++) {
        if (*p != ' ' && *p != '\t') {
            cJSON_Delete(root);
            return llmbed_fail(error, LLMBED_ERR_INPUT_FORMAT, "%s:%" PRId64 ": text after the JSON object at column %zu",
                               source, line_no, (size_t)(p - line) + 1);
        }
    }
    llmbed_status st = parse_object(root, source, line_no, options, record, error);
    cJSON_Delete(root);
    if (st != LLMBED_OK) llmbed_input_record_clear(record);
    return st;
}
