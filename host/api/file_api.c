/* llmbed_embed_file (include/llmbed.h): the `llmbed embed` batch job
 * (host/scheduler/job.h) behind the public API, bound to a context as the
 * CLI binds it (host/cli/engine_binding.c): tokenisation through
 * llmbed_tokenize on the job's worker threads, batches through the
 * context's engine on the calling thread. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/ctx.h"
#include "api/prompts.h"
#include "common/error.h"
#include "io/output_format.h"
#include "model/model.h"
#include "scheduler/job.h"

/* The job polls a sig_atomic_t; the public flag is an int. */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the public stop flag is an int");

void llmbed_file_params_default(llmbed_file_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->input_path = "-";
    llmbed_text_params_default(&params->text);
}

typedef struct file_engine {
    llmbed_ctx *ctx;
    llmbed_embed_params params;
    int dims;
} file_engine;

static llmbed_status bound_tokenize(void *user, const char *text, size_t len, int add_special, int32_t *ids,
                                    size_t capacity, size_t *n_ids, llmbed_error *error) {
    const file_engine *engine = user;
    llmbed_tokenize_params params;
    llmbed_tokenize_params_default(&params);
    params.add_special = add_special;
    return llmbed_tokenize(engine->ctx->engine.model, text, len, &params, ids, capacity, n_ids, NULL, error);
}

static llmbed_status bound_embed(void *user, const llmbed_batch *batch, float *out, llmbed_error *error) {
    file_engine *engine = user;
    return llmbed_engine_embed(&engine->ctx->engine, batch, &engine->params, out,
                               (size_t)batch->n_sequences * (size_t)engine->dims, error);
}

typedef struct progress_relay {
    const llmbed_file_params *file;
} progress_relay;

static void copy_stats(const llmbed_job_stats *s, llmbed_file_stats *out) {
    *out = (llmbed_file_stats){s->sequences, s->tokens,       s->truncated,   s->skipped,
                               s->batches,   s->resumed_rows, s->rows_total,  s->shards,
                               s->input_offset, s->input_bytes, s->seconds, s->already_complete};
}

static void relay_progress(void *user, const llmbed_job_stats *stats) {
    const progress_relay *relay = user;
    llmbed_file_stats copy;
    copy_stats(stats, &copy);
    relay->file->on_progress(relay->file->user, &copy);
}

/* Everything that changes the rows, for the manifest: resume refuses when any differs. */
static char *job_identity(const llmbed_file_params *f, const llmbed_model *model, const llmbed_embed_params *p,
                          int dims, int32_t instruction_len, int64_t max_tokens, llmbed_output_format format) {
    char model_real[PATH_MAX], input_real[PATH_MAX];
    const char *model_path = model->path != NULL && realpath(model->path, model_real) ? model_real : model->path;
    cJSON *job = cJSON_CreateObject();
    if (job == NULL) return NULL;
    cJSON_AddStringToObject(job, "model", model_path != NULL ? model_path : "");
    cJSON_AddNumberToObject(job, "model_parameters", (double)model->n_parameters);
    if (f->input_identity != NULL) {
        cJSON_AddStringToObject(job, "input", f->input_identity);
    } else {
        const int is_stdin = strcmp(f->input_path, "-") == 0;
        cJSON_AddStringToObject(job, "input",
                                is_stdin ? "-" : realpath(f->input_path, input_real) ? input_real : f->input_path);
        struct stat st;
        if (!is_stdin && stat(f->input_path, &st) == 0 && S_ISREG(st.st_mode))
            cJSON_AddNumberToObject(job, "input_bytes", (double)st.st_size);
    }
    cJSON_AddStringToObject(job, "format", llmbed_output_format_name(format));
    cJSON_AddStringToObject(job, "dtype", llmbed_output_dtype_name((llmbed_output_dtype)f->text.precision));
    cJSON_AddNumberToObject(job, "pooling", p->pooling);
    cJSON_AddNumberToObject(job, "attention", p->attention);
    cJSON_AddNumberToObject(job, "normalize", p->normalize);
    cJSON_AddNumberToObject(job, "dims", dims);
    cJSON_AddNumberToObject(job, "layer", p->layer);
    cJSON_AddStringToObject(job, "prompt", f->text.prompt != NULL ? f->text.prompt : "");
    cJSON_AddNumberToObject(job, "instruction_len", instruction_len);
    cJSON_AddNumberToObject(job, "max_tokens", (double)max_tokens);
    cJSON_AddBoolToObject(job, "truncate", f->text.truncate);
    cJSON_AddBoolToObject(job, "skip_invalid", f->skip_invalid);
    cJSON_AddStringToObject(job, "text_field", f->text_field != NULL ? f->text_field : "text");
    cJSON_AddStringToObject(job, "id_field", f->id_field != NULL ? f->id_field : "");
    cJSON_AddNumberToObject(job, "shard_rows", (double)f->shard_rows);
    char *text = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    return text;
}

static llmbed_status check_file_params(const llmbed_file_params *f, llmbed_output_format *format, llmbed_error *error) {
    if (f == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_file: file params are required");
    if (f->struct_size != sizeof(llmbed_file_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "file params: struct_size %zu, expected %zu (call llmbed_file_params_default)",
                           f->struct_size, sizeof(llmbed_file_params));
    if (f->input_path == NULL || f->output_path == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "file params: input_path and output_path are required");
    if (f->format != NULL ? llmbed_output_format_parse(f->format, format) != 0
                          : llmbed_output_format_from_path(f->output_path, format) != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "file params: cannot tell the output format of '%s': use .npy, .safetensors or .jsonl, or format",
                           f->format != NULL ? f->format : f->output_path);
    if (f->shard_rows < 0 || f->window_lines < 0 || f->tokenize_threads < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "file params: shard_rows, window_lines and tokenize_threads must not be negative");
    if (f->resume && f->shard_rows == 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "file params: resume needs a sharded output (shard_rows N)");
    return LLMBED_OK;
}

llmbed_status llmbed_embed_file(llmbed_ctx *ctx, const llmbed_file_params *f, const llmbed_embed_params *params,
                                llmbed_file_stats *stats) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error *error = &ctx->last_error;
    llmbed_error_clear(error);
    if (stats != NULL) memset(stats, 0, sizeof *stats);
    const llmbed_model *model = ctx->engine.model;
    llmbed_output_format format;
    LLMBED_TRY(check_file_params(f, &format, error));
    int32_t instruction_len = 0;
    int64_t max_tokens = 0;
    LLMBED_TRY(llmbed_text_params_apply(model, &f->text, &instruction_len, &max_tokens, error));
    file_engine engine = {ctx, {0}, 0};
    LLMBED_TRY(llmbed_embed_params_resolve(model, params, &engine.params, &engine.dims, error));
    if (engine.params.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "embed_file: pooling none (per-token states) is not offered");
    char *job_json = job_identity(f, model, &engine.params, engine.dims, instruction_len, max_tokens, format);
    if (job_json == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_file: out of memory");

    llmbed_job_engine job_engine = {&engine, engine.dims, model->config.vocab_size, bound_tokenize, bound_embed, NULL};
    progress_relay relay = {f};
    llmbed_job_options job;
    llmbed_job_options_default(&job);
    job.input_path = f->input_path;
    job.text_field = f->text_field;
    job.id_field = f->id_field;
    job.output_path = f->output_path;
    job.format = format;
    job.dtype = (llmbed_output_dtype)f->text.precision;
    job.prompt = f->text.prompt;
    job.instruction_len = instruction_len;
    job.max_tokens = max_tokens;
    job.truncate = f->text.truncate;
    job.skip_invalid = f->skip_invalid;
    job.batch_tokens = ctx->engine.batch_tokens;
    job.window_lines = f->window_lines;
    job.tokenize_threads = f->tokenize_threads;
    job.shard_rows = f->shard_rows;
    job.resume = f->resume;
    job.job_json = job_json;
    job.stop = (const volatile sig_atomic_t *)f->stop;
    job.on_progress = f->on_progress != NULL ? relay_progress : NULL;
    job.callback_user = &relay;
    llmbed_job_stats job_stats;
    llmbed_status st = llmbed_job_run(&job_engine, &job, &job_stats, error);
    if (stats != NULL) copy_stats(&job_stats, stats);
    free(job_json);
    return st;
}
