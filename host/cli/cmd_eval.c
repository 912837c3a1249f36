/* llmbed eval sts: Spearman and Pearson correlation (x100) between gold
 * similarity scores and the cosine of the two sentences' embeddings, per
 * file and as the macro mean over files, for any method flags. Every
 * distinct sentence is embedded once. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/method_args.h"
#include "cli/options.h"
#include "eval/correlation.h"
#include "eval/sts_file.h"
#include "eval/text_set.h"

static const char *const eval_usage =
    "usage: llmbed eval sts --model PATH --data FILE.tsv[,FILE2.tsv...] [method flags] [--output FILE.json]\n"
    "       llmbed eval passkey --model PATH --filler FILE.tsv ... (long-context retrieval: eval passkey --help)\n"
    "       llmbed eval needle --model PATH --filler FILE.tsv --needles FILE.tsv ... (eval needle --help)\n"
    "\n"
    "Each data line is score<TAB>sentence1<TAB>sentence2 (../shared/testdata/sts holds SICK 2014 and\n"
    "STS 2012-2016 in this form). Every distinct sentence is embedded once; each pair's cosine is\n"
    "compared with the gold scores by Spearman's rho (ties get average ranks) and Pearson's r, x100,\n"
    "per file and as their macro mean. Prints a table; --output also writes it as JSON:\n"
    "{\"model\", \"method\": {...}, \"files\": {\"<stem>\": {\"spearman\", \"pearson\", \"pairs\"}},\n"
    " \"macro_mean\": {\"spearman\", \"pearson\"}}. Method flags as in llmbed embed --help.";

typedef struct eval_args {
    const char *model, *data, *output, *attention, *device, *pooling;
    int quiet;
    int64_t layer, threads, batch_tokens, max_tokens;
    cli_string_list adapters;
    cli_method_args method;
} eval_args;

typedef struct file_score {
    double spearman, pearson;
} file_score;

/* The rows of the pipeline's row callback into rows[n, dims] (float32), with progress. */
typedef struct row_target {
    float *rows;
    size_t total, done;
    int quiet;
    int last_tenth;
} row_target;

static llmbed_status take_rows(void *user, const llmbed_row_batch *batch) {
    row_target *t = user;
    const float *rows = batch->rows;
    for (int r = 0; r < batch->n_rows; r++)
        memcpy(t->rows + (size_t)batch->inputs[r] * (size_t)batch->dims, rows + (size_t)r * (size_t)batch->dims,
               sizeof(float) * (size_t)batch->dims);
    t->done += (size_t)batch->n_rows;
    const int tenth = (int)(10 * t->done / (t->total ? t->total : 1));
    if (!t->quiet && tenth != t->last_tenth)
        fprintf(stderr, "llmbed eval sts: %zu/%zu sentences embedded\n", t->done, t->total);
    t->last_tenth = tenth;
    return LLMBED_OK;
}

static void free_files(llmbed_sts_file *files, int n) {
    for (int i = 0; i < n; i++) llmbed_sts_file_free(&files[i]);
    free(files);
}

/* Splits --data on commas and reads every file. */
static llmbed_status read_files(const char *list, llmbed_sts_file **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    char *copy = strdup(list);
    if (copy == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    int cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    llmbed_sts_file *files = calloc((size_t)cap, sizeof *files);
    llmbed_status st = files ? LLMBED_OK : LLMBED_ERR_OUT_OF_MEMORY;
    int n = 0;
    char *save = NULL;
    for (char *path = strtok_r(copy, ",", &save); path && st == LLMBED_OK; path = strtok_r(NULL, ",", &save)) {
        llmbed_error error = {0};
        st = llmbed_sts_file_read(path, &files[n], &error);
        if (st != LLMBED_OK) {
            cli_error("%s", error.message);
            break;
        }
        for (int k = 0; k < n; k++) {
            if (strcmp(files[k].stem, files[n].stem) == 0) {
                cli_error("llmbed eval sts: --data names two files with the stem '%s' (%s, %s)", files[n].stem,
                          files[k].path, files[n].path);
                st = LLMBED_ERR_INVALID_ARGUMENT;
            }
        }
        n++;
    }
    free(copy);
    if (st == LLMBED_OK && n == 0) {
        cli_error("llmbed eval sts: --data '%s' names no file", list);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (st != LLMBED_OK) {
        free_files(files, n);
        return st;
    }
    *out = files;
    *n_out = n;
    return LLMBED_OK;
}

static double cosine(const float *a, const float *b, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < d; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

static void add_number(cJSON *obj, const char *name, double v) {
    if (isfinite(v)) {
        cJSON_AddNumberToObject(obj, name, v);
    } else {
        cJSON_AddNullToObject(obj, name);
    }
}

static llmbed_status write_json(const eval_args *a, const cli_method *m, const llmbed_embed_params *params,
                                const llmbed_sts_file *files, const file_score *scores, int n_files,
                                file_score macro) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", a->model);
    cJSON *adapters = cJSON_AddArrayToObject(root, "adapters");
    for (int i = 0; i < a->adapters.n; i++) cJSON_AddItemToArray(adapters, cJSON_CreateString(a->adapters.items[i]));
    cJSON *method = cJSON_AddObjectToObject(root, "method");
    if (m->name) {
        cJSON_AddStringToObject(method, "name", m->name);
    } else {
        cJSON_AddNullToObject(method, "name");
    }
    if (m->template_text) {
        cJSON_AddStringToObject(method, "template", m->template_text);
    } else {
        cJSON_AddNullToObject(method, "template");
    }
    cJSON_AddStringToObject(method, "pool_span", cli_pool_span_name(m->pool_span));
    cJSON_AddStringToObject(method, "pooling", cli_pooling_name(params->pooling));
    cJSON_AddStringToObject(method, "attention", cli_attention_name(params->attention));
    cJSON_AddNumberToObject(method, "attention_temperature", params->attention_temperature);
    cJSON_AddNumberToObject(method, "layer", params->layer);
    cJSON *by_file = cJSON_AddObjectToObject(root, "files");
    for (int i = 0; i < n_files; i++) {
        cJSON *f = cJSON_AddObjectToObject(by_file, files[i].stem);
        add_number(f, "spearman", scores[i].spearman);
        add_number(f, "pearson", scores[i].pearson);
        cJSON_AddNumberToObject(f, "pairs", (double)files[i].n_pairs);
    }
    cJSON *mean = cJSON_AddObjectToObject(root, "macro_mean");
    add_number(mean, "spearman", macro.spearman);
    add_number(mean, "pearson", macro.pearson);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    const llmbed_status st = cli_write_text_file(a->output, text);
    free(text);
    return st;
}

static void print_table(const eval_args *a, const cli_method *m, const llmbed_embed_params *params,
                        const llmbed_sts_file *files, const file_score *scores, int n_files, file_score macro,
                        size_t n_sentences) {
    printf("model:  %s\n", a->model);
    char layer[32];
    snprintf(layer, sizeof layer, params->layer ? "%d" : "all", params->layer);
    printf("method: %s (template %s%s%s, span %s, pooling %s, attention %s, temperature %g, layers %s)\n",
           m->name ? m->name : "custom", m->template_text ? "'" : "", m->template_text ? m->template_text : "none",
           m->template_text ? "'" : "", cli_pool_span_name(m->pool_span), cli_pooling_name(params->pooling),
           cli_attention_name(params->attention), (double)params->attention_temperature, layer);
    printf("%zu distinct sentences\n\n", n_sentences);
    printf("%-32s %7s %9s %9s\n", "file", "pairs", "spearman", "pearson");
    for (int i = 0; i < n_files; i++)
        printf("%-32s %7zu %9.2f %9.2f\n", files[i].stem, files[i].n_pairs, scores[i].spearman, scores[i].pearson);
    printf("%-32s %7s %9.2f %9.2f\n", "macro mean", "", macro.spearman, macro.pearson);
}

static int run_sts(eval_args *a) {
    cli_method m;
    a->method.pooling = a->pooling;
    if (cli_resolve_method("eval sts", &a->method, &m) != LLMBED_OK) return LLMBED_ERR_INVALID_ARGUMENT;
    /* The sentences go through the pipeline exactly as `llmbed embed` lines
     * with the same flags would (one spec, one path), so the scores are
     * those of `llmbed embed` rows. */
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    cli_method_params(&a->method, &m, &params, &text);
    params.layer = (int)a->layer;
    text.max_tokens = a->max_tokens;
    if (a->attention != NULL && cli_parse_attention(a->attention, &params.attention) != 0) {
        cli_error("llmbed eval sts: --attention '%s': expected causal or bidirectional", a->attention);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_ctx_params ctx_params;
    llmbed_ctx_params_default(&ctx_params);
    if (cli_parse_device(a->device, &ctx_params) != 0) {
        cli_error("llmbed eval sts: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_sts_file *files = NULL;
    int n_files = 0;
    llmbed_status st = read_files(a->data, &files, &n_files);
    if (st != LLMBED_OK) return st;

    llmbed_text_set set = {0};
    size_t n_pairs = 0;
    for (int i = 0; i < n_files; i++) n_pairs += files[i].n_pairs;
    size_t *first = malloc((n_pairs ? n_pairs : 1) * sizeof *first), *second = malloc((n_pairs ? n_pairs : 1) * sizeof *second);
    size_t *lengths = NULL;
    float *rows = NULL;
    double *cos = NULL;
    file_score *scores = calloc((size_t)n_files, sizeof *scores);
    llmbed_model *model = NULL;
    llmbed_ctx *ctx = NULL;
    if (first == NULL || second == NULL || scores == NULL) {
        st = LLMBED_ERR_OUT_OF_MEMORY;
        cli_error("llmbed eval sts: out of memory");
        goto done;
    }
    for (int i = 0, k = 0; i < n_files; i++) {
        for (size_t j = 0; j < files[i].n_pairs; j++, k++) {
            first[k] = llmbed_text_set_add(&set, files[i].first[j]);
            second[k] = llmbed_text_set_add(&set, files[i].second[j]);
            if (first[k] == (size_t)-1 || second[k] == (size_t)-1) {
                st = LLMBED_ERR_OUT_OF_MEMORY;
                cli_error("llmbed eval sts: out of memory");
                goto done;
            }
        }
    }
    llmbed_model_params model_params;
    llmbed_model_params_default(&model_params);
    model_params.n_threads = (int)a->threads;
    model_params.adapters = a->adapters.items;
    model_params.n_adapters = a->adapters.n;
    st = cli_load_model_with(a->model, &model_params, &model);
    if (st != LLMBED_OK) goto done;
    llmbed_model_info info = {.struct_size = sizeof info};
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
    ctx_params.n_threads = (int)a->threads;
    ctx_params.batch_tokens = a->batch_tokens; /* 0: the library's default, as llmbed embed */
    llmbed_error error = {0};
    st = llmbed_ctx_create(model, &ctx_params, &ctx, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
        goto done;
    }
    cli_note_device(ctx);
    llmbed_embed_params resolved;
    int dims = 0;
    st = llmbed_embed_params_resolve(model, &params, &resolved, &dims, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed eval sts: %s", error.message);
        goto done;
    }
    rows = malloc(set.n * (size_t)dims * sizeof *rows);
    cos = malloc((n_pairs ? n_pairs : 1) * sizeof *cos);
    lengths = malloc((set.n ? set.n : 1) * sizeof *lengths);
    if (rows == NULL || cos == NULL || lengths == NULL || set.n > INT32_MAX) {
        st = LLMBED_ERR_OUT_OF_MEMORY;
        cli_error("llmbed eval sts: out of memory for %zu embeddings", set.n);
        goto done;
    }
    for (size_t i = 0; i < set.n; i++) lengths[i] = strlen(set.texts[i]);
    row_target target = {rows, set.n, 0, a->quiet, -1};
    text.on_rows = take_rows;
    text.user = &target;
    st = llmbed_embed_texts(ctx, (const char *const *)set.texts, lengths, (int)set.n, &text, &params, NULL, 0, NULL,
                            NULL);
    if (st != LLMBED_OK) {
        cli_error("llmbed eval sts: %s", llmbed_last_error(ctx));
        goto done;
    }
    params = resolved;
    file_score macro = {0, 0};
    for (int i = 0, k = 0; i < n_files; i++) {
        const size_t n = files[i].n_pairs;
        for (size_t j = 0; j < n; j++)
            cos[k + (int)j] = cosine(rows + first[k + j] * (size_t)dims, rows + second[k + j] * (size_t)dims, dims);
        scores[i].spearman = 100 * llmbed_spearman(files[i].gold, cos + k, n);
        scores[i].pearson = 100 * llmbed_pearson(files[i].gold, cos + k, n);
        if (scores[i].spearman < -100) {
            st = LLMBED_ERR_OUT_OF_MEMORY;
            cli_error("llmbed eval sts: out of memory ranking %zu pairs", n);
            goto done;
        }
        macro.spearman += scores[i].spearman / n_files;
        macro.pearson += scores[i].pearson / n_files;
        k += (int)n;
    }
    print_table(a, &m, &params, files, scores, n_files, macro, set.n);
    if (a->output != NULL) st = write_json(a, &m, &params, files, scores, n_files, macro);
done:
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    free(lengths);
    free(rows);
    free(cos);
    free(first);
    free(second);
    free(scores);
    llmbed_text_set_free(&set);
    free_files(files, n_files);
    return st;
}

int cli_eval(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
        FILE *to = argc < 3 ? stderr : stdout;
        fprintf(to, "%s\n", eval_usage);
        return argc < 3 ? LLMBED_ERR_INVALID_ARGUMENT : 0;
    }
    if (strcmp(argv[2], "passkey") == 0) return cli_eval_passkey(argc, argv);
    if (strcmp(argv[2], "needle") == 0) return cli_eval_needle(argc, argv);
    if (strcmp(argv[2], "sts") != 0) {
        cli_error("llmbed eval: unknown evaluation '%s' (known: sts, passkey, needle)", argv[2]);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    eval_args a = {.device = "auto"};
    const cli_option options[] = {
        {"model", CLI_STRING, &a.model, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"data", CLI_STRING, &a.data, 0, 0, "FILES", "comma-separated score<TAB>s1<TAB>s2 files (required)"},
        {"output", CLI_STRING, &a.output, 0, 0, "FILE", "also write the results as JSON"},
        {"adapter", CLI_STRING_LIST, &a.adapters, 0, 0, "DIR", "PEFT LoRA adapter merged at load (repeatable, in order)"},
        {"pooling", CLI_STRING, &a.pooling, 0, 0, "P", "last, mean, first or weighted-mean"},
        {"attention", CLI_STRING, &a.attention, 0, 0, "A", "causal or bidirectional"},
        {"layer", CLI_INT, &a.layer, 0, 0, "K", "early exit after K decoder layers (0 = all)"},
        {"max-tokens", CLI_INT, &a.max_tokens, 0, 0, "N", "cut longer inputs (default: the model's limit)"},
        {"batch-tokens", CLI_INT, &a.batch_tokens, 0, 1, "N", "tokens per forward (default: as llmbed embed)"},
        {"threads", CLI_INT, &a.threads, 0, 0, "N", "CPU threads (0 = all cores)"},
        {"device", CLI_STRING, &a.device, 0, 0, "D", CLI_DEVICE_HELP},
        {"quiet", CLI_FLAG, &a.quiet, 1, 0, NULL, "no progress lines"},
        CLI_METHOD_OPTION_ROWS(a.method),
    };
    int parsed = cli_parse("eval sts", eval_usage, argc, argv, 3, options, (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (a.model == NULL || a.data == NULL) {
        cli_error("llmbed eval sts: --model PATH and --data FILE.tsv are required (see llmbed eval sts --help)");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return run_sts(&a);
}
