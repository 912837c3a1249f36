/* llmbed_cpu_bench: CPU throughput of llmbed_embed on pre-tokenised corpora.
 *
 *   llmbed_cpu_bench --model PATH --input IDS.txt [--input IDS2.txt ...] [--threads N]
 *                    [--batch-tokens N] [--warmup N] [--repeats N]
 *                    [--pooling last|mean|first|weighted-mean] [--output EMB.f32] [--serve]
 *
 * IDS.txt holds one sequence per line as space-separated token ids. A corpus
 * is embedded by one llmbed_embed call per run (split internally under the
 * token budget), timed with CLOCK_MONOTONIC.
 * Default mode: the first corpus, --warmup untimed runs then --repeats timed
 * ones; prints one JSON object (counts, median/min/max seconds, tokens/s at
 * the median); --output writes the embeddings (L2-normalised float32
 * [sequences, hidden]).
 * --serve: loads once, prints "ready", then for each stdin line holding a
 * corpus index runs that corpus once and prints {"corpus": i, "seconds": s};
 * --output is then a prefix, and corpus i's embeddings go to <prefix><i>.f32
 * on its first run. bench/bench_cpu_vs_transformers.py uses it to alternate
 * llmbed and transformers runs, so a load change on a shared machine hits both. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/blas_core.h"
#include "llmbed.h"

typedef struct corpus {
    int32_t *tokens;
    int64_t *offsets;
    int n_sequences;
    size_t token_capacity, seq_capacity;
} corpus;

enum { MAX_CORPORA = 8 };

static int push(void **buffer, size_t *capacity, size_t count, size_t elem) {
    if (count < *capacity) return 0;
    size_t grown = *capacity ? *capacity * 2 : 1024;
    void *p = realloc(*buffer, grown * elem);
    if (p == NULL) return -1;
    *buffer = p;
    *capacity = grown;
    return 0;
}

static int read_corpus(const char *path, corpus *c) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char *line = NULL;
    size_t line_cap = 0;
    int64_t n_tokens = 0;
    if (push((void **)&c->offsets, &c->seq_capacity, 0, sizeof(int64_t))) return -1;
    c->offsets[0] = 0;
    while (getline(&line, &line_cap, f) > 0) {
        char *p = line, *end;
        int64_t before = n_tokens;
        for (long id = strtol(p, &end, 10); end != p; id = strtol(p, &end, 10)) {
            if (push((void **)&c->tokens, &c->token_capacity, (size_t)n_tokens, sizeof(int32_t))) return -1;
            c->tokens[n_tokens++] = (int32_t)id;
            p = end;
        }
        if (n_tokens == before) continue; /* blank line */
        if (push((void **)&c->offsets, &c->seq_capacity, (size_t)c->n_sequences + 1, sizeof(int64_t))) return -1;
        c->offsets[++c->n_sequences] = n_tokens;
    }
    free(line);
    fclose(f);
    return c->n_sequences > 0 ? 0 : -1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Embeds corpus c once into out; returns seconds, or -1 on failure (reported). */
static double run_once(llmbed_ctx *ctx, const corpus *c, const llmbed_embed_params *params, float *out,
                       size_t capacity) {
    const llmbed_batch batch = {.tokens = c->tokens, .offsets = c->offsets, .n_sequences = c->n_sequences};
    const double t0 = now_s();
    if (llmbed_embed(ctx, &batch, params, out, capacity) != LLMBED_OK) {
        fprintf(stderr, "llmbed_cpu_bench: %s\n", llmbed_last_error(ctx));
        return -1.0;
    }
    return now_s() - t0;
}

static int write_floats(const char *path, const float *data, size_t n) {
    FILE *f = fopen(path, "wb");
    int rc = f == NULL || fwrite(data, sizeof(float), n, f) != n;
    if (f != NULL && fclose(f) != 0) rc = 1;
    if (rc) fprintf(stderr, "llmbed_cpu_bench: cannot write %s\n", path);
    return rc;
}

/* --serve: one timed run per corpus index read from stdin. */
static int serve(llmbed_ctx *ctx, const corpus *corpora, int n_corpora, const llmbed_embed_params *params,
                 int dims, const char *output) {
    int written[MAX_CORPORA] = {0};
    char line[64];
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL) {
        const int i = atoi(line);
        if (i < 0 || i >= n_corpora) {
            fprintf(stderr, "llmbed_cpu_bench: corpus index %d outside [0, %d)\n", i, n_corpora);
            return 1;
        }
        const size_t capacity = (size_t)corpora[i].n_sequences * (size_t)dims;
        float *out = malloc(sizeof(float) * capacity);
        const double seconds = out != NULL ? run_once(ctx, &corpora[i], params, out, capacity) : -1.0;
        int rc = seconds < 0.0;
        if (!rc && output != NULL && !written[i]) {
            char path[4096];
            snprintf(path, sizeof path, "%s%d.f32", output, i);
            rc = write_floats(path, out, capacity);
            written[i] = 1;
        }
        free(out);
        if (rc) return 1;
        printf("{\"corpus\": %d, \"seconds\": %.4f}\n", i, seconds);
        fflush(stdout);
    }
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: llmbed_cpu_bench --model PATH --input IDS.txt [--input ...] [--threads N] [--batch-tokens N]\n"
                    "       [--warmup N] [--repeats N] [--pooling last|mean|first|weighted-mean] [--output EMB.f32]\n"
                    "       [--serve]\n");
    return 2;
}

int main(int argc, char **argv) {
    llmbed_blas_core_restart_if_needed(argv);
    const char *model_path = NULL, *inputs[MAX_CORPORA], *output = NULL, *pooling_name = "last";
    int n_inputs = 0, threads = 0, warmup = 1, repeats = 3, serve_mode = 0;
    long long batch_tokens = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--serve")) {
            serve_mode = 1;
            continue;
        }
        if (v == NULL) return usage();
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--input") && n_inputs < MAX_CORPORA) inputs[n_inputs++] = v;
        else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "--pooling")) pooling_name = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--batch-tokens")) batch_tokens = atoll(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--repeats")) repeats = atoi(v);
        else return usage();
        i++;
    }
    if (model_path == NULL || n_inputs == 0 || repeats < 1 || warmup < 0) return usage();
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    params.normalize = 1;
    if (!strcmp(pooling_name, "last")) params.pooling = LLMBED_POOLING_LAST;
    else if (!strcmp(pooling_name, "mean")) params.pooling = LLMBED_POOLING_MEAN;
    else if (!strcmp(pooling_name, "first")) params.pooling = LLMBED_POOLING_FIRST;
    else if (!strcmp(pooling_name, "weighted-mean")) params.pooling = LLMBED_POOLING_WEIGHTED_MEAN;
    else return usage();

    corpus corpora[MAX_CORPORA] = {{0}};
    for (int i = 0; i < n_inputs; i++) {
        if (read_corpus(inputs[i], &corpora[i]) != 0) {
            fprintf(stderr, "llmbed_cpu_bench: cannot read token ids from %s\n", inputs[i]);
            return 1;
        }
    }
    const corpus c = corpora[0];
    llmbed_error err;
    llmbed_model *model = NULL;
    const double load_start = now_s();
    if (llmbed_model_load(model_path, NULL, &model, &err) != LLMBED_OK) {
        fprintf(stderr, "llmbed_cpu_bench: %s\n", err.message);
        return 1;
    }
    const double load_s = now_s() - load_start;
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = threads;
    cp.batch_tokens = batch_tokens;
    llmbed_ctx *ctx = NULL;
    if (llmbed_ctx_create(model, &cp, &ctx, &err) != LLMBED_OK) {
        fprintf(stderr, "llmbed_cpu_bench: %s\n", err.message);
        llmbed_model_free(model);
        return 1;
    }
    const int dims = llmbed_embed_dims(model, &params);
    int rc = 0;
    if (serve_mode) {
        rc = serve(ctx, corpora, n_inputs, &params, dims, output);
    } else {
        const size_t capacity = (size_t)c.n_sequences * (size_t)dims;
        float *out = malloc(sizeof(float) * capacity);
        double *times = malloc(sizeof(double) * (size_t)repeats);
        rc = out == NULL || times == NULL;
        for (int r = 0; r < warmup + repeats && rc == 0; r++) {
            const double seconds = run_once(ctx, &c, &params, out, capacity);
            rc = seconds < 0.0;
            if (r >= warmup) times[r - warmup] = seconds;
        }
        if (rc == 0) {
            qsort(times, (size_t)repeats, sizeof(double), compare_double);
            const double median =
                repeats % 2 ? times[repeats / 2] : 0.5 * (times[repeats / 2 - 1] + times[repeats / 2]);
            const int64_t n_tokens = c.offsets[c.n_sequences];
            printf("{\"sequences\": %d, \"tokens\": %lld, \"threads\": %d, \"batch_tokens\": %lld, "
                   "\"load_s\": %.3f, \"repeats\": %d, \"median_s\": %.4f, \"min_s\": %.4f, \"max_s\": %.4f, "
                   "\"tokens_per_s\": %.2f}\n",
                   c.n_sequences, (long long)n_tokens, threads, batch_tokens, load_s, repeats, median, times[0],
                   times[repeats - 1], (double)n_tokens / median);
            if (output != NULL) rc = write_floats(output, out, capacity);
        }
        free(times);
        free(out);
    }
    for (int i = 0; i < n_inputs; i++) {
        free(corpora[i].tokens);
        free(corpora[i].offsets);
    }
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    return rc;
}
