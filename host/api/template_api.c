/* Public template entry points (include/llmbed.h): argument checks around
 * host/pipeline/encode.h (render, tokenise with offsets, find the pooled
 * token span, the family's EOS). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "template/template.h"
#include "pipeline/encode.h"

void llmbed_template_params_default(llmbed_template_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->template_text = NULL;
    params->pool_span = LLMBED_POOL_SPAN_ALL;
    params->add_special = 1;
    params->parse_special = 1;
    params->max_tokens = 0;
}

llmbed_status llmbed_template_check(const char *template_text, llmbed_error *error) {
    llmbed_template t;
    llmbed_status st = llmbed_template_parse(template_text, "template", &t, error);
    llmbed_template_free(&t);
    return st;
}

llmbed_status llmbed_tokenize_template(const llmbed_model *model, const char *text, size_t text_len,
                                       const llmbed_template_params *params, int32_t *out_ids,
                                       size_t capacity, size_t *n_ids, int32_t *pool_begin,
                                       int32_t *pool_end, int *truncated, llmbed_error *error) {
    if (n_ids == NULL || pool_begin == NULL || pool_end == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_template: n_ids, pool_begin and pool_end are required");
    *n_ids = 0;
    *pool_begin = *pool_end = 0;
    if (truncated) *truncated = 0;
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_template: model is NULL");
    if (model->tokenizer == NULL)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: the model has no tokenizer",
                           model->path ? model->path : "model");
    if (text == NULL && text_len > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_template: text is NULL");
    llmbed_template_params defaults;
    if (params == NULL) {
        llmbed_template_params_default(&defaults);
        params = &defaults;
    }
    if (params->struct_size != sizeof *params)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "template params: struct_size %zu, expected %zu (call llmbed_template_params_default)",
                           params->struct_size, sizeof *params);
    if ((int)params->pool_span < LLMBED_POOL_SPAN_ALL || params->pool_span > LLMBED_POOL_SPAN_LAST_TEXT)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "template params: pool_span %d is not an llmbed_pool_span",
                           (int)params->pool_span);
    return llmbed_encode_template(model, text, text_len, params, out_ids, capacity, n_ids, pool_begin, pool_end,
                                  truncated, error);
}
