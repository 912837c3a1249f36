/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include "cli/engine_binding.h"

#include <stdio.h>

static llmbed_status bound_tokenize(void *user, const char *text, size_t len, int add_special, int32_t *ids,
                                    size_t capacity, size_t *n_ids, llmbed_error *error) {
    const cli_engine *engine = user;
    llmbed_tokenize_params params;
    llmbed_tokenize_params_default(&params);
    params.add_special = engine->continues_document ? 0 : add_special;
    llmbed_status st = llmbed_tokenize(engine->model, text, len, &params, ids, capacity, n_ids, NULL, error);
    if (st != LLMBED_OK || !engine->continues_document || !add_special || engine->eos_after_continuation < 0)
        return st;
    if (*n_ids + 1 > capacity) {
        *n_ids += 1;
        error->status = LLMBED_ERR_BUFFER_TOO_SMALL;
        snprintf(error->message, sizeof error->message, "%zu ids do not fit in %zu", *n_ids, capacity);
        return LLMBED_ERR_BUFFER_TOO_SMALL;
    }
    ids[(*n_ids)++] = engine->eos_after_continuation;
    return LLMBED_OK;
}

static llmbed_status bound_tokenize_template(void *user, const char *text, size_t len, size_t max_tokens,
                                             int32_t *ids, size_t capacity, size_t *n_ids, int32_t *pool_begin,
                                             int32_t *pool_end, int *truncated, llmbed_error *error) {
    const cli_engine *engine = user;
    llmbed_template_params params = engine->template_params;
    params.max_tokens = max_tokens;
    return llmbed_tokenize_template(engine->model, text, len, &params, ids, capacity, n_ids, pool_begin, pool_end,
                                    truncated, error);
}

static llmbed_status bound_embed(void *user, const llmbed_batch *batch, float *out, llmbed_error *error) {
    cli_engine *engine = user;
    llmbed_status st = llmbed_embed(engine->ctx, batch, &engine->params, out,
                                    (size_t)batch->n_sequences * (size_t)engine->dims);
    if (st != LLMBED_OK) {
        error->status = st;
        snprintf(error->message, sizeof error->message, "%s", llmbed_last_error(engine->ctx));
    }
    return st;
}

void cli_engine_bind(cli_engine *engine, llmbed_job_engine *job, int vocab_size) {
    job->user = engine;
    job->dims = engine->dims;
    job->vocab_size = vocab_size;
    job->tokenize = bound_tokenize;
    job->embed = bound_embed;
    job->tokenize_template = engine->templated ? bound_tokenize_template : NULL;
}
