/* llmbed embed: flags -> params, then the batch job of the pipeline through
 * llmbed_embed_file (host/api/file_api.c), the same job the C API runs. */
/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/method_args.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "common/mmap_file.h"
#include "io/output_format.h"

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
    "Data parallel: --device cuda:0,2,3 or cuda:all runs one engine per GPU (weights on each),\n"
    "--replicas N on the CPU runs N engines over disjoint shares of --threads; each takes the next\n"
    "batch when free, and the rows are the same, in input order, as with one engine.\n"
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
    int64_t chunk_tokens, memory_limit_mib, mask_prefix_tokens, replicas;
    double think_ratio;
    cli_method_args method;
    cli_string_list adapters;
} embed_args;

static int fail(llmbed_status st, const char *fmt, const char *value) {
    cli_error(fmt, value);
    return st;
}

static void print_summary(const embed_args *a, const llmbed_file_stats *s, int dims, llmbed_precision dtype) {
    double rate = s->seconds > 0 ? (double)s->tokens / s->seconds : 0;
    double seq_rate = s->seconds > 0 ? (double)s->sequences / s->seconds : 0;
    char where[512];
    if (a->shard_rows > 0) {
        snprintf(where, sizeof where, "%" PRId64 " rows in %" PRId64 " shards + manifest for %s", s->rows_total,
                 s->shards, a->output);
    } else {
        snprintf(where, sizeof where, "%s [%" PRId64 " x %d %s]", a->output, s->rows_total, dims,
                 llmbed_precision_name(dtype));
    }
    fprintf(stderr,
            "llmbed: summary: %" PRId64 " sequences, %" PRId64 " tokens, %" PRId64 " truncated, %" PRId64
            " skipped, %" PRId64 " with invalid UTF-8 (replaced by U+FFFD)%s in %.2f s (%.0f tokens/s, %.1f "
            "sequences/s), peak RSS %.1f MiB; wrote %s\n",
            s->sequences, s->tokens, s->truncated, s->skipped, s->invalid_utf8,
            s->resumed_rows > 0 ? " (resumed)" : "", s->seconds,
            rate, seq_rate, (double)cli_peak_rss_bytes() / (1024.0 * 1024.0), where);
}

/* "tokens:N" (N >= 1) -> N; "spans" -> -1 (each JSONL line's "spans"); 0 when neither. */
static int parse_late_chunking(const char *spec) {
    if (strcmp(spec, "spans") == 0) return -1;
    if (strncmp(spec, "tokens:", 7) != 0) return 0;
    char *end = NULL;
    const long n = strtol(spec + 7, &end, 10);
    return end == spec + 7 || *end != '\0' || n < 1 || n > INT32_MAX ? 0 : (int)n;
}

/* --late-chunking: the flags it cannot honour, then its spec. */
static llmbed_status check_late_chunking(const embed_args *a, int templated, int *late_chunking) {
    const char *conflict = a->shard_rows > 0 ? "--shard-rows" : a->resume ? "--resume" : a->document ? "--document"
                           : a->skip_invalid ? "--skip-invalid" : (a->prompt || a->prompt_name) ? "--prompt"
                           : templated ? "--template/--method" : a->mask_prefix_tokens > 0 ? "--mask-prefix-tokens"
                           : NULL;
    if (conflict != NULL) {
        cli_error("--late-chunking: cannot be combined with %s (spans are token positions of the input as given)",
                  conflict);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    *late_chunking = parse_late_chunking(a->late_chunking);
    if (*late_chunking == 0) {
        cli_error("--late-chunking '%s': expected tokens:N (spans of N tokens, N >= 1) or spans (each JSONL line's "
                  "\"spans\")",
                  a->late_chunking);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return LLMBED_OK;
}

/* "<output without its extension>.rows.jsonl": where late chunking's row index goes. */
static void row_index_path(const char *output, char *out, size_t cap) {
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    const size_t stem = dot != NULL && (slash == NULL || dot > slash) ? (size_t)(dot - output) : strlen(output);
    snprintf(out, cap, "%.*s.rows.jsonl", (int)stem, output);
}

/* The flags of the model and its context, checked against the model once it is loaded. */
static llmbed_status check_against_model(const embed_args *a, const llmbed_model_info *info,
                                         const llmbed_embed_params *params) {
    if (a->layer > info->n_layers) {
        cli_error("--layer %" PRId64 ": the model %s has %d layers (0 = all)", a->layer, a->model, info->n_layers);
        return LLMBED_ERR_LAYER_OUT_OF_RANGE;
    }
    if (a->dims > info->hidden_size) {
        cli_error("--dims %" PRId64 ": more than the model's hidden size %d", a->dims, info->hidden_size);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (!(a->think_ratio >= 0.0 && a->think_ratio < 1.0)) {
        cli_error("--think-ratio %g: expected a fraction in [0, 1) (0 = off)", a->think_ratio);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (params->pooling == LLMBED_POOLING_LATENT && !info->has_latent_pooling) {
        cli_error("--pooling latent: %s has no latent pooling block (NV-Embed's latent_attention_model.* weights)",
                  a->model);
        return LLMBED_ERR_UNSUPPORTED;
    }
    const llmbed_attention attention =
        params->attention != LLMBED_ATTENTION_DEFAULT ? params->attention : info->default_attention;
    if (attention == LLMBED_ATTENTION_BIDIRECTIONAL && (a->chunk_tokens > 0 || a->think_ratio > 0 || a->document)) {
        cli_error("%s: chunked prefill needs causal attention (bidirectional attention has no reusable cache)",
                  a->document != NULL ? "--document" : a->chunk_tokens > 0 ? "--chunk-tokens" : "--think-ratio");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (a->max_tokens > info->max_positions) {
        /* RoPE positions past the trained range give embeddings nobody validated. */
        fprintf(stderr,
                "llmbed: warning: --max-tokens %" PRId64 " is more than the model's max_position_embeddings %d; "
                "inputs longer than %d tokens run at positions it was not trained on\n",
                a->max_tokens, info->max_positions, info->max_positions);
    }
    return LLMBED_OK;
}

/* The --document file's bytes (suffix mode), mapped for the job. */
static llmbed_status map_document(const char *path, llmbed_mapped_file *file) {
    llmbed_error error = {0};
    llmbed_status st = llmbed_map_file(path, file, &error);
    if (st != LLMBED_OK) {
        cli_error("--document: %s", error.message);
        return st;
    }
    if (file->size == 0) {
        cli_error("--document %s: the file is empty (suffix mode needs a document to continue)", path);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return LLMBED_OK;
}

static void report(const embed_args *a, llmbed_status st, const llmbed_file_stats *stats, int dims,
                   llmbed_precision dtype, int late_chunking, const char *message) {
    if (st == LLMBED_OK && a->document != NULL && !a->quiet)
        fprintf(stderr, "llmbed: suffix mode: %s cached (%" PRId64 " tokens); every input continued it\n", a->document,
                stats->document_tokens);
    if (st == LLMBED_OK && stats->already_complete) {
        fprintf(stderr, "llmbed: %s is already complete (%" PRId64 " rows in %" PRId64 " shards); nothing to do\n",
                a->output, stats->rows_total, stats->shards);
    } else if (st == LLMBED_OK && late_chunking != 0) {
        char index[4096];
        row_index_path(a->output, index, sizeof index);
        fprintf(stderr,
                "llmbed: late chunking: %" PRId64 " lines, %" PRId64 " tokens -> %" PRId64 " rows in %.2f s; wrote %s "
                "[%" PRId64 " x %d %s] and its row index %s\n",
                stats->sequences, stats->tokens, stats->rows_total, stats->seconds, a->output, stats->rows_total, dims,
                llmbed_precision_name(dtype), index);
    } else if (st == LLMBED_OK) {
        print_summary(a, stats, dims, dtype);
    } else if (st == LLMBED_ERR_INTERRUPTED) {
        if (a->shard_rows > 0) {
            cli_error("interrupted: %" PRId64 " rows committed in %" PRId64 " shards (continue with --resume)",
                      stats->rows_total, stats->shards);
        } else {
            cli_error("interrupted: no output written (%s)", a->output);
        }
    } else {
        cli_error("%s", message[0] ? message : llmbed_status_str(st));
    }
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
    /* Flags -> params; the job spec (host/pipeline/spec.h) decides the rest. */
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    llmbed_file_params file;
    llmbed_file_params_default(&file);
    llmbed_text_params *text = &file.text;
    cli_method method;
    a->method.pooling = a->pooling;
    if (cli_resolve_method("embed", &a->method, &method) != LLMBED_OK) return LLMBED_ERR_INVALID_ARGUMENT;
    if (a->late_chunking != NULL && check_late_chunking(a, method.templated, &text->late_chunking) != LLMBED_OK)
        return LLMBED_ERR_INVALID_ARGUMENT;
    cli_method_params(&a->method, &method, &params, text);
    if (a->attention != NULL && cli_parse_attention(a->attention, &params.attention) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --attention '%s': expected causal or bidirectional",
                    a->attention);
    }
    llmbed_ctx_params ctx_params;
    llmbed_ctx_params_default(&ctx_params);
    if (cli_parse_device(a->device, &ctx_params) != 0) {
        return fail(LLMBED_ERR_INVALID_ARGUMENT, "llmbed embed: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
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
    char *owned_prompt = NULL;
    llmbed_mapped_file document = {0};
    st = llmbed_model_get_info(model, &info);
    if (st != LLMBED_OK) {
        cli_error("%s: cannot read the model info", a->model);
        goto done;
    }
    params.normalize = a->normalize;
    params.dims = (int)a->dims;
    params.layer = (int)a->layer;
    params.chunk_tokens = (int)a->chunk_tokens;
    params.think_ratio = (float)a->think_ratio;
    params.mask_prefix_tokens = (int)a->mask_prefix_tokens;
    st = check_against_model(a, &info, &params);
    if (st == LLMBED_OK) st = cli_resolve_prompt(a->model, a->prompt, a->prompt_name, &owned_prompt, &text->prompt);
    if (st == LLMBED_OK && a->document != NULL) st = map_document(a->document, &document);
    if (st != LLMBED_OK) goto done;
    text->exclude_prompt = a->exclude_prompt;
    text->max_tokens = a->max_tokens;
    text->truncate = a->truncate;
    text->precision = (llmbed_precision)dtype;
    text->document = (const char *)document.data;
    text->document_len = document.size;
    ctx_params.n_threads = (int)a->threads;
    ctx_params.replicas = (int)a->replicas;
    ctx_params.batch_tokens = a->batch_tokens; /* 0: the library's default */
    ctx_params.memory_limit_bytes = a->memory_limit_mib * 1024 * 1024;
    const int64_t budget = a->batch_tokens > 0 ? a->batch_tokens : llmbed_suggested_batch_tokens(model);
    const int64_t max_tokens = a->max_tokens > 0 ? a->max_tokens : info.max_positions;
    const llmbed_attention attention =
        params.attention != LLMBED_ATTENTION_DEFAULT ? params.attention : info.default_attention;
    if (attention != LLMBED_ATTENTION_BIDIRECTIONAL && params.chunk_tokens == 0 && max_tokens > budget && !a->quiet)
        fprintf(stderr,
                "llmbed: note: inputs longer than --batch-tokens %" PRId64 " are processed in chunks of that many tokens "
                "over a key/value cache (--chunk-tokens sets the size)\n",
                budget);
    llmbed_error error = {0};
    st = llmbed_ctx_create(model, &ctx_params, &ctx, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
        goto done;
    }
    cli_note_device(ctx);
    cli_progress progress;
    cli_progress_init(&progress, a->quiet);
    file.input_path = a->input;
    file.text_field = a->text_field;
    file.id_field = a->id_field;
    file.output_path = a->output;
    file.format = llmbed_output_format_name(format);
    file.skip_invalid = a->skip_invalid;
    file.shard_rows = a->shard_rows;
    file.resume = a->resume;
    file.tokenize_threads = (int)a->tokenize_threads;
    file.window_lines = (int)a->window_lines;
    file.stop = (const volatile int *)&stop_requested;
    file.on_progress = cli_progress_update;
    file.on_skip = cli_progress_skip;
    file.user = &progress;
    file.strict_utf8 = a->strict_utf8;
    llmbed_file_stats stats;
    st = llmbed_embed_file(ctx, &file, &params, &stats);
    cli_progress_close(&progress);
    report(a, st, &stats, llmbed_embed_dims(model, &params), text->precision, text->late_chunking,
           llmbed_last_error(ctx));
done:
    llmbed_unmap_file(&document);
    free(owned_prompt);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    return st;
}

int cli_embed(int argc, char **argv) {
    embed_args a = {.input = "-", .dtype = "float32", .text_field = "text", .device = "auto", .normalize = -1,
                    .truncate = 1, .exclude_prompt = -1, .replicas = 1};
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
        {"replicas", CLI_INT, &a.replicas, 0, 1, "N", CLI_REPLICAS_HELP},
        {"text-field", CLI_STRING, &a.text_field, 0, 0, "NAME", "JSONL field holding the text (default text)"},
        {"id-field", CLI_STRING, &a.id_field, 0, 0, "NAME", "JSONL field copied as \"id\" into .jsonl output"},
        {"prompt", CLI_STRING, &a.prompt, 0, 0, "TEXT", "prepended to every text input"},
        {"prompt-name", CLI_STRING, &a.prompt_name, 0, 0, "NAME", "prompt from config_sentence_transformers.json"},
        {"exclude-prompt", CLI_FLAG, &a.exclude_prompt, 1, 0, NULL,
         "leave prompt tokens out of the pool (default: the family's rule, else 1_Pooling include_prompt)"},
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
