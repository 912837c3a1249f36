/* Tokenizer driver for bench/bench_tokenizer.py and tests/tokenizer/compare_hf.py.
 *
 *   llmbed_tokenizer_bench encode TOKENIZER HEXFILE
 *       TOKENIZER: a tokenizer.json or a .gguf file. HEXFILE: one text per line,
 *       hex-encoded bytes (so texts may hold newlines and invalid UTF-8).
 *       Prints one line per text: the ids (no special tokens), space-separated.
 *   llmbed_tokenizer_bench bench TOKENIZER CORPUS THREADS REPEATS
 *       CORPUS: one document per line. Encodes every document REPEATS times
 *       (after one warm-up pass) on THREADS threads, prints one JSON line:
 *       {"threads":..,"bytes":..,"tokens":..,"seconds_median":..,"seconds_min":..,"seconds_max":..}
 *       Timing uses CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container/gguf.h"
#include "tokenizer/tokenizer.h"

static llmbed_tokenizer *load(const char *path) {
    llmbed_error e = {0};
    llmbed_tokenizer *t = NULL;
    size_t n = strlen(path);
    llmbed_status st;
    if (n > 5 && strcmp(path + n - 5, ".gguf") == 0) {
        llmbed_gguf *g = NULL;
        st = llmbed_gguf_open(path, &g, &e);
        if (st == LLMBED_OK) st = llmbed_tokenizer_load_gguf(g, &t, &e);
        llmbed_gguf_close(g);
    } else {
        st = llmbed_tokenizer_load_json(path, &t, &e);
    }
    if (st != LLMBED_OK) {
        fprintf(stderr, "error: %s\n", e.message);
        exit((int)st);
    }
    return t;
}

typedef struct docs {
    char **text;
    size_t *len;
    size_t n;
} docs;

static docs read_lines(const char *path, int hex) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "error: cannot open %s\n", path);
        exit(3);
    }
    docs d = {0};
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        if (d.n == cap) {
            cap = cap ? 2 * cap : 1024;
            d.text = realloc(d.text, cap * sizeof *d.text);
            d.len = realloc(d.len, cap * sizeof *d.len);
        }
        char *text = malloc(len + 1);
        size_t n = 0;
        if (hex) {
            for (size_t i = 0; i + 1 < len; i += 2) {
                unsigned v;
                sscanf(line + i, "%2x", &v);
                text[n++] = (char)v;
            }
        } else {
            memcpy(text, line, len);
            n = len;
        }
        d.text[d.n] = text;
        d.len[d.n++] = n;
    }
    free(line);
    fclose(f);
    return d;
}

static int cmd_encode(const char *tokenizer, const char *hexfile) {
    llmbed_tokenizer *t = load(tokenizer);
    docs d = read_lines(hexfile, 1);
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    o.add_special = 0;
    llmbed_encode_result r = {0};
    for (size_t i = 0; i < d.n; i++) {
        llmbed_error e = {0};
        if (llmbed_tokenizer_encode(t, d.text[i], d.len[i], &o, &r, &e) != LLMBED_OK) {
            fprintf(stderr, "error: text %zu: %s\n", i, e.message);
            return 1;
        }
        for (size_t k = 0; k < r.n_ids; k++) printf(k ? " %d" : "%d", (int)r.ids[k]);
        printf("\n");
    }
    llmbed_encode_result_free(&r);
    llmbed_tokenizer_free(t);
    return 0;
}

typedef struct worker {
    const llmbed_tokenizer *t;
    const docs *d;
    size_t begin, end;
    size_t tokens;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    llmbed_encode_options o;
    llmbed_encode_options_default(&o);
    llmbed_encode_result r = {0};
    w->tokens = 0;
    for (size_t i = w->begin; i < w->end; i++) {
        if (llmbed_tokenizer_encode(w->t, w->d->text[i], w->d->len[i], &o, &r, NULL) == LLMBED_OK)
            w->tokens += r.n_ids;
    }
    llmbed_encode_result_free(&r);
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_bench(const char *tokenizer, const char *corpus, int threads, int repeats) {
    llmbed_tokenizer *t = load(tokenizer);
    docs d = read_lines(corpus, 0);
    size_t bytes = 0;
    for (size_t i = 0; i < d.n; i++) bytes += d.len[i];
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    double *seconds = calloc((size_t)repeats + 1, sizeof *seconds);
    size_t tokens = 0;
    for (int rep = 0; rep <= repeats; rep++) { /* rep 0 warms up the cache */
        double start = now();
        for (int k = 0; k < threads; k++) {
            w[k] = (worker){t, &d, d.n * (size_t)k / (size_t)threads, d.n * (size_t)(k + 1) / (size_t)threads, 0};
            pthread_create(&tid[k], NULL, run_worker, &w[k]);
        }
        tokens = 0;
        for (int k = 0; k < threads; k++) {
            pthread_join(tid[k], NULL);
            tokens += w[k].tokens;
        }
        if (rep > 0) seconds[rep - 1] = now() - start;
    }
    qsort(seconds, (size_t)repeats, sizeof *seconds, compare_double);
    printf("{\"threads\": %d, \"docs\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"seconds_median\": %.6f, "
           "\"seconds_min\": %.6f, \"seconds_max\": %.6f}\n",
           threads, d.n, bytes, tokens, seconds[repeats / 2], seconds[0], seconds[repeats - 1]);
    free(w);
    free(tid);
    free(seconds);
    llmbed_tokenizer_free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "encode") == 0) return cmd_encode(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "bench") == 0) {
        int threads = atoi(argv[4]), repeats = atoi(argv[5]);
        if (threads >= 1 && repeats >= 1) return cmd_bench(argv[2], argv[3], threads, repeats);
    }
    fprintf(stderr, "usage: %s encode TOKENIZER HEXFILE | bench TOKENIZER CORPUS THREADS REPEATS\n", argv[0]);
    return 1;
}
