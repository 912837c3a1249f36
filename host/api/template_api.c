/* Public template entry points (include/llmbed.h): render, tokenise with
 * offsets, find the pooled token span (host/template/template.h). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

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

static const char *span_name(llmbed_pool_span span) {
    return span == LLMBED_POOL_SPAN_TEXT ? "text" : "last copy of the text";
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
    llmbed_template t;
    llmbed_status st = llmbed_template_parse(params->template_text ? params->template_text : "{text}", "template",
                                             &t, error);
    if (st != LLMBED_OK) return st;
    size_t *copies = malloc((size_t)t.n_copies * sizeof *copies);
    char *rendered = NULL;
    size_t rendered_len = 0;
    llmbed_encode_result result = {0};
    tok_spans spans = {0};
    if (copies == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize_template: out of memory");
        goto done;
    }
    st = llmbed_template_render(&t, text, text_len, &rendered, &rendered_len, copies, error);
    if (st != LLMBED_OK) goto done;
    llmbed_encode_options options;
    llmbed_encode_options_default(&options);
    options.add_special = params->add_special;
    options.parse_special = params->parse_special;
    options.max_tokens = params->max_tokens;
    st = llmbed_tokenizer_encode_spans(model->tokenizer, rendered, rendered_len, &options, &result, &spans, error);
    if (st != LLMBED_OK) goto done;
    const size_t n = result.n_ids;
    *n_ids = n;
    if (truncated) *truncated = result.truncated;
    if (n > (size_t)INT32_MAX) {
        st = llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "tokenize_template: %zu tokens", n);
        goto done;
    }
    if (params->pool_span == LLMBED_POOL_SPAN_ALL) {
        *pool_begin = 0;
        *pool_end = (int32_t)n;
    } else {
        const size_t a = copies[params->pool_span == LLMBED_POOL_SPAN_TEXT ? 0 : t.n_copies - 1];
        int64_t *offsets = malloc((2 * n + 1) * sizeof *offsets);
        if (offsets == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize_template: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            offsets[2 * i] = (int64_t)spans.data[i].start;
            offsets[2 * i + 1] = (int64_t)spans.data[i].end;
        }
        const int found = llmbed_span_tokens(offsets, n, a, a + text_len, pool_begin, pool_end);
        free(offsets);
        if (!found && text_len == 0) {
            st = llmbed_fail(error, LLMBED_ERR_EMPTY_SEQUENCE, "the text is empty: the %s span has no token to pool",
                             span_name(params->pool_span));
            goto done;
        }
        if (!found) {
            st = llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG,
                             "the %s lies beyond the %zu-token limit after templating (%zu tokens untruncated)",
                             span_name(params->pool_span), params->max_tokens, result.n_untruncated);
            goto done;
        }
    }
    if (n > capacity) {
        st = llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "tokenize_template: %zu ids, buffer holds %zu", n, capacity);
        goto done;
    }
    if (n) memcpy(out_ids, result.ids, n * sizeof *out_ids);
done:
    llmbed_encode_result_free(&result);
    tok_spans_free(&spans);
    free(rendered);
    free(copies);
    llmbed_template_free(&t);
    return st;
}
