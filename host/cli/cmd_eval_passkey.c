/* llmbed eval passkey: top-1 retrieval accuracy on a synthetic passkey set
 * (eval/passkey.h) per document length, ThinK ratio and chunk size, with the
 * pooled cosine of every document against ratio 0 and the key/value bytes
 * ThinK saves (issue 10 item 7). Queries are short (one chunk): they are
 * embedded once; ratio 0 is chunk-independent (chunked == single pass), so it
 * runs once per length. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval_needle.h"
#include "cli/options.h"
#include "eval/needle.h"
#include "eval/passkey.h"
#include "eval/sts_file.h"
#include "eval/text_set.h"

enum { MAX_LIST = 16 };

static const char *const passkey_usage =
    "usage: llmbed eval passkey --model PATH --filler FILE.tsv[,FILE2.tsv...] [--lengths 256,512,...]\n"
    "                           [--documents N] [--think-ratios 0,0.25,...] [--chunk-tokens 512,...]\n"
    "                           [--seed S] [--output FILE.json] [--dump FILE.jsonl]\n"
    "\n"
    "LongEmbed-style passkey retrieval, generated offline and deterministically: per length, N\n"
    "documents of filler sentences (drawn by --seed from the sentences of the STS files given to\n"
    "--filler, e.g. ../shared/testdata/sts/*.tsv) with one needle 'The pass key of {name} is {key}.\n"
    "Remember it. {key} is the pass key of {name}.' at a random depth; query i is 'What is the pass\n"
    "key of {name}?'. Accuracy = the fraction of queries whose most similar document (cosine) is\n"
    "their own. Documents run causal, in chunks of --chunk-tokens over the key/value cache with\n"
    "ThinK per ratio (a document shorter than one chunk is not pruned); the pooling is the model's.\n"
    "Prints a table; --output writes it as JSON, --dump the generated sets as JSONL.";

static const char *const needle_usage =
    "usage: llmbed eval needle --model PATH --filler FILE.tsv[,...] --needles FILE.tsv[,...]\n"
    "                          [--adapter DIR] [--lengths 256,512,...] [--documents N]\n"
    "                          [--think-ratios 0,0.25,...] [--chunk-tokens 512,2048] [--seed S]\n"
    "                          [--output FILE.json] [--dump FILE.jsonl]\n"
    "\n"
    "Needle retrieval with natural sentences (LongEmbed's needle task, generated offline and\n"
    "deterministically): per length, N documents of filler sentences (drawn by --seed from the --filler\n"
    "files, minus every sentence of the --needles files) each hiding sentence 1 of a distinct gold-5\n"
    "pair of the --needles files at a random depth; query i is that pair's sentence 2 (a paraphrase).\n"
    "Top-1 accuracy and nDCG@10 over all documents of one length. Documents run causal, in chunks of\n"
    "--chunk-tokens over the key/value cache with ThinK per ratio; the pooling is the model's (or the\n"
    "adapter's). Prints a table; --output writes it as JSON, --dump the generated sets as JSONL.";

typedef struct passkey_args {
    const char *model, *filler, *lengths, *ratios, *chunks, *output, *dump, *device, *pooling, *needles;
    int quiet, needle; /* needle: `eval needle` (natural needles of --needles) instead of pass keys */
    int64_t documents, seed, threads;
    cli_string_list adapters;
} passkey_args;

typedef struct run_result {
    int length, chunk;
    float ratio;
    double accuracy, ndcg10, mean_cosine, min_cosine, seconds, tokens_per_second;
    int64_t kv_bytes, kv_bytes_full;
    double mean_tokens;
} run_result;

static int parse_list(const char *text, double *values, int max, double lo, double hi) {
    int n = 0;
    for (const char *p = text; *p != '\0';) {
        char *end = NULL;
        const double v = strtod(p, &end);
        if (n == max || end == p || !(v >= lo && v < hi) || (*end != ',' && *end != '\0')) return -1;
        values[n++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* The distinct sentences of the --filler files (both columns). */
static llmbed_status read_pool(const char *list, llmbed_sts_file **files, int *n_files, llmbed_text_set *pool) {
    char *copy = strdup(list);
    int cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    *files = calloc((size_t)cap, sizeof **files);
    *n_files = 0;
    if (copy == NULL || *files == NULL) {
        free(copy);
        cli_error("llmbed eval passkey: out of memory");
        return LLMBED_ERR_OUT_OF_MEMORY;
    }
    llmbed_status st = LLMBED_OK;
    char *save = NULL;
    for (char *path = strtok_r(copy, ",", &save); path && st == LLMBED_OK; path = strtok_r(NULL, ",", &save)) {
        llmbed_error error = {0};
        st = llmbed_sts_file_read(path, &(*files)[*n_files], &error);
        if (st != LLMBED_OK) {
            cli_error("--filler: %s", error.message);
            break;
        }
        const llmbed_sts_file *f = &(*files)[(*n_files)++];
        for (size_t j = 0; j < f->n_pairs && st == LLMBED_OK; j++)
            if (llmbed_text_set_add(pool, f->first[j]) == (size_t)-1 || llmbed_text_set_add(pool, f->second[j]) == (size_t)-1)
                st = LLMBED_ERR_OUT_OF_MEMORY;
    }
    free(copy);
    if (st == LLMBED_OK && pool->n == 0) {
        cli_error("llmbed eval passkey: --filler '%s' holds no sentence", list);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    return st;
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Documents and queries through the pipeline, as `llmbed embed` lines
 * (the family's EOS included); documents are never cut. */
static llmbed_status embed(llmbed_ctx *ctx, char *const *texts, int n, const llmbed_embed_params *p, int dims,
                           float *rows) {
    size_t *lengths = malloc(sizeof *lengths * (size_t)(n > 0 ? n : 1));
    if (lengths == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n; i++) lengths[i] = strlen(texts[i]);
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    text.max_tokens = -1;
    const llmbed_status st = llmbed_embed_texts(ctx, (const char *const *)texts, lengths, n, &text, p, rows,
                                                sizeof(float) * (size_t)n * (size_t)dims, NULL, NULL);
    free(lengths);
    if (st != LLMBED_OK) cli_error("llmbed eval passkey: %s", llmbed_last_error(ctx));
    return st;
}

static llmbed_status dump_set(FILE *f, const llmbed_passkey_set *set) {
    for (int i = 0; i < set->n; i++) {
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "length", set->target_tokens);
        cJSON_AddNumberToObject(line, "index", i);
        cJSON_AddNumberToObject(line, "tokens", set->tokens[i]);
        cJSON_AddNumberToObject(line, "depth", set->depth[i]);
        cJSON_AddStringToObject(line, "query", set->queries[i]);
        cJSON_AddStringToObject(line, "document", set->documents[i]);
        char *text = cJSON_PrintUnformatted(line);
        cJSON_Delete(line);
        if (text == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
        fprintf(f, "%s\n", text);
        free(text);
    }
    return LLMBED_OK;
}

static llmbed_status write_results(const passkey_args *a, const run_result *runs, int n_runs) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", a->model);
    cJSON_AddStringToObject(root, "filler", a->filler);
    if (a->needle) cJSON_AddStringToObject(root, "needles", a->needles);
    cJSON *adapters = cJSON_AddArrayToObject(root, "adapters");
    for (int i = 0; i < a->adapters.n; i++) cJSON_AddItemToArray(adapters, cJSON_CreateString(a->adapters.items[i]));
    cJSON_AddNumberToObject(root, "documents_per_length", (double)a->documents);
    cJSON_AddNumberToObject(root, "seed", (double)a->seed);
    cJSON *list = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < n_runs; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "length", runs[i].length);
        cJSON_AddNumberToObject(r, "think_ratio", runs[i].ratio);
        cJSON_AddNumberToObject(r, "chunk_tokens", runs[i].chunk);
        cJSON_AddNumberToObject(r, "accuracy", runs[i].accuracy);
        cJSON_AddNumberToObject(r, "ndcg_at_10", runs[i].ndcg10);
        cJSON_AddNumberToObject(r, "mean_cosine_vs_ratio0", runs[i].mean_cosine);
        cJSON_AddNumberToObject(r, "min_cosine_vs_ratio0", runs[i].min_cosine);
        cJSON_AddNumberToObject(r, "kv_bytes", (double)runs[i].kv_bytes);
        cJSON_AddNumberToObject(r, "kv_bytes_full", (double)runs[i].kv_bytes_full);
        cJSON_AddNumberToObject(r, "mean_document_tokens", runs[i].mean_tokens);
        cJSON_AddNumberToObject(r, "seconds", runs[i].seconds);
        cJSON_AddNumberToObject(r, "tokens_per_second", runs[i].tokens_per_second);
        cJSON_AddItemToArray(list, r);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    const llmbed_status st = cli_write_text_file(a->output, text);
    free(text);
    return st;
}

typedef struct passkey_run {
    const passkey_args *a;
    llmbed_model *model;
    llmbed_ctx *ctx;
    llmbed_embed_params params;
    int dims;
    double lengths[MAX_LIST], ratios[MAX_LIST], chunks[MAX_LIST];
    int n_lengths, n_ratios, n_chunks;
    run_result *runs;
    int n_runs;
} passkey_run;

static void print_row(const run_result *r) {
    printf("%7d %6.2f %6d %9.3f %8.3f %12.6f %12.6f %9.3f %10.0f %8.1f\n", r->length, (double)r->ratio, r->chunk,
           r->accuracy, r->ndcg10, r->mean_cosine, r->min_cosine, r->kv_bytes_full > 0 ? (double)r->kv_bytes / (double)r->kv_bytes_full : 0.0,
           r->tokens_per_second, r->mean_tokens);
    fflush(stdout);
}

/* Every ratio and chunk size for one length's set. */
static llmbed_status run_length(passkey_run *r, const llmbed_passkey_set *set, const float *query_rows) {
    const int n = set->n, dims = r->dims;
    float *rows = malloc(sizeof(float) * (size_t)n * (size_t)dims * 2);
    if (rows == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    float *reference = rows + (size_t)n * dims; /* ratio 0 */
    double tokens = 0;
    for (int i = 0; i < n; i++) tokens += set->tokens[i];
    llmbed_status st = LLMBED_OK;
    int have_reference = 0;
    for (int ri = 0; ri < r->n_ratios && st == LLMBED_OK; ri++) {
        for (int ci = 0; ci < r->n_chunks && st == LLMBED_OK; ci++) {
            const float ratio = (float)r->ratios[ri];
            if (ratio == 0.0f && have_reference && ci > 0) { /* chunk-independent: reuse the first chunk's run */
                run_result copy = r->runs[r->n_runs - 1];
                copy.chunk = (int)r->chunks[ci];
                r->runs[r->n_runs++] = copy;
                print_row(&copy);
                continue;
            }
            llmbed_embed_params p = r->params;
            p.think_ratio = ratio;
            p.chunk_tokens = (int)r->chunks[ci];
            const double start = cli_now();
            st = embed(r->ctx, set->documents, n, &p, dims, ratio == 0.0f ? reference : rows);
            if (st != LLMBED_OK) break;
            const float *got = ratio == 0.0f ? reference : rows;
            if (ratio == 0.0f) have_reference = 1;
            run_result res = {set->target_tokens, (int)r->chunks[ci], ratio, 0, 0, 0, 1, 0, 0, 0, 0, tokens / n};
            res.seconds = cli_now() - start;
            res.tokens_per_second = tokens / res.seconds;
            res.accuracy = llmbed_passkey_accuracy(query_rows, got, n, dims);
            res.ndcg10 = llmbed_needle_ndcg10(query_rows, got, n, dims);
            res.mean_cosine = NAN;
            res.min_cosine = NAN;
            if (have_reference) {
                double sum = 0, worst = 1;
                for (int i = 0; i < n; i++) {
                    const double c = dot(got + (size_t)i * dims, reference + (size_t)i * dims, dims);
                    sum += c;
                    worst = c < worst ? c : worst;
                }
                res.mean_cosine = sum / n;
                res.min_cosine = worst;
            }
            /* the longest document's cache, with and without ThinK */
            int longest = 0;
            for (int i = 0; i < n; i++) longest = set->tokens[i] > longest ? set->tokens[i] : longest;
            res.kv_bytes = llmbed_kv_cache_bytes(r->ctx, longest, p.chunk_tokens, ratio);
            res.kv_bytes_full = llmbed_kv_cache_bytes(r->ctx, longest, p.chunk_tokens, 0.0f);
            r->runs[r->n_runs++] = res;
            print_row(&res);
        }
    }
    free(rows);
    return st;
}

static int run_passkey(const passkey_args *a) {
    passkey_run r = {.a = a};
    r.n_lengths = parse_list(a->lengths, r.lengths, MAX_LIST, 1, 1 << 24);
    r.n_ratios = parse_list(a->ratios, r.ratios, MAX_LIST, 0, 1);
    r.n_chunks = parse_list(a->chunks, r.chunks, MAX_LIST, 1, 1 << 24);
    if (r.n_lengths < 1 || r.n_ratios < 1 || r.n_chunks < 1 || a->documents < 2) {
        cli_error("llmbed eval passkey: %s", r.n_lengths < 1 ? "--lengths: expected token counts >= 1, comma-separated"
                                             : r.n_ratios < 1 ? "--think-ratios: expected fractions in [0, 1), comma-separated"
                                             : r.n_chunks < 1 ? "--chunk-tokens: expected sizes >= 1, comma-separated"
                                                              : "--documents must be at least 2 (retrieval among them)");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    for (int i = 1; i < r.n_ratios; i++) /* ratio 0 first: the reference of the cosines */
        if (r.ratios[i] == 0.0) r.ratios[i] = r.ratios[0], r.ratios[0] = 0.0;
    llmbed_sts_file *files = NULL;
    int n_files = 0;
    llmbed_text_set pool = {0};
    llmbed_passkey_set set = {0};
    float *query_rows = NULL;
    FILE *dump = NULL;
    cli_needle_pairs pairs = {0};
    llmbed_status st = read_pool(a->filler, &files, &n_files, &pool);
    if (st == LLMBED_OK && a->needle) st = cli_needle_pairs_read(a->needles, 5.0, &pool, &pairs);
    if (st == LLMBED_OK && a->needle && pairs.n < (size_t)a->documents) {
        cli_error("llmbed eval needle: --needles '%s' holds %zu distinct gold-5 pairs, fewer than --documents %" PRId64,
                  a->needles, pairs.n, a->documents);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    llmbed_model_params mp;
    llmbed_model_params_default(&mp);
    mp.n_threads = (int)a->threads;
    mp.adapters = a->adapters.items;
    mp.n_adapters = a->adapters.n;
    if (st == LLMBED_OK) st = cli_load_model_with(a->model, &mp, &r.model);
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = (int)a->threads;
    double largest_chunk = 0;
    for (int i = 0; i < r.n_chunks; i++) largest_chunk = r.chunks[i] > largest_chunk ? r.chunks[i] : largest_chunk;
    cp.batch_tokens = (int64_t)largest_chunk;
    llmbed_error error = {0};
    if (st == LLMBED_OK && cli_parse_device(a->device, &cp) != 0) {
        cli_error("llmbed eval passkey: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (st == LLMBED_OK) {
        st = llmbed_ctx_create(r.model, &cp, &r.ctx, &error);
        if (st != LLMBED_OK) cli_error("%s", error.message);
        else cli_note_device(r.ctx);
    }
    llmbed_embed_params_default(&r.params);
    r.params.attention = LLMBED_ATTENTION_CAUSAL;
    r.params.normalize = 1;
    if (st == LLMBED_OK && a->pooling != NULL && cli_parse_pooling(a->pooling, &r.params.pooling) != 0) {
        cli_error("llmbed eval passkey: --pooling '%s': expected last, mean, first or weighted-mean", a->pooling);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    r.dims = st == LLMBED_OK ? llmbed_embed_dims(r.model, &r.params) : 0;
    r.runs = calloc((size_t)(r.n_lengths * r.n_ratios * r.n_chunks), sizeof *r.runs);
    query_rows = malloc(sizeof(float) * (size_t)a->documents * (size_t)(r.dims > 0 ? r.dims : 1));
    if (st == LLMBED_OK && (r.runs == NULL || query_rows == NULL)) st = LLMBED_ERR_OUT_OF_MEMORY;
    if (st == LLMBED_OK && a->dump != NULL && (dump = fopen(a->dump, "w")) == NULL) {
        cli_error("--dump %s: cannot open for writing", a->dump);
        st = LLMBED_ERR_OUTPUT_WRITE;
    }
    if (st == LLMBED_OK) {
        printf("model %s, %" PRId64 " documents per length, %zu filler sentences, seed %" PRId64 "\n", a->model,
               a->documents, a->needle ? pairs.pool_size : pool.n, a->seed);
        printf("%7s %6s %6s %9s %8s %12s %12s %9s %10s %8s\n", "length", "ratio", "chunk", "accuracy", "ndcg@10",
               "mean cos/0",
               "min cos/0", "kv/full", "tokens/s", "tokens");
    }
    for (int li = 0; li < r.n_lengths && st == LLMBED_OK; li++) {
        st = a->needle ? llmbed_needle_generate(r.model, pairs.pool, pairs.pool_size, pairs.needles, pairs.queries,
                                                pairs.n, (int)r.lengths[li], (int)a->documents, (uint64_t)a->seed,
                                                &set, &error)
                       : llmbed_passkey_generate(r.model, pool.texts, pool.n, (int)r.lengths[li], (int)a->documents,
                                                 (uint64_t)a->seed, &set, &error);
        if (st != LLMBED_OK) {
            cli_error("llmbed eval %s: length %g: %s", a->needle ? "needle" : "passkey", r.lengths[li], error.message);
            break;
        }
        if (dump != NULL) st = dump_set(dump, &set);
        llmbed_embed_params q = r.params;
        if (st == LLMBED_OK) st = embed(r.ctx, set.queries, set.n, &q, r.dims, query_rows);
        if (st == LLMBED_OK) st = run_length(&r, &set, query_rows);
        llmbed_passkey_set_free(&set);
        if (!a->quiet) fprintf(stderr, "llmbed eval %s: length %g done\n", a->needle ? "needle" : "passkey", r.lengths[li]);
    }
    if (dump != NULL && fclose(dump) != 0 && st == LLMBED_OK) {
        cli_error("--dump %s: write failed", a->dump);
        st = LLMBED_ERR_OUTPUT_WRITE;
    }
    if (st == LLMBED_OK && a->output != NULL) st = write_results(a, r.runs, r.n_runs);
    free(query_rows);
    free(r.runs);
    llmbed_ctx_free(r.ctx);
    llmbed_model_free(r.model);
    llmbed_text_set_free(&pool);
    cli_needle_pairs_free(&pairs);
    for (int i = 0; i < n_files; i++) llmbed_sts_file_free(&files[i]);
    free(files);
    return st;
}

int cli_eval_long_retrieval(int argc, char **argv, int needle) {
    passkey_args a = {.lengths = "256,512,1024,2048,4096,8192",
                      .ratios = needle ? "0,0.25,0.4,0.5,0.6" : "0,0.25,0.4,0.5",
                      .chunks = needle ? "512,2048" : "512",
                      .device = "auto",
                      .documents = 100,
                      .seed = 1,
                      .needle = needle};
    const char *name = needle ? "eval needle" : "eval passkey";
    const cli_option options[] = {
        {"needles", CLI_STRING, &a.needles, 0, 0, "FILES", "eval needle: STS .tsv files whose gold-5 pairs are the needles"},
        {"adapter", CLI_STRING_LIST, &a.adapters, 0, 0, "DIR", "PEFT LoRA adapter merged at load (repeatable, in order)"},
        {"model", CLI_STRING, &a.model, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"filler", CLI_STRING, &a.filler, 0, 0, "FILES", "comma-separated STS .tsv files: the filler sentences (required)"},
        {"lengths", CLI_STRING, &a.lengths, 0, 0, "LIST", "document lengths in tokens (default 256,...,8192)"},
        {"documents", CLI_INT, &a.documents, 0, 0, "N", "documents (and queries) per length (default 100)"},
        {"think-ratios", CLI_STRING, &a.ratios, 0, 0, "LIST", "ThinK ratios (default 0,0.25,0.4,0.5)"},
        {"chunk-tokens", CLI_STRING, &a.chunks, 0, 0, "LIST", "chunk sizes (default 512)"},
        {"pooling", CLI_STRING, &a.pooling, 0, 0, "P", "pooling (default: the model's)"},
        {"seed", CLI_INT, &a.seed, 0, 0, "S", "seed of the generated sets (default 1)"},
        {"output", CLI_STRING, &a.output, 0, 0, "FILE", "also write the results as JSON"},
        {"dump", CLI_STRING, &a.dump, 0, 0, "FILE", "write the generated documents and queries as JSONL"},
        {"threads", CLI_INT, &a.threads, 0, 0, "N", "CPU threads (0 = all cores)"},
        {"device", CLI_STRING, &a.device, 0, 0, "D", CLI_DEVICE_HELP},
        {"quiet", CLI_FLAG, &a.quiet, 1, 0, NULL, "no progress lines"},
    };
    const int parsed = cli_parse(name, needle ? needle_usage : passkey_usage, argc, argv, 3, options,
                                 (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (a.model == NULL || a.filler == NULL || (needle && a.needles == NULL)) {
        cli_error("llmbed %s: --model PATH and --filler FILE.tsv%s are required (see --help)", name,
                  needle ? " and --needles FILE.tsv" : "");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (!needle && a.needles != NULL) {
        cli_error("llmbed eval passkey: --needles belongs to llmbed eval needle");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return run_passkey(&a);
}

int cli_eval_passkey(int argc, char **argv) { return cli_eval_long_retrieval(argc, argv, 0); }
