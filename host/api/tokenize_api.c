/* Public tokenizer entry points (include/llmbed.h) over the model's tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

void llmbed_tokenize_params_default(llmbed_tokenize_params *params) {
    params->struct_size = sizeof *params;
    params->add_special = 1;
    params->parse_special = 1;
}

static llmbed_status need_tokenizer(const llmbed_model *model, llmbed_error *error) {
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: model is NULL");
    if (model->tokenizer == NULL)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: the model has no tokenizer",
                           model->path ? model->path : "model");
    return LLMBED_OK;
}

/* llmbed_tokenize and llmbed_tokenize_offsets; spans NULL = no offsets. */
static llmbed_status tokenize(const llmbed_model *model, const char *text, size_t text_len,
                              const llmbed_tokenize_params *params, int32_t *out_ids, int64_t *out_offsets,
                              size_t capacity, size_t *n_ids, size_t *n_invalid, tok_spans *spans,
                              llmbed_error *error) {
    *n_ids = 0;
    if (n_invalid) *n_invalid = 0;
    llmbed_status st = need_tokenizer(model, error);
    if (st != LLMBED_OK) return st;
    llmbed_encode_options options;
    llmbed_encode_options_default(&options);
    if (params != NULL) {
        if (params->struct_size < sizeof *params)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: params.struct_size %zu < %zu",
                               params->struct_size, sizeof *params);
        options.add_special = params->add_special;
        options.parse_special = params->parse_special;
    }
    llmbed_encode_result result = {0};
    st = spans != NULL ? llmbed_tokenizer_encode_spans(model->tokenizer, text, text_len, &options, &result, spans, error)
                       : llmbed_tokenizer_encode(model->tokenizer, text, text_len, &options, &result, error);
    if (st == LLMBED_OK) {
        /* The family rule (model/family.c): embedders trained with a final
         * EOS (NV-Embed, gte-Qwen2, Qwen3-Embedding, e5-mistral) get it
         * appended here when the tokenizer's post-processor did not add it. */
        const int32_t eos = model->config.eos_token_id >= 0 ? model->config.eos_token_id
                                                            : llmbed_tokenizer_eos_id(model->tokenizer);
        const int append = options.add_special && model->family.append_eos && eos >= 0 &&
                           (result.n_ids == 0 || result.ids[result.n_ids - 1] != eos);
        *n_ids = result.n_ids + (append ? 1 : 0);
        if (n_invalid) *n_invalid = result.n_invalid;
        if (*n_ids > capacity) {
            st = llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "tokenize: %zu ids, buffer holds %zu", *n_ids,
                             capacity);
        } else {
            if (result.n_ids) memcpy(out_ids, result.ids, result.n_ids * sizeof *out_ids);
            for (size_t i = 0; spans != NULL && i < result.n_ids; i++) {
                out_offsets[2 * i] = (int64_t)spans->data[i].start;
                out_offsets[2 * i + 1] = (int64_t)spans->data[i].end;
            }
            if (append) {
                out_ids[result.n_ids] = eos;
                /* the appended EOS covers no text: an empty span at the end */
                if (spans != NULL) out_offsets[2 * result.n_ids] = out_offsets[2 * result.n_ids + 1] = (int64_t)text_len;
            }
        }
    }
    llmbed_encode_result_free(&result);
    return st;
}

llmbed_status llmbed_tokenize(const llmbed_model *model, const char *text, size_t text_len,
                              const llmbed_tokenize_params *params, int32_t *out_ids, size_t capacity,
                              size_t *n_ids, size_t *n_invalid, llmbed_error *error) {
    return tokenize(model, text, text_len, params, out_ids, NULL, capacity, n_ids, n_invalid, NULL, error);
}

llmbed_status llmbed_tokenize_offsets(const llmbed_model *model, const char *text, size_t text_len,
                                      const llmbed_tokenize_params *params, int32_t *out_ids,
                                      int64_t *out_offsets, size_t capacity, size_t *n_ids,
                                      size_t *n_invalid, llmbed_error *error) {
    if (n_ids == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_offsets: n_ids is NULL");
    if (out_offsets == NULL && capacity > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_offsets: out_offsets is NULL");
    tok_spans spans = {0};
    llmbed_status st =
        tokenize(model, text, text_len, params, out_ids, out_offsets, capacity, n_ids, n_invalid, &spans, error);
    tok_spans_free(&spans);
    return st;
}

llmbed_status llmbed_detokenize(const llmbed_model *model, const int32_t *ids, size_t n_ids, char *out,
                                size_t capacity, size_t *n_bytes, llmbed_error *error) {
    *n_bytes = 0;
    llmbed_status st = need_tokenizer(model, error);
    if (st != LLMBED_OK) return st;
    char *text;
    size_t len;
    st = llmbed_tokenizer_decode(model->tokenizer, ids, n_ids, &text, &len, error);
    if (st != LLMBED_OK) return st;
    *n_bytes = len;
    if (len + 1 > capacity) {
        st = llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "detokenize: %zu bytes + NUL, buffer holds %zu", len,
                         capacity);
    } else {
        memcpy(out, text, len + 1);
    }
    free(text);
    return st;
}
