/* llmbed_embed_texts and llmbed_embed_ids (include/llmbed.h): in-memory
 * inputs through the pipeline (host/pipeline/job.h), from a memory source
 * to the caller's buffer or row callback, with the job spec resolved once
 * as for `llmbed embed`. Same windows, batches and rows as the CLI. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/ctx.h"
#include "common/error.h"
#include "model/model.h"
#include "pipeline/bind.h"
#include "pipeline/sink_memory.h"
#include "pipeline/source.h"

static llmbed_status check_args(const void *inputs, const size_t *lengths, int n, const char *what, void *out,
                                size_t row_bytes, size_t out_bytes, const float *scales, const llmbed_job_spec *spec,
                                const llmbed_text_params *t, llmbed_error *error) {
    if (n < 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_%ss: n %d is negative", what, n);
    if (spec->engine.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "embed_%ss: pooling none (per-token states) is not offered here; use llmbed_embed", what);
    if (n == 0) return LLMBED_OK;
    const int to_callback = t != NULL && t->on_rows != NULL;
    if (inputs == NULL || lengths == NULL || (out == NULL && !to_callback))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_%ss: %ss, lengths and out are required", what,
                           what);
    if (spec->late_chunking != 0 && !to_callback)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed_%ss: late chunking gives a number of rows that depends on the inputs: set "
                           "text_params.on_rows",
                           what);
    if (spec->late_chunking < 0 && (t->spans == NULL || t->n_spans == NULL))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_%ss: late_chunking -1 needs spans and n_spans",
                           what);
    if (to_callback) return LLMBED_OK;
    if (spec->precision == LLMBED_PRECISION_INT8 && scales == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_%ss: int8 needs scales[n]", what);
    if ((size_t)n > out_bytes / row_bytes)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "embed_%ss: %d rows x %zu bytes, buffer holds %zu", what,
                           n, row_bytes, out_bytes);
    return LLMBED_OK;
}

typedef struct progress_relay {
    const llmbed_text_params *text;
    int64_t document_tokens;
} progress_relay;

static void copy_stats(const llmbed_job_stats *s, int64_t document_tokens, llmbed_text_stats *out) {
    *out = (llmbed_text_stats){s->tokens, s->truncated, s->batches, s->rows, document_tokens, s->sequences,
                               s->seconds};
}

static void relay_progress(void *user, const llmbed_job_stats *stats) {
    const progress_relay *relay = user;
    llmbed_text_stats copy;
    copy_stats(stats, relay->document_tokens, &copy);
    relay->text->on_progress(relay->text->user, &copy);
}

/* Tokenisation threads of an in-memory job: the context's CPU threads (of
 * all its replicas). */
static int tokenize_threads(const llmbed_ctx *ctx) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = 0;
    for (int i = 0; i < ctx->n_engines; i++) n += ctx->engines[i].n_threads;
    if (ctx->engines[0].n_threads <= 0) n = cores > 0 ? (int)cores : 1;
    return n < 64 ? n : 64;
}

static llmbed_status embed_memory(llmbed_ctx *ctx, int is_text, const char *const *texts, const int32_t *const *ids,
                                  const size_t *lengths, int n, const llmbed_text_params *text_params,
                                  const llmbed_embed_params *params, void *out, size_t out_bytes, float *scales,
                                  llmbed_text_stats *stats) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error *error = &ctx->last_error;
    llmbed_error_clear(error);
    if (stats != NULL) memset(stats, 0, sizeof *stats);
    const char *what = is_text ? "text" : "sequence";
    llmbed_job_spec spec;
    LLMBED_TRY(llmbed_spec_resolve(ctx->engines[0].model, params, text_params, ctx->engines[0].batch_tokens, &spec, error));
    llmbed_status st = LLMBED_OK;
    if (!is_text && (spec.prompt != NULL || spec.templated))
        st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                         "embed_ids: a prompt or template applies to text; token ids are embedded as given");
    const size_t row_bytes = llmbed_precision_row_bytes(spec.precision, spec.dims);
    if (st == LLMBED_OK)
        st = check_args(is_text ? (const void *)texts : (const void *)ids, lengths, n, what, out, row_bytes,
                        out_bytes, scales, &spec, text_params, error);
    for (int i = 0; st == LLMBED_OK && is_text && i < n; i++)
        if (texts[i] == NULL && lengths[i] > 0) st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text %d is NULL", i);
    for (int i = 0; st == LLMBED_OK && !is_text && i < n; i++)
        if (ids[i] == NULL && lengths[i] > 0) st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "sequence %d is NULL", i);
    if (st != LLMBED_OK || n == 0) {
        llmbed_spec_free(&spec);
        return st;
    }
    llmbed_memory_source memory;
    llmbed_job_source source;
    llmbed_memory_source_init(&memory, what, is_text ? texts : NULL, is_text ? NULL : ids, lengths, n, spec.late_chunking < 0 ? text_params->spans : NULL,
                              spec.late_chunking < 0 ? text_params->n_spans : NULL, &source);
    llmbed_memory_sink rows;
    llmbed_job_sink sink;
    llmbed_memory_sink_init(&rows, spec.precision, spec.dims, out, scales,
                            text_params != NULL ? text_params->on_rows : NULL,
                            text_params != NULL ? text_params->user : NULL, &sink);
    llmbed_engine *engines[LLMBED_MAX_DEVICES];
    const int n_engines = llmbed_ctx_engines(ctx, engines);
    llmbed_job_binding binding;
    llmbed_job_engine job_engine;
    llmbed_job_options options;
    llmbed_job_options_default(&options);
    llmbed_job_bind(&binding, &spec, engines, n_engines, &job_engine, &options);
    options.source = &source;
    options.sink = &sink;
    options.tokenize_threads = tokenize_threads(ctx);
    progress_relay relay = {text_params, (int64_t)spec.n_document};
    if (text_params != NULL && text_params->on_progress != NULL) {
        options.on_progress = relay_progress;
        options.callback_user = &relay;
    }
    llmbed_job_stats job_stats;
    st = llmbed_job_bind_prepare(&binding, error);
    if (st == LLMBED_OK) st = llmbed_job_run(&job_engine, &options, &job_stats, error);
    if (stats != NULL && st == LLMBED_OK) copy_stats(&job_stats, (int64_t)spec.n_document, stats);
    llmbed_memory_sink_free(&rows);
    llmbed_spec_free(&spec);
    return st;
}

llmbed_status llmbed_embed_texts(llmbed_ctx *ctx, const char *const *texts, const size_t *lengths, int n_texts,
                                 const llmbed_text_params *text_params, const llmbed_embed_params *params,
                                 void *out, size_t out_bytes, float *scales, llmbed_text_stats *stats) {
    return embed_memory(ctx, 1, texts, NULL, lengths, n_texts, text_params, params, out, out_bytes, scales, stats);
}

llmbed_status llmbed_embed_ids(llmbed_ctx *ctx, const int32_t *const *ids, const size_t *lengths, int n_sequences,
                               const llmbed_text_params *text_params, const llmbed_embed_params *params, void *out,
                               size_t out_bytes, float *scales, llmbed_text_stats *stats) {
    return embed_memory(ctx, 0, NULL, ids, lengths, n_sequences, text_params, params, out, out_bytes, scales, stats);
}
