/* llmbed_embed_file (include/llmbed.h): the `llmbed embed` batch job. The
 * CLI calls this too, so the file job has one implementation: the job spec
 * resolved once (host/pipeline/spec.h), a line file or an Arrow stream as
 * the source, files (one, or shards + manifest) as the sink, and the
 * manifest's identity serialised from the spec. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/ctx.h"
#include "common/error.h"
#include "io/output_format.h"
#include "model/model.h"
#include "pipeline/bind.h"
#include "pipeline/source_arrow.h"

/* The job polls a sig_atomic_t; the public flag is an int. */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the public stop flag is an int");

void llmbed_file_params_default(llmbed_file_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->input_path = "-";
    llmbed_text_params_default(&params->text);
}

typedef struct file_callbacks {
    const llmbed_file_params *file;
    int64_t document_tokens;
} file_callbacks;

static void copy_stats(const llmbed_job_stats *s, int64_t document_tokens, llmbed_file_stats *out) {
    *out = (llmbed_file_stats){s->sequences,    s->tokens,      s->truncated, s->skipped,          s->batches,
                               s->resumed_rows, s->rows_total,  s->shards,    s->input_offset,     s->input_bytes,
                               s->seconds,      s->already_complete, s->invalid_utf8, document_tokens};
}

static void relay_progress(void *user, const llmbed_job_stats *stats) {
    const file_callbacks *relay = user;
    llmbed_file_stats copy;
    copy_stats(stats, relay->document_tokens, &copy);
    relay->file->on_progress(relay->file->user, &copy);
}

static void relay_skip(void *user, const char *message) {
    const file_callbacks *relay = user;
    relay->file->on_skip(relay->file->user, message);
}

/* The manifest's identity: the spec's row-changing decisions, plus what
 * the file job adds (its input, output format, record options). */
static llmbed_status job_identity(const llmbed_file_params *f, const llmbed_job_spec *spec,
                                  llmbed_output_format format, char **out, llmbed_error *error) {
    cJSON *job = cJSON_CreateObject();
    if (job == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_file: out of memory");
    llmbed_status st = llmbed_spec_identity(spec, job, error);
    if (f->input_identity != NULL) {
        cJSON_AddStringToObject(job, "input", f->input_identity);
    } else {
        char input_real[PATH_MAX];
        const int is_stdin = strcmp(f->input_path, "-") == 0;
        cJSON_AddStringToObject(job, "input",
                                is_stdin ? "-" : realpath(f->input_path, input_real) ? input_real : f->input_path);
        /* A resumed job must read the same bytes: an edited or replaced
         * input file changes its size (stdin cannot be checked). */
        struct stat s;
        if (!is_stdin && stat(f->input_path, &s) == 0 && S_ISREG(s.st_mode))
            cJSON_AddNumberToObject(job, "input_bytes", (double)s.st_size);
    }
    cJSON_AddStringToObject(job, "format", llmbed_output_format_name(format));
    cJSON_AddBoolToObject(job, "skip_invalid", f->skip_invalid);
    cJSON_AddBoolToObject(job, "strict_utf8", f->strict_utf8);
    cJSON_AddStringToObject(job, "text_field", f->text_field != NULL ? f->text_field : "text");
    cJSON_AddStringToObject(job, "id_field", f->id_field != NULL ? f->id_field : "");
    cJSON_AddNumberToObject(job, "shard_rows", (double)f->shard_rows);
    *out = st == LLMBED_OK ? cJSON_PrintUnformatted(job) : NULL;
    cJSON_Delete(job);
    if (st == LLMBED_OK && *out == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_file: out of memory");
    return st;
}

static llmbed_status check_file_params(const llmbed_file_params *f, llmbed_output_format *format, llmbed_error *error) {
    if (f == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_file: file params are required");
    if (f->struct_size != sizeof(llmbed_file_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "file params: struct_size %zu, expected %zu (call llmbed_file_params_default)",
                           f->struct_size, sizeof(llmbed_file_params));
    if ((f->input_path == NULL && f->arrow_input == NULL) || f->output_path == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "file params: input_path and output_path are required");
    if (f->arrow_input != NULL && f->input_identity == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "file params: arrow_input needs input_identity (what the manifest records for the data)");
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
    llmbed_output_format format;
    llmbed_status st = check_file_params(f, &format, error);
    /* An Arrow stream is the library's from here on: released on every path. */
    llmbed_arrow_source arrow = {0};
    llmbed_job_source arrow_source;
    if (st == LLMBED_OK && f->arrow_input != NULL)
        st = llmbed_arrow_source_init(&arrow, f->arrow_input, f->input_path, f->text_field, f->id_field, &arrow_source,
                                      error);
    else if (st != LLMBED_OK && f != NULL && f->struct_size == sizeof *f && f->arrow_input != NULL &&
             f->arrow_input->release != NULL)
        f->arrow_input->release(f->arrow_input);
    llmbed_job_spec spec;
    if (st == LLMBED_OK) st = llmbed_spec_resolve(ctx->engines[0].model, params, &f->text, ctx->engines[0].batch_tokens, &spec, error);
    if (st != LLMBED_OK) {
        llmbed_arrow_source_close(&arrow);
        return st;
    }
    if (spec.engine.pooling == LLMBED_POOLING_NONE)
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "embed_file: pooling none (per-token states) is not offered");
    if (st == LLMBED_OK && f->text.late_chunking < 0 && f->arrow_input != NULL)
        st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                         "embed_file: late_chunking -1 reads each JSONL line's \"spans\"; an Arrow input has none");
    char *job_json = NULL;
    if (st == LLMBED_OK) st = job_identity(f, &spec, format, &job_json, error);

    llmbed_engine *engines[LLMBED_MAX_DEVICES];
    const int n_engines = llmbed_ctx_engines(ctx, engines);
    llmbed_job_binding binding;
    llmbed_job_engine job_engine;
    llmbed_job_options job;
    llmbed_job_options_default(&job);
    llmbed_job_bind(&binding, &spec, engines, n_engines, &job_engine, &job);
    file_callbacks relay = {f, (int64_t)spec.n_document};
    job.input_path = f->input_path;
    job.text_field = f->text_field;
    job.id_field = f->id_field;
    job.output_path = f->output_path;
    job.format = format;
    job.skip_invalid = f->skip_invalid;
    job.window_lines = f->window_lines;
    job.tokenize_threads = f->tokenize_threads;
    job.shard_rows = f->shard_rows;
    job.resume = f->resume;
    job.job_json = job_json;
    job.stop = (const volatile sig_atomic_t *)f->stop;
    job.on_progress = f->on_progress != NULL ? relay_progress : NULL;
    job.on_skip = f->on_skip != NULL ? relay_skip : NULL;
    job.callback_user = &relay;
    job.strict_utf8 = f->strict_utf8;
    if (f->arrow_input != NULL) job.source = &arrow_source;
    llmbed_job_stats job_stats = {0};
    if (st == LLMBED_OK) st = llmbed_job_bind_prepare(&binding, error);
    if (st == LLMBED_OK) st = llmbed_job_run(&job_engine, &job, &job_stats, error);
    if (stats != NULL) copy_stats(&job_stats, (int64_t)spec.n_document, stats);
    llmbed_arrow_source_close(&arrow);
    free(job_json);
    llmbed_spec_free(&spec);
    return st;
}
