#include "pipeline/bind.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "pipeline/encode.h"

/* Text -> ids by the spec: suffix-mode inputs continue the document, so
 * they get no BOS and the family's EOS (when it appends one) at the end. */
static llmbed_status bound_tokenize(void *user, const char *text, size_t len, int add_special, int32_t *ids,
                                    size_t capacity, size_t *n_ids, llmbed_error *error) {
    const llmbed_job_binding *b = user;
    const llmbed_job_spec *spec = b->spec;
    LLMBED_TRY(llmbed_encode_text(spec->model, text, len, add_special && spec->add_special, 1, ids, NULL, capacity,
                                  n_ids, NULL, error));
    if (!add_special || spec->continuation_eos < 0) return LLMBED_OK;
    if (*n_ids + 1 > capacity) {
        *n_ids += 1;
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "%zu ids do not fit in %zu", *n_ids, capacity);
    }
    ids[(*n_ids)++] = spec->continuation_eos;
    return LLMBED_OK;
}

static llmbed_status bound_tokenize_template(void *user, const char *text, size_t len, size_t max_tokens,
                                             int32_t *ids, size_t capacity, size_t *n_ids, int32_t *pool_begin,
                                             int32_t *pool_end, int *truncated, llmbed_error *error) {
    const llmbed_job_binding *b = user;
    llmbed_template_params params = b->template_params;
    params.max_tokens = max_tokens;
    return llmbed_encode_template(b->spec->model, text, len, &params, ids, capacity, n_ids, pool_begin, pool_end,
                                  truncated, error);
}

static llmbed_status bound_embed(void *user, int worker, const llmbed_batch *batch, float *out, llmbed_error *error) {
    const llmbed_job_binding *b = user;
    return llmbed_engine_run(b->engines[worker], batch, &b->spec->engine, out, error);
}

static llmbed_status bound_embed_spans(void *user, int worker, const int32_t *ids, size_t n_ids, const int32_t *spans,
                                       int n_spans, float *out, llmbed_error *error) {
    const llmbed_job_binding *b = user;
    return llmbed_engine_embed_spans(b->engines[worker], ids, n_ids, spans, n_spans, &b->spec->engine, out, error);
}

void llmbed_job_bind(llmbed_job_binding *binding, const llmbed_job_spec *spec, llmbed_engine *const *engines,
                     int n_engines, llmbed_job_engine *engine, llmbed_job_options *options) {
    binding->spec = spec;
    binding->engines = engines;
    binding->n_engines = n_engines;
    llmbed_template_params_default(&binding->template_params);
    binding->template_params.template_text = spec->template_text;
    binding->template_params.pool_span = spec->pool_span;
    binding->template_params.add_special = spec->add_special;
    *engine = (llmbed_job_engine){
        .user = binding,
        .dims = spec->dims,
        .vocab_size = spec->model->config.vocab_size,
        .n_workers = n_engines,
        .alone_above = llmbed_engine_alone_above(engines[0], &spec->engine),
        .tokenize = bound_tokenize,
        .embed = bound_embed,
        .tokenize_template = spec->templated ? bound_tokenize_template : NULL,
        .embed_spans = spec->late_chunking != 0 ? bound_embed_spans : NULL,
    };
    /* A templated job holds the prompt in its template; plain texts get it prepended. */
    options->prompt = spec->templated ? NULL : spec->prompt;
    options->instruction_len = spec->instruction_len;
    options->max_tokens = spec->max_tokens;
    options->truncate = spec->truncate;
    options->late_chunking = spec->late_chunking;
    options->dtype = (llmbed_output_dtype)spec->precision;
    options->batch_tokens = spec->batch_tokens;
    options->mask_prefix_tokens = spec->engine.mask_prefix_tokens;
    options->max_continuation = spec->document == NULL          ? 0
                                : spec->engine.chunk_tokens > 0 ? spec->engine.chunk_tokens
                                                                : spec->batch_tokens;
}

llmbed_status llmbed_job_bind_prepare(const llmbed_job_binding *binding, llmbed_error *error) {
    const llmbed_job_spec *spec = binding->spec;
    for (int w = 0; w < binding->n_engines; w++) {
        LLMBED_TRY(llmbed_engine_check_options(binding->engines[w], &spec->engine, error));
        if (spec->document != NULL)
            LLMBED_TRY(llmbed_engine_cache_document(binding->engines[w], spec->document, spec->n_document,
                                                    &spec->engine, error));
    }
    return LLMBED_OK;
}
