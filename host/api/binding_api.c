/* Small public helpers for bindings (include/llmbed.h, "bindings and
 * high-level calls"): status names, the OpenBLAS kernel hint, output
 * precision conversion and resolved embedding params. Each forwards to the
 * one implementation the CLI uses too. */
#include <string.h>

#include "api/ctx.h"
#include "common/error.h"
#include "cpu/blas_core.h"
#include "pipeline/spec.h"
#include "io/row_encode.h"

const char *llmbed_status_name(llmbed_status status) {
    switch (status) {
#define LLMBED_STATUS_NAME_CASE(name, value, text) \
    case name:                                     \
        return #name;
        LLMBED_STATUS_LIST(LLMBED_STATUS_NAME_CASE)
#undef LLMBED_STATUS_NAME_CASE
    }
    return NULL;
}

const char *llmbed_blas_coretype_hint(void) { return llmbed_blas_core_fix(); }

/* The public precision and the writer's dtype are the same list in the same order. */
_Static_assert((int)LLMBED_PRECISION_FLOAT32 == (int)LLMBED_DTYPE_FLOAT32 &&
                   (int)LLMBED_PRECISION_FLOAT16 == (int)LLMBED_DTYPE_FLOAT16 &&
                   (int)LLMBED_PRECISION_INT8 == (int)LLMBED_DTYPE_INT8 &&
                   (int)LLMBED_PRECISION_UBINARY == (int)LLMBED_DTYPE_UBINARY,
               "llmbed_precision must mirror llmbed_output_dtype");

static int precision_known(llmbed_precision precision) {
    return (int)precision >= (int)LLMBED_PRECISION_FLOAT32 && (int)precision <= (int)LLMBED_PRECISION_UBINARY;
}

size_t llmbed_precision_row_bytes(llmbed_precision precision, int dims) {
    if (!precision_known(precision) || dims <= 0) return 0;
    const llmbed_output_dtype dtype = (llmbed_output_dtype)precision;
    return llmbed_row_width(dtype, dims) * llmbed_dtype_size(dtype);
}

llmbed_status llmbed_quantize_rows(llmbed_precision precision, const float *rows, size_t n_rows, int dims,
                                   void *out, size_t out_bytes, float *scales, llmbed_error *error) {
    llmbed_error_clear(error);
    if (!precision_known(precision))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize_rows: precision %d is not an llmbed_precision",
                           (int)precision);
    if (dims <= 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize_rows: dims %d must be positive", dims);
    if (n_rows > 0 && (rows == NULL || out == NULL))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize_rows: rows and out are required");
    if (precision == LLMBED_PRECISION_INT8 && n_rows > 0 && scales == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "quantize_rows: int8 needs scales[n_rows]");
    const size_t row_bytes = llmbed_precision_row_bytes(precision, dims);
    if (n_rows > out_bytes / row_bytes)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "quantize_rows: %zu rows x %zu bytes, buffer holds %zu",
                           n_rows, row_bytes, out_bytes);
    unsigned char *bytes = out;
    for (size_t r = 0; r < n_rows; r++) {
        float scale;
        llmbed_row_encode((llmbed_output_dtype)precision, rows + r * (size_t)dims, dims, bytes + r * row_bytes, &scale);
        if (scales != NULL) scales[r] = scale;
    }
    return LLMBED_OK;
}

llmbed_status llmbed_embed_params_resolve(const llmbed_model *model, const llmbed_embed_params *params,
                                          llmbed_embed_params *resolved, int *dims, llmbed_error *error) {
    llmbed_error_clear(error);
    if (model == NULL || resolved == NULL || dims == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_params_resolve: model, resolved and dims are required");
    llmbed_embed_params defaults;
    params = llmbed_embed_params_or_default(params, &defaults);
    llmbed_embed_options options;
    LLMBED_TRY(llmbed_embed_options_resolve(model, params, &options, error));
    *resolved = *params;
    resolved->pooling = options.pooling;
    resolved->attention = options.causal ? LLMBED_ATTENTION_CAUSAL : LLMBED_ATTENTION_BIDIRECTIONAL;
    resolved->normalize = options.normalize;
    *dims = options.out_dims;
    return LLMBED_OK;
}
