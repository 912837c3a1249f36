/* Public tokenizer entry points (include/llmbed.h): argument checks around
 * host/pipeline/encode.h (the tokenizer plus the family's EOS rule). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "pipeline/encode.h"
#include "tokenizer/tokenizer.h"

void llmbed_tokenize_params_default(llmbed_tokenize_params *params) {
    params->struct_size = sizeof *params;
    params->add_special = 1;
    params->parse_special = 1;
}

/* params NULL = defaults; an older, smaller struct is refused. */
static llmbed_status read_params(const llmbed_tokenize_params *params, int *add_special, int *parse_special,
                                 llmbed_error *error) {
    *add_special = *parse_special = 1;
    if (params == NULL) return LLMBED_OK;
    if (params->struct_size < sizeof *params)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize: params.struct_size %zu < %zu",
                           params->struct_size, sizeof *params);
    *add_special = params->add_special;
    *parse_special = params->parse_special;
    return LLMBED_OK;
}

llmbed_status llmbed_tokenize(const llmbed_model *model, const char *text, size_t text_len,
                              const llmbed_tokenize_params *params, int32_t *out_ids, size_t capacity,
                              size_t *n_ids, size_t *n_invalid, llmbed_error *error) {
    int add_special, parse_special;
    *n_ids = 0;
    LLMBED_TRY(read_params(params, &add_special, &parse_special, error));
    return llmbed_encode_text(model, text, text_len, add_special, parse_special, out_ids, NULL, capacity, n_ids,
                              n_invalid, error);
}

llmbed_status llmbed_tokenize_offsets(const llmbed_model *model, const char *text, size_t text_len,
                                      const llmbed_tokenize_params *params, int32_t *out_ids,
                                      int64_t *out_offsets, size_t capacity, size_t *n_ids,
                                      size_t *n_invalid, llmbed_error *error) {
    if (n_ids == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_offsets: n_ids is NULL");
    if (out_offsets == NULL && capacity > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "tokenize_offsets: out_offsets is NULL");
    int add_special, parse_special;
    *n_ids = 0;
    LLMBED_TRY(read_params(params, &add_special, &parse_special, error));
    int64_t unused = 0; /* capacity 0: offsets are not written, but ask for them */
    return llmbed_encode_text(model, text, text_len, add_special, parse_special, out_ids,
                              out_offsets != NULL ? out_offsets : &unused, capacity, n_ids, n_invalid, error);
}

llmbed_status llmbed_detokenize(const llmbed_model *model, const int32_t *ids, size_t n_ids, char *out,
                                size_t capacity, size_t *n_bytes, llmbed_error *error) {
    *n_bytes = 0;
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "detokenize: model is NULL");
    if (model->tokenizer == NULL)
        return llmbed_fail(error, LLMBED_ERR_TOKENIZER_MISSING, "%s: the model has no tokenizer",
                           model->path ? model->path : "model");
    char *text;
    size_t len;
    llmbed_status st = llmbed_tokenizer_decode(model->tokenizer, ids, n_ids, &text, &len, error);
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
