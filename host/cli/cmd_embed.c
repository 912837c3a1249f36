/* llmbed embed: a batch embedding job (scheduler/job.h) from the command line. */
/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/document.h"
#include "cli/engine_binding.h"
#include "cli/late_chunking.h"
#include "cli/method_args.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "io/output_format.h"
#include "scheduler/job.h"
#include "template/template.h"

static const char *const embed_usage =
    "usage: llmbed embed --model PATH --input FILE|- --output FILE [options]\n"
    "\n"
    "Input, one record per line: a line starting with '{' is a JSON object holding either\n"
    "\"input_ids\": [ids...] (pre-tokenised: no tokenizer, no prompt) or a string under the\n"
    "text field (--text-field, default \"text\"); any other line is plain UTF-8 text (an empty\n"
    "line is empty text: embedded when the tokenizer adds special tokens, else rejected as an\n"
    "empty sequence). Output rows are in input order; the format follows the extension\n"
    "(.npy, .safetensors, .jsonl) unless --format is given. int8 output stores one scale per\n"
    "row (x ~= q * scale) in <stem>.scales.npy, the \"scales\" tensor, or a \"scale\" field.\n"
    "\n"
    "With --shard-rows N the output is a shard set <stem>.shard-00000.<ext>, ... plus\n"
    "<stem>.manifest.json (rows, checksums and the input position per committed shard);\n"
    "--resume continues a killed or interrupted job from it. Without shards the output file\n"
    "appears only when the job succeeds. Ctrl-C stops at the next batch: committed shards stay.\n"
    "Defaults for pooling, attention and normalisation come from the model (llmbed info).\n"
    "\n"
    "Long inputs (causal models): an input longer than --chunk-tokens (default --batch-tokens)\n"
    "runs in chunks over a key/value cache; --think-ratio prunes key channels (ThinK). Suffix\n"
    "mode: --document DOC encodes DOC once, then each input line is embedded as DOC followed by\n"
    "that line, pooled over the line's tokens only, at the cost of the line alone. Late chunking:\n"
    "--late-chunking tokens:N embeds each line in one forward, then pools every N tokens into a\n"
    "row; --late-chunking spans pools each pair of a JSONL line's \"spans\": [[begin, end], ...]\n"
    "(token positions as `llmbed tokenize` prints them, BOS included; in order, disjoint). The row\n"
    "index <stem>.rows.jsonl names each row's line and span.\n"
    "\n"
    "Methods (--method NAME; explicit --template/--pool-span/--pooling override it):\n"
    "  mean, last   plain pooling over the text\n"
    "  echo         'Rewrite the sentence: {text}\\nRewritten sentence: {text}', mean over the last copy\n"
    "               (Springer et al. 2024)\n"
    "  prompteol    'This sentence: \"{text}\" means in one word:\"', last token (Jiang et al. 2023)\n"
    "  tempscale    --attn-temperature T in every attention layer (logits / T), mean\n"
    "  early exit   --layer K (hidden state after K layers, then the final norm); combines with any\n"
    "A template is tokenised whole (no chat template, no BOS unless the tokenizer adds one); a token\n"
    "belongs to the text span when its character range overlaps that copy of the text.";

/* Set by SIGINT/SIGTERM; the job polls it between batches. A second signal
 * falls through to the default action and ends the process at once. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number) {
    stop_requested = 1;
    struct sigaction restore;
    memset(&restore, 0, sizeof restore);
    restore.sa_handler = SIG_DFL;
    sigaction(signal_number, &restore, NULL);
}

static void install_signal_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

typedef struct embed_args {
    const char *model, *input, *output, *pooling, *attention, *dtype, *format, *text_field, *id_field;
    const char *prompt, *prompt_name, *device, *family, *document, *rope_scaling, *late_chunking, *weights;
    int normalize, truncate, resume, skip_invalid, quiet, exclude_prompt, strict_utf8;
    int64_t dims, layer, threads, max_tokens, batch_tokens, shard_rows, tokenize_threads, window_lines;
    int64_t chunk_tokens, memory_limit_mib, mask_prefix_tokens;
    double think_ratio;
    cli_method_args method;
    cli_string_list adapters;
} embed_args;

/* Everything that changes the rows, for the manifest: --resume refuses when any differs. */
static char *job_identity(const embed_args *a, const llmbed_model_info *info, const char *prompt,
                          int32_t instruction_len, llmbed_output_format format, llmbed_output_dtype dtype,
                          const llmbed_embed_params *params, int dims, const cli_engine *engine) {
    char model_real[PATH_MAX], input_real[PATH_MAX];
    const char *model = realpath(a->model, model_real) ? model_real : a->model;
    const char *input = strcmp(a->input, "-") == 0 ? "-" : realpath(a->input, input_real) ? input_real : a->input;
    cJSON *job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "model", model);
    cJSON_AddNumberToObject(job, "model_parameters", (double)info->n_parameters);
    cJSON_AddStringToObject(job, "input", input);
    /* A resumed job must read the same bytes: an edited or replaced input
     * file changes its size (stdin cannot be checked). */
    struct stat st;
    if (strcmp(a->input, "-") != 0 && stat(a->input, &st) == 0) {
        cJSON_AddNumberToObject(job, "input_bytes", (double)st.st_size);
    }
    cJSON_AddStringToObject(job, "format", llmbed_output_format_name(format));
    cJSON_AddStringToObject(job, "dtype", llmbed_output_dtype_name(dtype));
    cJSON_AddStringToObject(job, "pooling", cli_pooling_name(params->pooling));
    cJSON_AddStringToObject(job, "attention", cli_attention_name(params->attention));
    cJSON_AddNumberToObject(job, "normalize", params->normalize);
    cJSON_AddNumberToObject(job, "dims", dims);
    cJSON_AddNumberToObject(job, "layer", params->layer);
    cJSON_AddNumberToObject(job, "chunk_tokens", params->chunk_tokens);
    cJSON_AddNumberToObject(job, "think_ratio", params->think_ratio);
    cJSON_AddStringToObject(job, "prompt", prompt != NULL ? prompt : "");
    cJSON_AddNumberToObject(job, "instruction_len", instruction_len);
    cJSON_AddNumberToObject(job, "mask_prefix_tokens", params->mask_prefix_tokens);
    cJSON_AddStringToObject(job, "family", info->family);
    if (a->rope_scaling != NULL) cJSON_AddStringToObject(job, "rope_scaling", a->rope_scaling);
    /* native and f32 give the same rows bit for bit (tests/cpu/test_weights.cpp): only bf16 changes them. */
    if (strcmp(info->weights, "bf16") == 0) cJSON_AddStringToObject(job, "weights", info->weights);
    if (a->document != NULL) {
        /* Only when used (older manifests stay resumable); an edited document changes every row. */
        struct stat doc;
        cJSON_AddStringToObject(job, "document", a->document);
        if (stat(a->document, &doc) == 0) cJSON_AddNumberToObject(job, "document_bytes", (double)doc.st_size);
    }
    cJSON *adapters = cJSON_AddArrayToObject(job, "adapters");
    for (int i = 0; i < a->adapters.n; i++) {
        char real[PATH_MAX];
        cJSON_AddItemToArray(adapters, cJSON_CreateString(realpath(a->adapters.items[i], real) ? real : a->adapters.items[i]));
    }
    cJSON_AddNumberToObject(job, "max_tokens", (double)a->max_tokens);
    cJSON_AddBoolToObject(job, "truncate", a->truncate);
    cJSON_AddBoolToObject(job, "skip_invalid", a->skip_invalid);
    cJSON_AddBoolToObject(job, "strict_utf8", a->strict_utf8);
    cJSON_AddStringToObject(job, "text_field", a->text_field);
    cJSON_AddStringToObject(job, "id_field", a->id_field != NULL ? a->id_field : "");
    cJSON_AddNumberToObject(job, "shard_rows", (double)a->shard_rows);
    /* Only when used, so manifests of jobs without them stay resumable. */
    if (engine->templated) {
        cJSON_AddStringToObject(job, "template", engine->template_params.template_text);
        cJSON_AddStringToObject(job, "pool_span", cli_pool_span_name(engine->template_params.pool_span));
    }
    if (params->attention_temperature != 1.0f)
        cJSON_AddNumberToObject(job, "attention_temperature", params->attention_temperature);
    char *text = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    return text;
}

static int fail(llmbed_status st, const char *fmt, const char *value) {
    cli_error(fmt, value);
    return st;
}

static void print_summary(const embed_args *a, const llmbed_job_stats *s, int dims, llmbed_output_dtype dtype) {
    double rate = s->seconds > 0 ? (double)s->tokens / s->seconds : 0;
    double seq_rate = s->seconds > 0 ? (double)s->sequences / s->seconds : 0;
    char where[512];
    if (a->shard_rows > 0) {
        snprintf(where, sizeof where, "%" PRId64 " rows in %" PRId64 " shards + manifest for %s", s->rows_total,
                 s->shards, a->output);
    } else {
        snprintf(where, sizeof where, "%s [%" PRId64 " x %d %s]", a->output, s->rows_total, dims,
                 llmbed_output_dtype_name(dtype));
    }
    fprintf(stderr,
            "llmbed: summary: %" PRId64 " sequences, %" PRId64 " tokens, %" PRId64 " truncated, %" PRId64
            " skipped, %" PRId64 " with invalid UTF-8 (replaced by U+FFFD)%s in %.2f s (%.0f tokens/s, %.1f "
            "sequences/s), peak RSS %.1f MiB; wrote %s\n",
            s->sequences, s->tokens, s->truncated, s->skipped, s->invalid_utf8,
            s->resumed_rows > 0 ? " (resumed)" : "", s->seconds,
            rate, seq_rate, (double)cli_peak_rss_bytes() / (1024.0 * 1024.0), where);
}

/* --late-chunking: the flags it cannot honour, then its spec. */
static llmbed_status check_late_chunking(const embed_args *a, int templated, int *span_tokens) {
    const char *conflict = a->shard_rows > 0 ? "--shard-rows" : a->resume ? "--resume" : a->document ? "--document"
                           : a->skip_invalid ? "--skip-invalid" : (a->prompt || a->prompt_name) ? "--prompt"
                           : templated ? "--template/--method" : a->mask_prefix_tokens > 0 ? "--mask-prefix-tokens"
                           : NULL;
    if (conflict != NULL) {
        cli_error("--late-chunking: cannot be combined with %s (spans are token positions of the input as given)",
                  conflict);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (cli_parse_late_chunking(a->late_chunking, span_tokens) != 0) {
        cli_error("--late-chunking '%s': expected tokens:N (spans of N tokens, N >= 1) or spans (each JSONL line's "
                  "\"spans\")",
                  a->late_chunking);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return LLMBED_OK;
}

static llmbed_status run_late_chunking(const embed_args *a, const llmbed_model *model, llmbed_ctx *ctx,
                                       const llmbed_embed_params *params, llmbed_output_format format,
                                       llmbed_output_dtype dtype, int64_t max_tokens, int span_tokens) {
    const cli_late_chunking_job job = {model, ctx, params, llmbed_embed_dims(model, params), a->input, a->output,
                                       format, dtype, a->text_field, a->id_field, a->strict_utf8, max_tokens,
                                       span_tokens, &stop_requested};
    cli_late_chunking_stats stats;
    const double start = cli_now();
    const llmbed_status st = cli_run_late_chunking(&job, &stats);
    if (st == LLMBED_OK) {
        char *index = cli_late_chunking_index_path(a->output);
        fprintf(stderr,
                "llmbed: late chunking: %" PRId64 " lines, %" PRId64 " tokens -> %" PRId64 " rows in %.2f s; wrote %s "
                "[%" PRId64 " x %d %s] and its row index %s\n",
                stats.lines, stats.tokens, stats.rows, cli_now() - start, a->output, stats.rows, job.dims,
                llmbed_output_dtype_name(dtype), index != NULL ? index : "");
        free(index);
    }
    return st;
}

static int run(embed_args *a) {
    /* First thing: a Ctrl-C while the model loads is then a clean
     * "interrupted" (status 31) at the job's first check, not death by SIGINT. */
    install_signal_handlers();
    llmbed_output_format format, from_name;
    const int named = llmbed_output_format_from_path(a->output, &from_name) == 0;
    if (a->format != NULL && llmbed_output_format_parse(a->format, &format) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --format '%s': expected npy, safetensors or jsonl",
                    a->format);
    }
    if (a->format == NULL && !named) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT,
                    "llmbed embed: cannot tell the output format of '%s': use .npy, .safetensors or .jsonl, or --format",
                    a->output);
    }
    if (a->format == NULL) format = from_name;
    if (a->format != NULL && named && from_name != format) {
        cli_error("llmbed embed: --format %s contradicts the extension of '%s' (%s): rename the output or drop --format",
                  a->format, a->output, llmbed_output_format_name(from_name));
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_output_dtype dtype;
    if (llmbed_output_dtype_parse(a->dtype, &dtype) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --dtype '%s': expected float32, float16, int8 or ubinary",
                    a->dtype);
    }
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    cli_method method;
    a->method.pooling = a->pooling;
    if (cli_resolve_method("embed", &a->method, &method) != LLMBED_OK) return LLMBED_ERR_INVALID_ARGUMENT;
    int span_tokens = 0;
    if (a->late_chunking != NULL && check_late_chunking(a, method.templated, &span_tokens) != LLMBED_OK)
        return LLMBED_ERR_INVALID_ARGUMENT;
    if (method.pooling_set) params.pooling = method.pooling;
    params.attention_temperature = method.attention_temperature;
    if (a->attention != NULL && cli_parse_attention(a->attention, &params.attention) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --attention '%s': expected causal or bidirectional",
                    a->attention);
    }
    llmbed_ctx_params ctx_params;
    llmbed_ctx_params_default(&ctx_params);
    if (cli_parse_device(a->device, &ctx_params.device, &ctx_params.device_index) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --device '%s': expected auto, cpu, cuda or cuda:N", a->device);
    }
    if (a->resume && a->shard_rows == 0) {
        cli_error("llmbed embed: --resume needs --shard-rows N (a sharded output)");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_model *model = NULL;
    llmbed_model_params model_params;
    llmbed_model_params_default(&model_params);
    model_params.n_threads = (int)a->threads;
    model_params.adapters = a->adapters.items;
    model_params.n_adapters = a->adapters.n;
    model_params.family = a->family;
    model_params.rope_scaling = a->rope_scaling;
    if (cli_weights_option("embed", a->weights, &model_params) != 0) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_status st = cli_load_model_with(a->model, &model_params, &model);
    if (st != LLMBED_OK) return st;
    llmbed_model_info info = {.struct_size = sizeof info};
    llmbed_ctx *ctx = NULL;
    char *owned_prompt = NULL, *job_json = NULL, *template_text = NULL;
    const char *prompt = NULL;
    int32_t instruction_len = 0;
    st = llmbed_model_get_info(model, &info);
    if (st != LLMBED_OK) {
        cli_error("%s: cannot read the model info", a->model);
        goto done;
    }
    if (a->layer > info.n_layers) {
        cli_error("--layer %" PRId64 ": the model %s has %d layers (0 = all)", a->layer, a->model, info.n_layers);
        st = LLMBED_ERR_LAYER_OUT_OF_RANGE;
        goto done;
    }
    if (a->dims > info.hidden_size) {
        cli_error("--dims %" PRId64 ": more than the model's hidden size %d", a->dims, info.hidden_size);
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    if (!(a->think_ratio >= 0.0 && a->think_ratio < 1.0)) {
        cli_error("--think-ratio %g: expected a fraction in [0, 1) (0 = off)", a->think_ratio);
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    params.normalize = a->normalize;
    params.dims = (int)a->dims;
    params.layer = (int)a->layer;
    params.chunk_tokens = (int)a->chunk_tokens;
    params.think_ratio = (float)a->think_ratio;
    params.mask_prefix_tokens = (int)a->mask_prefix_tokens;
    if (params.pooling == LLMBED_POOLING_LATENT && !info.has_latent_pooling) {
        cli_error("--pooling latent: %s has no latent pooling block (NV-Embed's latent_attention_model.* weights)",
                  a->model);
        st = LLMBED_ERR_UNSUPPORTED;
        goto done;
    }
    if (params.pooling == LLMBED_POOLING_DEFAULT) params.pooling = info.default_pooling;
    if (params.attention == LLMBED_ATTENTION_DEFAULT) params.attention = info.default_attention;
    if (params.normalize < 0) params.normalize = info.default_normalize;
    if (params.attention == LLMBED_ATTENTION_BIDIRECTIONAL &&
        (params.chunk_tokens > 0 || params.think_ratio > 0 || a->document != NULL)) {
        cli_error("%s: chunked prefill needs causal attention (bidirectional attention has no reusable cache)",
                  a->document != NULL ? "--document" : params.chunk_tokens > 0 ? "--chunk-tokens" : "--think-ratio");
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    st = cli_resolve_prompt(a->model, a->prompt, a->prompt_name, &owned_prompt, &prompt);
    if (st != LLMBED_OK) goto done;
    int exclude = a->exclude_prompt >= 0 ? a->exclude_prompt : cli_pooling_excludes_prompt(a->model);
    /* Families that mask the instruction from the pool (SPEC section 3): NV-Embed
     * (is_mask_instruction), LLM2Vec and GritLM (mean over non-instruction tokens). */
    if (a->exclude_prompt < 0 && (strcmp(info.family, "nv-embed") == 0 || strcmp(info.family, "llm2vec") == 0 ||
                                  strcmp(info.family, "gritlm") == 0))
        exclude = 1;
    if (prompt != NULL && prompt[0] != '\0' && exclude) {
        /* No BOS in front of the prompt: NV-Embed's format, and suffix mode
         * (the input continues the document). */
        st = strcmp(info.family, "nv-embed") == 0 || a->document != NULL
                 ? cli_prompt_bare_length(model, prompt, &instruction_len)
                 : cli_prompt_length(model, prompt, &instruction_len);
        if (st != LLMBED_OK) goto done;
    }
    if (a->max_tokens > info.max_positions) {
        /* RoPE positions past the trained range give embeddings nobody validated. */
        fprintf(stderr,
                "llmbed: warning: --max-tokens %" PRId64 " is more than the model's max_position_embeddings %d; "
                "inputs longer than %d tokens run at positions it was not trained on\n",
                a->max_tokens, info.max_positions, info.max_positions);
    }
    if (a->batch_tokens == 0) a->batch_tokens = llmbed_suggested_batch_tokens(model);
    ctx_params.n_threads = (int)a->threads;
    ctx_params.batch_tokens = a->batch_tokens;
    ctx_params.memory_limit_bytes = a->memory_limit_mib * 1024 * 1024;
    const int64_t max_tokens = a->max_tokens > 0 ? a->max_tokens : info.max_positions;
    if (params.attention != LLMBED_ATTENTION_BIDIRECTIONAL && params.chunk_tokens == 0 && max_tokens > a->batch_tokens &&
        !a->quiet)
        fprintf(stderr,
                "llmbed: note: inputs longer than --batch-tokens %" PRId64 " are processed in chunks of that many tokens "
                "over a key/value cache (--chunk-tokens sets the size)\n",
                a->batch_tokens);
    llmbed_error error = {0};
    st = llmbed_ctx_create(model, &ctx_params, &ctx, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
        goto done;
    }
    cli_note_device(ctx);
    if (a->document != NULL) {
        int64_t document_tokens = 0;
        st = cli_cache_document(a->document, model, &info, ctx, &params, max_tokens, &document_tokens);
        if (st != LLMBED_OK) goto done;
        params.continue_document = 1;
        if (!a->quiet)
            fprintf(stderr, "llmbed: suffix mode: %s cached (%" PRId64 " tokens); every input continues it\n",
                    a->document, document_tokens);
    }
    if (a->late_chunking != NULL) {
        st = run_late_chunking(a, model, ctx, &params, format, dtype, max_tokens, span_tokens);
        goto done;
    }
    cli_engine engine = {model, ctx, params, llmbed_embed_dims(model, &params), method.templated, {0},
                         a->document != NULL, info.appends_eos ? info.eos_token_id : -1};
    llmbed_template_params_default(&engine.template_params);
    if (a->document != NULL) engine.template_params.add_special = 0;
    if (method.templated) {
        /* The prompt goes in front of the template as literal text; its
         * tokens stay masked out of the pool (instruction_len). */
        char *escaped = llmbed_template_escape(prompt != NULL ? prompt : "");
        const char *body = method.template_text != NULL ? method.template_text : "{text}";
        template_text = escaped != NULL ? malloc(strlen(escaped) + strlen(body) + 1) : NULL;
        if (template_text == NULL) {
            free(escaped);
            cli_error("llmbed embed: out of memory");
            st = LLMBED_ERR_OUT_OF_MEMORY;
            goto done;
        }
        strcpy(template_text, escaped);
        strcat(template_text, body);
        free(escaped);
        engine.template_params.template_text = template_text;
        engine.template_params.pool_span = method.pool_span;
    }
    llmbed_job_engine job_engine;
    cli_engine_bind(&engine, &job_engine, info.vocab_size);
    job_json = job_identity(a, &info, prompt, instruction_len, format, dtype, &params, engine.dims, &engine);

    cli_progress progress;
    cli_progress_init(&progress, a->quiet);
    llmbed_job_options job;
    llmbed_job_options_default(&job);
    job.input_path = a->input;
    job.text_field = a->text_field;
    job.id_field = a->id_field;
    job.output_path = a->output;
    job.format = format;
    job.dtype = dtype;
    job.prompt = prompt;
    job.instruction_len = instruction_len;
    job.max_tokens = max_tokens;
    job.truncate = a->truncate;
    job.skip_invalid = a->skip_invalid;
    job.batch_tokens = a->batch_tokens;
    job.window_lines = (int)a->window_lines;
    job.tokenize_threads = (int)a->tokenize_threads;
    job.shard_rows = a->shard_rows;
    job.resume = a->resume;
    job.job_json = job_json;
    job.stop = &stop_requested;
    job.on_progress = cli_progress_update;
    job.on_skip = cli_progress_skip;
    job.callback_user = &progress;
    job.strict_utf8 = a->strict_utf8;
    llmbed_job_stats stats;
    st = llmbed_job_run(&job_engine, &job, &stats, &error);
    cli_progress_close(&progress);
    if (st == LLMBED_OK && stats.already_complete) {
        fprintf(stderr, "llmbed: %s is already complete (%" PRId64 " rows in %" PRId64 " shards); nothing to do\n",
                a->output, stats.rows_total, stats.shards);
    } else if (st == LLMBED_OK) {
        print_summary(a, &stats, engine.dims, dtype);
    } else if (st == LLMBED_ERR_INTERRUPTED) {
        if (a->shard_rows > 0) {
            cli_error("interrupted: %" PRId64 " rows committed in %" PRId64 " shards (continue with --resume)",
                      stats.rows_total, stats.shards);
        } else {
            cli_error("interrupted: no output written (%s)", a->output);
        }
    } else {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
    }
done:
    free(template_text);
    free(job_json);
    free(owned_prompt);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    return st;
}

int cli_embed(int argc, char **argv) {
    embed_args a = {.input = "-", .dtype = "float32", .text_field = "text", .device = "auto", .normalize = -1,
                    .truncate = 1, .exclude_prompt = -1};
    const cli_option options[] = {
        {"model", CLI_STRING, &a.model, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"input", CLI_STRING, &a.input, 0, 0, "FILE|-", "input lines (default - = stdin)"},
        {"output", CLI_STRING, &a.output, 0, 0, "FILE", "output .npy/.safetensors/.jsonl (required)"},
        {"format", CLI_STRING, &a.format, 0, 0, "F", "npy, safetensors or jsonl (default: from the extension)"},
        {"dtype", CLI_STRING, &a.dtype, 0, 0, "T", "float32 (default), float16, int8 or ubinary"},
        {"pooling", CLI_STRING, &a.pooling, 0, 0, "P", "last, mean, first, weighted-mean or latent (NV-Embed)"},
        {"family", CLI_STRING, &a.family, 0, 0, "NAME", "embedder convention instead of the detected one (llmbed info)"},
        {"adapter", CLI_STRING_LIST, &a.adapters, 0, 0, "DIR", "PEFT LoRA adapter merged at load (repeatable, in order)"},
        {"mask-prefix-tokens", CLI_INT, &a.mask_prefix_tokens, 0, 0, "N", "drop the first N tokens of each input from the pool"},
        {"attention", CLI_STRING, &a.attention, 0, 0, "A", "causal or bidirectional"},
        {"normalize", CLI_FLAG, &a.normalize, 1, 0, NULL, "L2-normalise each row"},
        {"no-normalize", CLI_FLAG, &a.normalize, 0, 0, NULL, "keep raw pooled rows"},
        {"dims", CLI_INT, &a.dims, 0, 0, "N", "Matryoshka: keep the first N values, then re-normalise"},
        {"layer", CLI_INT, &a.layer, 0, 0, "K", "early exit after K decoder layers (0 = all)"},
        {"threads", CLI_INT, &a.threads, 0, 0, "N", "CPU threads (0 = all cores)"},
        {"device", CLI_STRING, &a.device, 0, 0, "D", CLI_DEVICE_HELP},
        {"text-field", CLI_STRING, &a.text_field, 0, 0, "NAME", "JSONL field holding the text (default text)"},
        {"id-field", CLI_STRING, &a.id_field, 0, 0, "NAME", "JSONL field copied as \"id\" into .jsonl output"},
        {"prompt", CLI_STRING, &a.prompt, 0, 0, "TEXT", "prepended to every text input"},
        {"prompt-name", CLI_STRING, &a.prompt_name, 0, 0, "NAME", "prompt from config_sentence_transformers.json"},
        {"exclude-prompt", CLI_FLAG, &a.exclude_prompt, 1, 0, NULL,
         "leave prompt tokens out of the pool (default: 1_Pooling include_prompt)"},
        {"include-prompt", CLI_FLAG, &a.exclude_prompt, 0, 0, NULL, "pool over the prompt tokens too"},
        {"max-tokens", CLI_INT, &a.max_tokens, 0, 0, "N", "longest input in tokens (default: the model's limit)"},
        {"truncate", CLI_FLAG, &a.truncate, 1, 0, NULL, "cut longer inputs and count them (default)"},
        {"no-truncate", CLI_FLAG, &a.truncate, 0, 0, NULL, "fail on a longer input, naming its line"},
        {"batch-tokens", CLI_INT, &a.batch_tokens, 0, 1, "N", "tokens per forward (default: from model size and free memory)"},
        {"chunk-tokens", CLI_INT, &a.chunk_tokens, 0, 1, "C",
         "process inputs longer than C tokens in chunks of C over a key/value cache (causal; default: --batch-tokens)"},
        {"think-ratio", CLI_DOUBLE, &a.think_ratio, 0, 0, "X",
         "ThinK: prune this fraction of key channels from cached keys older than 32 positions, [0, 1) (0 = off)"},
        {"rope-scaling", CLI_STRING, &a.rope_scaling, 0, 0, "T:F",
         "RoPE scaling instead of the config's: none, linear:F, dynamic:F, yarn:F[:ORIG], llama3:F[:ORIG]"},
        {"weights", CLI_STRING, &a.weights, 0, 0, "W",
         "CPU weights: native (as the file stores them; rows = f32; default), bf16, or f32"},
        {"late-chunking", CLI_STRING, &a.late_chunking, 0, 0, "SPEC",
         "tokens:N or spans: one forward per line, one row per span of N tokens (or per JSONL \"spans\" pair)"},
        {"document", CLI_STRING, &a.document, 0, 0, "FILE",
         "suffix mode: encode FILE once (causal, chunked), then embed each input as its continuation"},
        {"memory-limit", CLI_INT, &a.memory_limit_mib, 0, 1, "MiB",
         "activation + key/value cache memory the context may grow to (default: no limit)"},
        {"shard-rows", CLI_INT, &a.shard_rows, 0, 0, "N", "write shards of N rows + a manifest (0 = one file)"},
        {"resume", CLI_FLAG, &a.resume, 1, 0, NULL, "continue a sharded job from its manifest"},
        {"skip-invalid", CLI_FLAG, &a.skip_invalid, 1, 0, NULL, "skip (and count) bad input lines instead of failing"},
        {"quiet", CLI_FLAG, &a.quiet, 1, 0, NULL, "no progress lines (the summary still prints)"},
        {"strict-utf8", CLI_FLAG, &a.strict_utf8, 1, 0, NULL,
         "reject lines with invalid UTF-8 (default: replace by U+FFFD and count)"},
        {"tokenize-threads", CLI_INT, &a.tokenize_threads, 0, 0, "N", "tokenizer threads (default 1)"},
        {"window-lines", CLI_INT, &a.window_lines, 0, 0, "N", "lines read ahead per window (default 4096)"},
        CLI_METHOD_OPTION_ROWS(a.method),
    };
    int parsed = cli_parse("embed", embed_usage, argc, argv, 2, options, (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (a.model == NULL || a.output == NULL) {
        cli_error("llmbed embed: --model PATH and --output FILE are required (see llmbed embed --help)");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return run(&a);
}
