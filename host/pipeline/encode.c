#include "pipeline/encode.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

static llmbed_status need_tokenizer(const llmbed_model *model, llmbed_error *error) {
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: model is NULL");
    if (model->tokenizer == NULL)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: the model has no tokenizer",
                           model->path ? model->path : "model");
    return LLMBED_OK;
}

int32_t llmbed_encode_family_eos(const llmbed_model *model) {
    /* The family rule (model/family.c): embedders trained with a final EOS
     * (NV-Embed, gte-Qwen2, Qwen3-Embedding, e5-mistral). */
    if (!model->family.append_eos || model->tokenizer == NULL) return -1;
    return model->config.eos_token_id >= 0 ? model->config.eos_token_id : llmbed_tokenizer_eos_id(model->tokenizer);
}

/* The family's EOS to append after `ids`, or -1 when none is due. */
static int32_t eos_to_append(const llmbed_model *model, int add_special, const int32_t *ids, size_t n) {
    const int32_t eos = add_special ? llmbed_encode_family_eos(model) : -1;
    return eos >= 0 && (n == 0 || ids[n - 1] != eos) ? eos : -1;
}

llmbed_status llmbed_encode_text(const llmbed_model *model, const char *text, size_t text_len, int add_special,
                                 int parse_special, int32_t *out_ids, int64_t *out_offsets, size_t capacity,
                                 size_t *n_ids, size_t *n_invalid, llmbed_error *error) {
    *n_ids = 0;
    if (n_invalid) *n_invalid = 0;
    LLMBED_TRY(need_tokenizer(model, error));
    llmbed_encode_options options;
    llmbed_encode_options_default(&options);
    options.add_special = add_special;
    options.parse_special = parse_special;
    llmbed_encode_result result = {0};
    tok_spans spans = {0};
    llmbed_status st =
        out_offsets != NULL
            ? llmbed_tokenizer_encode_spans(model->tokenizer, text, text_len, &options, &result, &spans, error)
            : llmbed_tokenizer_encode(model->tokenizer, text, text_len, &options, &result, error);
    if (st == LLMBED_OK) {
        const int32_t eos = eos_to_append(model, options.add_special, result.ids, result.n_ids);
        *n_ids = result.n_ids + (eos >= 0 ? 1 : 0);
        if (n_invalid) *n_invalid = result.n_invalid;
        if (*n_ids > capacity) {
            st = llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "tokenize: %zu ids, buffer holds %zu", *n_ids,
                             capacity);
        } else {
            if (result.n_ids) memcpy(out_ids, result.ids, result.n_ids * sizeof *out_ids);
            for (size_t i = 0; out_offsets != NULL && i < result.n_ids; i++) {
                out_offsets[2 * i] = (int64_t)spans.data[i].start;
                out_offsets[2 * i + 1] = (int64_t)spans.data[i].end;
            }
            if (eos >= 0) {
                out_ids[result.n_ids] = eos;
                /* the appended EOS covers no text: an empty span at the end */
                if (out_offsets != NULL)
                    out_offsets[2 * result.n_ids] = out_offsets[2 * result.n_ids + 1] = (int64_t)text_len;
            }
        }
    }
    llmbed_encode_result_free(&result);
    tok_spans_free(&spans);
    return st;
}

llmbed_status llmbed_encode_alloc(const llmbed_model *model, const char *text, size_t len, int add_special,
                                  int32_t **ids, size_t *n_ids, llmbed_error *error) {
    /* Tokens rarely outnumber bytes: len + 16 first, then the reported count. */
    size_t capacity = len + 16;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buffer = malloc(capacity * sizeof *buffer);
        if (buffer == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory tokenising");
        llmbed_status st = llmbed_encode_text(model, text, len, add_special, 1, buffer, NULL, capacity, n_ids, NULL,
                                              error);
        if (st == LLMBED_OK) {
            *ids = buffer;
            return LLMBED_OK;
        }
        free(buffer);
        if (st != LLMBED_ERR_BUFFER_TOO_SMALL) return st;
        capacity = *n_ids;
    }
    return llmbed_fail(error, LLMBED_ERR_INTERNAL, "tokenizer reported inconsistent sizes");
}

static const char *span_name(llmbed_pool_span span) {
    return span == LLMBED_POOL_SPAN_TEXT ? "text" : "last copy of the text";
}

/* The rendered template through the tokenizer with offsets; the family's
 * EOS (when due) appended and counted in max_tokens. */
static llmbed_status encode_rendered(const llmbed_model *model, const char *rendered, size_t rendered_len,
                                     const llmbed_template_params *params, llmbed_encode_result *result,
                                     tok_spans *spans, int32_t *eos, llmbed_error *error) {
    llmbed_encode_options options;
    llmbed_encode_options_default(&options);
    options.add_special = params->add_special;
    options.parse_special = params->parse_special;
    options.max_tokens = params->max_tokens;
    LLMBED_TRY(llmbed_tokenizer_encode_spans(model->tokenizer, rendered, rendered_len, &options, result, spans, error));
    *eos = eos_to_append(model, params->add_special, result->ids, result->n_ids);
    if (*eos < 0 || params->max_tokens == 0 || result->n_ids < params->max_tokens) return LLMBED_OK;
    /* room for the EOS: one token less of text */
    if (params->max_tokens == 1) {
        result->n_ids = 0;
        result->truncated = 1;
        return LLMBED_OK;
    }
    options.max_tokens = params->max_tokens - 1;
    tok_spans_free(spans);
    memset(spans, 0, sizeof *spans);
    return llmbed_tokenizer_encode_spans(model->tokenizer, rendered, rendered_len, &options, result, spans, error);
}

llmbed_status llmbed_encode_template(const llmbed_model *model, const char *text, size_t text_len,
                                     const llmbed_template_params *params, int32_t *out_ids, size_t capacity,
                                     size_t *n_ids, int32_t *pool_begin, int32_t *pool_end, int *truncated,
                                     llmbed_error *error) {
    *n_ids = 0;
    *pool_begin = *pool_end = 0;
    if (truncated) *truncated = 0;
    LLMBED_TRY(need_tokenizer(model, error));
    llmbed_template t;
    llmbed_status st = llmbed_template_parse(params->template_text ? params->template_text : "{text}", "template",
                                             &t, error);
    if (st != LLMBED_OK) return st;
    size_t *copies = malloc((size_t)t.n_copies * sizeof *copies);
    char *rendered = NULL;
    size_t rendered_len = 0;
    llmbed_encode_result result = {0};
    tok_spans spans = {0};
    int32_t eos = -1;
    if (copies == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize_template: out of memory");
        goto done;
    }
    st = llmbed_template_render(&t, text, text_len, &rendered, &rendered_len, copies, error);
    if (st == LLMBED_OK) st = encode_rendered(model, rendered, rendered_len, params, &result, &spans, &eos, error);
    if (st != LLMBED_OK) goto done;
    const size_t n_text = result.n_ids, n = n_text + (eos >= 0 ? 1 : 0);
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
        int64_t *offsets = malloc((2 * n_text + 1) * sizeof *offsets);
        if (offsets == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "tokenize_template: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_text; i++) {
            offsets[2 * i] = (int64_t)spans.data[i].start;
            offsets[2 * i + 1] = (int64_t)spans.data[i].end;
        }
        const int found = llmbed_span_tokens(offsets, n_text, a, a + text_len, pool_begin, pool_end);
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
    if (n_text) memcpy(out_ids, result.ids, n_text * sizeof *out_ids);
    if (eos >= 0) out_ids[n_text] = eos;
done:
    llmbed_encode_result_free(&result);
    tok_spans_free(&spans);
    free(rendered);
    free(copies);
    llmbed_template_free(&t);
    return st;
}

llmbed_status llmbed_encode_prompt_length(const llmbed_model *model, const char *prompt, int bare, int32_t *length,
                                          llmbed_error *error) {
    *length = 0;
    int32_t *full = NULL, *content = NULL;
    size_t n_full = 0, n_content = 0;
    llmbed_status st = llmbed_encode_alloc(model, prompt, strlen(prompt), 0, &content, &n_content, error);
    if (st == LLMBED_OK && bare) *length = (int32_t)n_content;
    if (st == LLMBED_OK && !bare) st = llmbed_encode_alloc(model, prompt, strlen(prompt), 1, &full, &n_full, error);
    if (st == LLMBED_OK && !bare) {
        /* Specials before the text: where the bare prompt starts inside the full encoding. */
        size_t before = 0;
        for (size_t b = 0; n_content <= n_full && b <= n_full - n_content; b++) {
            if (memcmp(full + b, content, n_content * sizeof *content) == 0) {
                before = b;
                break;
            }
        }
        *length = (int32_t)(before + n_content);
    }
    free(full);
    free(content);
    return st;
}
