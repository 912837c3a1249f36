/* Prompts of a sentence-transformers folder (config_sentence_transformers.json
 * "prompts"), the length a prompt adds to the front of a sequence, and the
 * text params' defaults (include/llmbed.h). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "model/model.h"
#include "pipeline/encode.h"
#include "pipeline/spec.h"

/* The model folder's JSON file `name`, or *out = NULL when the model is a
 * single file or the folder has no such file. */
static llmbed_status folder_json(const llmbed_model *model, const char *name, cJSON **out, llmbed_error *error) {
    *out = NULL;
    if (model->path == NULL || !llmbed_path_is_dir(model->path)) return LLMBED_OK;
    char *path = llmbed_path_join(model->path, name);
    if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", model->path);
    llmbed_status st = llmbed_path_is_file(path) ? llmbed_json_parse_file(path, out, error) : LLMBED_OK;
    free(path);
    return st;
}

static llmbed_status copy_out(const char *text, size_t len, char *out, size_t capacity, size_t *n_bytes,
                              llmbed_error *error) {
    *n_bytes = len;
    if (out == NULL || len + 1 > capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "prompt: %zu bytes + NUL, buffer holds %zu", len,
                           capacity);
    memcpy(out, text, len);
    out[len] = '\0';
    return LLMBED_OK;
}

/* "a, b, c" of the prompt names (for messages), into buf[capacity]. */
static void list_names(const cJSON *prompts, char *buf, size_t capacity) {
    size_t used = 0;
    buf[0] = '\0';
    const cJSON *item;
    cJSON_ArrayForEach(item, prompts) {
        if (!cJSON_IsString(item) || item->string == NULL) continue;
        size_t n = strlen(item->string);
        if (used + n + 3 >= capacity) break;
        if (used > 0) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, item->string, n);
        used += n;
        buf[used] = '\0';
    }
}

llmbed_status llmbed_model_prompt(const llmbed_model *model, const char *name, char *out, size_t capacity,
                                  size_t *n_bytes, llmbed_error *error) {
    llmbed_error_clear(error);
    if (n_bytes == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_prompt: n_bytes is NULL");
    *n_bytes = 0;
    if (model == NULL || name == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_prompt: model and name are required");
    cJSON *root;
    LLMBED_TRY(folder_json(model, "config_sentence_transformers.json", &root, error));
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(root, "prompts");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(prompts, name);
    llmbed_status st;
    if (cJSON_IsString(value)) {
        st = copy_out(value->valuestring, strlen(value->valuestring), out, capacity, n_bytes, error);
    } else if (root == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                         "prompt name '%s': %s has no config_sentence_transformers.json, so no named prompts", name,
                         model->path != NULL ? model->path : "the model");
    } else {
        char names[256];
        list_names(prompts, names, sizeof names);
        st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                         "prompt name '%s': %s/config_sentence_transformers.json \"prompts\" has no such string "
                         "(it has: %s)",
                         name, model->path, names[0] ? names : "none");
    }
    cJSON_Delete(root);
    return st;
}

llmbed_status llmbed_model_prompt_names(const llmbed_model *model, char *out, size_t capacity, size_t *n_bytes,
                                        llmbed_error *error) {
    llmbed_error_clear(error);
    if (n_bytes == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_prompt_names: n_bytes is NULL");
    *n_bytes = 0;
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_prompt_names: model is NULL");
    cJSON *root;
    LLMBED_TRY(folder_json(model, "config_sentence_transformers.json", &root, error));
    size_t len = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "prompts")) {
        if (cJSON_IsString(item) && item->string != NULL) len += strlen(item->string) + 1;
    }
    char *joined = malloc(len + 1);
    if (joined == NULL) {
        cJSON_Delete(root);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "model_prompt_names: out of memory");
    }
    size_t at = 0;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "prompts")) {
        if (!cJSON_IsString(item) || item->string == NULL) continue;
        size_t n = strlen(item->string);
        memcpy(joined + at, item->string, n);
        joined[at + n] = '\n';
        at += n + 1;
    }
    llmbed_status st = copy_out(joined, len, out, capacity, n_bytes, error);
    free(joined);
    cJSON_Delete(root);
    return st;
}

void llmbed_text_params_default(llmbed_text_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->prompt = NULL;
    params->exclude_prompt = -1;
    params->max_tokens = 0;
    params->truncate = 1;
    params->precision = LLMBED_PRECISION_FLOAT32;
    params->template_text = NULL;
    params->pool_span = LLMBED_POOL_SPAN_DEFAULT;
    params->method = NULL;
    params->document = NULL;
    params->late_chunking = 0;
    params->on_rows = NULL;
    params->on_progress = NULL;
}

llmbed_status llmbed_prompt_length(const llmbed_model *model, const char *prompt, int32_t *length,
                                   llmbed_error *error) {
    llmbed_error_clear(error);
    if (model == NULL || prompt == NULL || length == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "prompt_length: model, prompt and length are required");
    return llmbed_encode_prompt_length(model, prompt, 0, length, error);
}

llmbed_status llmbed_prompt_pool_length(const llmbed_model *model, const char *prompt, int exclude_prompt,
                                        int32_t *length, llmbed_error *error) {
    llmbed_error_clear(error);
    if (model == NULL || prompt == NULL || length == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "prompt_pool_length: model, prompt and length are required");
    *length = 0;
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    text.prompt = prompt;
    text.exclude_prompt = exclude_prompt;
    llmbed_job_spec spec;
    LLMBED_TRY(llmbed_spec_resolve(model, NULL, &text, 1, &spec, error));
    *length = spec.instruction_len;
    llmbed_spec_free(&spec);
    return LLMBED_OK;
}
