/* llmbed bench: throughput on synthetic corpora (fixed length, or mixed
 * lengths 16..2048 drawn log-uniformly from a seeded generator) or on the
 * first --sequences lines of a file, through the pipeline as `llmbed embed`
 * runs them (llmbed_embed_ids: length-sorted token-budget batches, no
 * padding). With --compare transformers the
 * same ids go through bench/compare_transformers.py (HF transformers with the
 * usual padded batching) and the ratio and worst cosine deviation print. */
/* POSIX/GNU declarations (realpath, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_ledger.h"
#include "cli/bench_long.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "io/input_record.h"
#include "io/line_reader.h"

typedef struct corpus {
    int32_t *tokens;
    int64_t *offsets; /* n + 1 */
    int n;
    int64_t total;
} corpus;

typedef struct bench_args {
    const char *model, *input, *compare, *compare_script, *python, *pooling, *attention, *device, *think_ratios;
    const char *profile, *weights;
    int mixed, normalize, ledger;
    int64_t tokens, sequences, seed, batch_tokens, threads, replicas, warmup, compare_batch;
    int64_t long_tokens, chunk_tokens, queries, reencode;
} bench_args;

/* splitmix64: a fixed, portable sequence for a given seed. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int corpus_reserve(corpus *c, int n, int64_t total) {
    c->offsets = malloc((size_t)(n + 1) * sizeof *c->offsets);
    c->tokens = malloc((size_t)(total > 0 ? total : 1) * sizeof *c->tokens);
    return c->offsets == NULL || c->tokens == NULL ? -1 : 0;
}

static llmbed_status synthetic(const bench_args *a, int vocab, corpus *c) {
    uint64_t state = (uint64_t)a->seed;
    int n = (int)a->sequences;
    int64_t *lengths = malloc((size_t)n * sizeof *lengths);
    if (lengths == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (a->mixed) {
            double u = (double)(next_random(&state) >> 11) / 9007199254740992.0;
            lengths[i] = (int64_t)llround(exp(log(16.0) + u * (log(2048.0) - log(16.0))));
        } else {
            lengths[i] = a->tokens;
        }
        total += lengths[i];
    }
    if (corpus_reserve(c, n, total) != 0) {
        free(lengths);
        return LLMBED_ERR_OUT_OF_MEMORY;
    }
    c->offsets[0] = 0;
    for (int i = 0; i < n; i++) {
        for (int64_t t = 0; t < lengths[i]; t++) c->tokens[c->offsets[i] + t] = (int32_t)(next_random(&state) % (uint64_t)vocab);
        c->offsets[i + 1] = c->offsets[i] + lengths[i];
    }
    c->n = n;
    c->total = total;
    free(lengths);
    return LLMBED_OK;
}

static llmbed_status from_file(const bench_args *a, const llmbed_model *model, int64_t max_tokens, corpus *c) {
    llmbed_error error = {0};
    llmbed_line_reader *reader = NULL;
    llmbed_status st = llmbed_line_reader_open(a->input, 0, 0, (size_t)64 << 20, &reader, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message);
        return st;
    }
    llmbed_input_parse_options parse = {llmbed_line_reader_name(reader), "text", NULL, 0, NULL, 0};
    size_t cap_seq = 1024, cap_tok = 1 << 16;
    c->offsets = malloc(cap_seq * sizeof *c->offsets);
    c->tokens = malloc(cap_tok * sizeof *c->tokens);
    if (c->offsets == NULL || c->tokens == NULL) st = LLMBED_ERR_OUT_OF_MEMORY;
    c->offsets[0] = 0;
    llmbed_tokenize_params params;
    llmbed_tokenize_params_default(&params);
    while (st == LLMBED_OK && (a->sequences == 0 || c->n < a->sequences)) {
        const char *line;
        size_t len, n = 0;
        int64_t line_no, end;
        st = llmbed_line_reader_next(reader, &line, &len, &line_no, &end, &error);
        if (st != LLMBED_OK || line == NULL) break;
        llmbed_input_record r;
        st = llmbed_input_parse_line(line, len, line_no, &parse, &r, &error);
        if (st != LLMBED_OK) break;
        size_t need = r.kind == LLMBED_RECORD_IDS ? r.n_ids : r.text_len + 16;
        while ((size_t)c->total + need + 16 > cap_tok) cap_tok *= 2;
        int32_t *bigger = realloc(c->tokens, cap_tok * sizeof *bigger);
        if (bigger == NULL) st = LLMBED_ERR_OUT_OF_MEMORY;
        else c->tokens = bigger;
        if (st == LLMBED_OK && r.kind == LLMBED_RECORD_IDS) {
            memcpy(c->tokens + c->total, r.ids, r.n_ids * sizeof *r.ids);
            n = r.n_ids;
        } else if (st == LLMBED_OK) {
            st = llmbed_tokenize(model, r.text, r.text_len, &params, c->tokens + c->total, need, &n, NULL, &error);
        }
        llmbed_input_record_clear(&r);
        if (st != LLMBED_OK) break;
        if (max_tokens > 0 && (int64_t)n > max_tokens) n = (size_t)max_tokens;
        if (n == 0) continue;
        if ((size_t)c->n + 2 > cap_seq) {
            cap_seq *= 2;
            int64_t *more = realloc(c->offsets, cap_seq * sizeof *more);
            if (more == NULL) {
                st = LLMBED_ERR_OUT_OF_MEMORY;
                break;
            }
            c->offsets = more;
        }
        c->total += (int64_t)n;
        c->offsets[++c->n] = c->total;
    }
    if (st != LLMBED_OK) cli_error("%s", error.message[0] ? error.message : llmbed_status_str(st));
    llmbed_line_reader_close(reader);
    return st;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double percentile(const double *sorted, int n, double p) {
    if (n == 0) return 0;
    int k = (int)ceil(p / 100.0 * n) - 1;
    return sorted[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* Reads a float32 C-order 2-D .npy as written by numpy.save. */
static float *read_npy_f32(const char *path, int64_t *rows, int64_t *cols) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    unsigned char head[10];
    float *data = NULL;
    if (fread(head, 1, 10, fp) == 10 && memcmp(head, "\x93NUMPY", 6) == 0 && head[6] == 1) {
        size_t hl = (size_t)head[8] | ((size_t)head[9] << 8);
        char *dict = calloc(hl + 1, 1);
        long long r = 0, k = 0;
        if (dict != NULL && fread(dict, 1, hl, fp) == hl && strstr(dict, "'<f4'") && strstr(dict, "False")) {
            const char *shape = strstr(dict, "'shape': (");
            if (shape != NULL && sscanf(shape, "'shape': (%lld, %lld)", &r, &k) == 2 && r >= 0 && k > 0) {
                data = malloc((size_t)(r * k > 0 ? r * k : 1) * sizeof *data);
                if (data != NULL && fread(data, sizeof *data, (size_t)(r * k), fp) != (size_t)(r * k)) {
                    free(data);
                    data = NULL;
                }
                *rows = r;
                *cols = k;
            }
        }
        free(dict);
    }
    fclose(fp);
    return data;
}

/* The peer script ships in the source tree, not beside an installed
 * binary: CMake records where (LLMBED_BENCH_DIR). */
static const char *default_script(void) { return LLMBED_BENCH_DIR "/compare_transformers.py"; }

/* Runs the transformers peer on the same ids and compares. */
/* CPU time of this process (every thread): on a shared machine it does not
 * count the time other processes hold the cores. */
static double process_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_transformers(const bench_args *a, const corpus *c, const float *ours, int dims, double our_seconds,
                                double our_cpu_seconds, const char *weights, const char *pooling,
                                const char *attention, int normalize, const llmbed_ctx *ctx) {
    char dir[] = "/tmp/llmbed-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        cli_error("cannot create a temp folder: %s", strerror(errno));
        return LLMBED_ERR_IO;
    }
    char ids_path[64], out_path[64];
    snprintf(ids_path, sizeof ids_path, "%s/ids.jsonl", dir);
    snprintf(out_path, sizeof out_path, "%s/ref.npy", dir);
    FILE *fp = fopen(ids_path, "w");
    for (int i = 0; fp != NULL && i < c->n; i++) {
        fputs("{\"input_ids\":[", fp);
        for (int64_t t = c->offsets[i]; t < c->offsets[i + 1]; t++) {
            fprintf(fp, t > c->offsets[i] ? ",%" PRId32 : "%" PRId32, c->tokens[t]);
        }
        fputs("]}\n", fp);
    }
    if (fp == NULL || fclose(fp) != 0) {
        cli_error("%s: cannot write the ids for the peer", ids_path);
        return LLMBED_ERR_IO;
    }
    const char *script = a->compare_script != NULL ? a->compare_script : default_script();
    /* The peer runs where llmbed ran: the same GPU in bf16 (the CUDA backend's dtype), or the CPU in the
     * dtype of --weights (bf16 -> bfloat16, else float32). */
    int device_index = 0;
    char peer_device[64];
    const int on_gpu = llmbed_ctx_device(ctx, &device_index) == LLMBED_DEVICE_CUDA;
    const char *peer_dtype = on_gpu || strcmp(weights, "bf16") == 0 ? "bfloat16" : "float32";
    if (on_gpu)
        snprintf(peer_device, sizeof peer_device, "--device cuda:%d --dtype bfloat16", device_index);
    else
        snprintf(peer_device, sizeof peer_device, "--device cpu --dtype %s", peer_dtype);
    char command[8192];
    snprintf(command, sizeof command,
             "'%s' '%s' --model '%s' --input '%s' --output '%s' --pooling %s --attention %s %s --threads %" PRId64
             " --batch-size %" PRId64 " %s",
             a->python, script, a->model, ids_path, out_path, pooling, attention, normalize ? "--normalize" : "",
             a->threads > 0 ? a->threads : (int64_t)sysconf(_SC_NPROCESSORS_ONLN), a->compare_batch, peer_device);
    FILE *peer = popen(command, "r");
    double peer_seconds = -1, peer_cpu_seconds = -1;
    char line[1024];
    while (peer != NULL && fgets(line, sizeof line, peer) != NULL) {
        const char *at = strstr(line, "\"seconds\":"), *cpu = strstr(line, "\"cpu_seconds\":");
        if (at != NULL) peer_seconds = atof(at + 10);
        if (cpu != NULL) peer_cpu_seconds = atof(cpu + 14);
    }
    int rc = peer != NULL ? pclose(peer) : -1;
    int64_t rows = 0, cols = 0;
    float *ref = rc == 0 ? read_npy_f32(out_path, &rows, &cols) : NULL;
    remove(ids_path);
    remove(out_path);
    rmdir(dir);
    if (ref == NULL || rows != c->n || cols != dims || peer_seconds <= 0) {
        free(ref);
        cli_error("the transformers peer failed (exit %d) or returned a different shape; command: %s",
                  rc >= 0 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, command);
        return LLMBED_ERR_INTERNAL;
    }
    double worst = 0;
    for (int i = 0; i < c->n; i++) {
        double dot = 0, na = 0, nb = 0;
        for (int d = 0; d < dims; d++) {
            double x = ours[(size_t)i * dims + d], y = ref[(size_t)i * dims + d];
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        double cosine = dot / (sqrt(na) * sqrt(nb) + 1e-30);
        if (1.0 - cosine > worst) worst = 1.0 - cosine;
    }
    free(ref);
    printf("transformers:        %.3f s, %.0f tokens/s (padded batches of %" PRId64 ")\n", peer_seconds,
           (double)c->total / peer_seconds, a->compare_batch);
    printf("speedup vs transformers: %.2fx (by CPU time: %.2fx; peer %s)\n", peer_seconds / our_seconds,
           peer_cpu_seconds / our_cpu_seconds, peer_dtype);
    printf("max cosine deviation:    %.3g\n", worst);
    return 0;
}

/* Batch timing from the pipeline's progress callback: the time between
 * two callbacks is one batch (tokenisation runs ahead on another thread). */
typedef struct batch_clock {
    double last;
    double *latencies;
    int n, capacity;
} batch_clock;

static void on_batch(void *user, const llmbed_text_stats *stats) {
    batch_clock *c = user;
    if (c->n < c->capacity) c->latencies[c->n++] = stats->seconds - c->last;
    c->last = stats->seconds;
}

/* The corpus through the pipeline as pre-tokenised inputs (llmbed_embed_ids):
 * the same windows and token-budget batches as `llmbed embed`. */
static llmbed_status embed_corpus(llmbed_ctx *ctx, const corpus *c, int n, const llmbed_embed_params *params,
                                  batch_clock *clock, float *out, int dims, llmbed_text_stats *stats) {
    const int32_t **ids = malloc(sizeof *ids * (size_t)(n > 0 ? n : 1));
    size_t *lengths = malloc(sizeof *lengths * (size_t)(n > 0 ? n : 1));
    if (ids == NULL || lengths == NULL) {
        free(ids);
        free(lengths);
        return LLMBED_ERR_OUT_OF_MEMORY;
    }
    for (int i = 0; i < n; i++) {
        ids[i] = c->tokens + c->offsets[i];
        lengths[i] = (size_t)(c->offsets[i + 1] - c->offsets[i]);
    }
    llmbed_text_params text;
    llmbed_text_params_default(&text);
    text.max_tokens = -1; /* the corpus is already cut */
    text.on_progress = clock != NULL ? on_batch : NULL;
    text.user = clock;
    const llmbed_status st = llmbed_embed_ids(ctx, ids, lengths, n, &text, params, out,
                                              sizeof(float) * (size_t)n * (size_t)dims, NULL, stats);
    free(ids);
    free(lengths);
    return st;
}

static int run(const bench_args *a) {
    llmbed_model *model = NULL;
    llmbed_model_params model_params;
    llmbed_model_params_default(&model_params);
    model_params.n_threads = (int)a->threads;
    if (cli_weights_option("bench", a->weights, &model_params) != 0) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_status st = cli_load_model_with(a->model, &model_params, &model);
    if (st != LLMBED_OK) return st;
    llmbed_model_info info = {.struct_size = sizeof info};
    llmbed_ctx *ctx = NULL;
    corpus c = {0};
    float *out = NULL;
    batch_clock clock = {0};
    llmbed_embed_params params;
    llmbed_embed_params_default(&params);
    llmbed_ctx_params ctx_params;
    llmbed_ctx_params_default(&ctx_params);
    ctx_params.n_threads = (int)a->threads;
    ctx_params.replicas = (int)a->replicas;
    ctx_params.batch_tokens = a->batch_tokens; /* 0: the library's default, as llmbed embed */
    llmbed_error error = {0};
    if (cli_parse_device(a->device, &ctx_params) != 0) {
        cli_error("llmbed bench: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    st = llmbed_model_get_info(model, &info);
    if (st == LLMBED_OK && a->pooling != NULL && cli_parse_pooling(a->pooling, &params.pooling) != 0) st = LLMBED_ERR_INVALID_ARGUMENT;
    if (st == LLMBED_OK && a->attention != NULL && cli_parse_attention(a->attention, &params.attention) != 0) st = LLMBED_ERR_INVALID_ARGUMENT;
    if (st != LLMBED_OK) {
        cli_error("llmbed bench: bad --pooling/--attention or model info");
        goto done;
    }
    params.normalize = a->normalize;
    llmbed_embed_params resolved;
    int dims = 0;
    st = llmbed_embed_params_resolve(model, &params, &resolved, &dims, &error);
    if (st != LLMBED_OK) {
        cli_error("llmbed bench: %s", error.message);
        goto done;
    }
    st = a->input != NULL ? from_file(a, model, info.max_positions, &c) : synthetic(a, info.vocab_size, &c);
    if (st != LLMBED_OK) goto done;
    if (c.n == 0) {
        cli_error("llmbed bench: no sequences to run");
        st = LLMBED_ERR_INVALID_ARGUMENT;
        goto done;
    }
    st = llmbed_ctx_create(model, &ctx_params, &ctx, &error);
    if (st != LLMBED_OK) {
        cli_error("%s", error.message);
        goto done;
    }
    cli_note_device(ctx);
    out = malloc((size_t)c.n * (size_t)dims * sizeof *out);
    clock.capacity = c.n;
    clock.latencies = malloc((size_t)c.n * sizeof *clock.latencies);
    if (out == NULL || clock.latencies == NULL) {
        st = LLMBED_ERR_OUT_OF_MEMORY;
        cli_error("llmbed bench: out of memory");
        goto done;
    }
    llmbed_text_stats stats;
    /* untimed warm-up on the first sequences (one window at most) */
    const int warm = (int)(a->warmup * 8 < c.n ? a->warmup * 8 : c.n);
    if (warm > 0) st = embed_corpus(ctx, &c, warm, &params, NULL, out, dims, &stats);
    const double start = cli_now(), cpu_start = process_cpu_seconds();
    if (st == LLMBED_OK) st = embed_corpus(ctx, &c, c.n, &params, &clock, out, dims, &stats);
    const double total_seconds = cli_now() - start, cpu_seconds = process_cpu_seconds() - cpu_start;
    if (st != LLMBED_OK) {
        cli_error("%s", llmbed_last_error(ctx));
        goto done;
    }
    const int n_batches = clock.n;
    qsort(clock.latencies, (size_t)n_batches, sizeof *clock.latencies, compare_doubles);
    printf("model:               %s (%s, %d layers, hidden %d)\n", a->model, info.architecture, info.n_layers,
           info.hidden_size);
    printf("weights:             %s (%s file), %.1f MiB held\n", info.weights, info.weight_dtype,
           (double)info.weight_bytes / (1024.0 * 1024.0));
    if (a->input != NULL) {
        printf("corpus:              %s: %d sequences, %" PRId64 " tokens\n", a->input, c.n, c.total);
    } else if (a->mixed) {
        printf("corpus:              mixed lengths 16..2048 (log-uniform, seed %" PRId64 "): %d sequences, %" PRId64 " tokens\n",
               a->seed, c.n, c.total);
    } else {
        printf("corpus:              %d sequences x %" PRId64 " tokens (seed %" PRId64 ")\n", c.n, a->tokens, a->seed);
    }
    const int64_t budget = a->batch_tokens > 0 ? a->batch_tokens : llmbed_suggested_batch_tokens(model);
    printf("batches:             %d (budget %" PRId64 " tokens), threads %" PRId64 "\n", n_batches, budget,
           a->threads);
    int device_index = 0;
    const int workers = llmbed_ctx_workers(ctx);
    if (llmbed_ctx_device(ctx, &device_index) == LLMBED_DEVICE_CUDA)
        printf("device:              cuda:%d%s (%d GPU engine%s)\n", device_index, workers > 1 ? " and more" : "",
               workers, workers > 1 ? "s" : "");
    else
        printf("device:              cpu (%d engine%s over %" PRId64 " threads)\n", workers, workers > 1 ? "s" : "",
               a->threads);
    printf("time:                %.3f s (CPU time %.3f s, all threads)\n", total_seconds, cpu_seconds);
    printf("throughput:          %.0f tokens/s, %.2f sequences/s\n", (double)c.total / total_seconds,
           (double)c.n / total_seconds);
    if (n_batches > 0)
        printf("batch latency:       p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               1e3 * percentile(clock.latencies, n_batches, 50), 1e3 * percentile(clock.latencies, n_batches, 90),
               1e3 * percentile(clock.latencies, n_batches, 99), 1e3 * clock.latencies[n_batches - 1]);
    printf("peak RSS:            %.1f MiB\n", (double)cli_peak_rss_bytes() / (1024.0 * 1024.0));
    fflush(stdout);
    if (a->compare != NULL) {
        st = (llmbed_status)compare_transformers(a, &c, out, dims, total_seconds, cpu_seconds, info.weights,
                                                 cli_pooling_name(resolved.pooling),
                                                 cli_attention_name(resolved.attention), resolved.normalize, ctx);
    }
done:
    free(c.tokens);
    free(c.offsets);
    free(out);
    free(clock.latencies);
    llmbed_ctx_free(ctx);
    llmbed_model_free(model);
    return st;
}

int cli_bench(int argc, char **argv) {
    bench_args a = {.python = "python3", .normalize = -1, .tokens = 512, .sequences = 32, .seed = 1,
                    .warmup = 1, .compare_batch = 32, .device = "auto", .replicas = 1,
                    .think_ratios = "0,0.4,0.5", .chunk_tokens = 512, .reencode = 2};
    const cli_option options[] = {
        {"model", CLI_STRING, &a.model, 0, 0, "PATH", "HF model folder or .gguf file (required)"},
        {"tokens", CLI_INT, &a.tokens, 0, 1, "N", "tokens per synthetic sequence (default 512)"},
        {"mixed", CLI_FLAG, &a.mixed, 1, 0, NULL, "mixed lengths 16..2048 instead of a fixed length"},
        {"sequences", CLI_INT, &a.sequences, 0, 0, "N", "sequences (default 32; with --input 0 = all lines)"},
        {"seed", CLI_INT, &a.seed, 0, 0, "S", "seed of the synthetic corpus (default 1)"},
        {"input", CLI_STRING, &a.input, 0, 0, "FILE", "use the lines of FILE (as for embed) instead"},
        {"batch-tokens", CLI_INT, &a.batch_tokens, 0, 1, "N", "token budget per forward (default: as llmbed embed)"},
        {"threads", CLI_INT, &a.threads, 0, 0, "N", "CPU threads (0 = all cores)"},
        {"weights", CLI_STRING, &a.weights, 0, 0, "W", "CPU weights: native (default), bf16 or f32"},
        {"warmup", CLI_INT, &a.warmup, 0, 0, "N", "untimed warm-up: 8 N sequences first (default 1)"},
        {"pooling", CLI_STRING, &a.pooling, 0, 0, "P", "pooling (default: the model's)"},
        {"attention", CLI_STRING, &a.attention, 0, 0, "A", "attention (default: the model's)"},
        {"normalize", CLI_FLAG, &a.normalize, 1, 0, NULL, "L2-normalise"},
        {"no-normalize", CLI_FLAG, &a.normalize, 0, 0, NULL, "raw pooled rows"},
        {"compare", CLI_STRING, &a.compare, 0, 0, "PEER", "run the same inputs through 'transformers' too"},
        {"compare-batch", CLI_INT, &a.compare_batch, 0, 1, "N", "the peer's padded batch size (default 32)"},
        {"compare-script", CLI_STRING, &a.compare_script, 0, 0, "FILE", "default: bench/compare_transformers.py of the source tree"},
        {"python", CLI_STRING, &a.python, 0, 0, "EXE", "Python with torch + transformers (default python3)"},
        {"long", CLI_INT, &a.long_tokens, 0, 1, "N", "long-input mode: one N-token document, chunked, per ThinK ratio"},
        {"chunk-tokens", CLI_INT, &a.chunk_tokens, 0, 1, "C", "--long: chunk size (default 512)"},
        {"think-ratios", CLI_STRING, &a.think_ratios, 0, 0, "LIST", "--long: ThinK ratios (default 0,0.4,0.5)"},
        {"queries", CLI_INT, &a.queries, 0, 0, "Q", "--long: also time suffix mode for Q queries (default 0 = skip)"},
        {"reencode", CLI_INT, &a.reencode, 0, 0, "K", "--long: re-encoded baseline queries timed (default 2)"},
        {"device", CLI_STRING, &a.device, 0, 0, "D", CLI_DEVICE_HELP},
        {"replicas", CLI_INT, &a.replicas, 0, 1, "N", CLI_REPLICAS_HELP},
        {"ledger", CLI_FLAG, &a.ledger, 1, 0, NULL, "cost ledger of one CUDA batch (dry run, no GPU needed)"},
        {"profile", CLI_STRING, &a.profile, 0, 0, "P", "--ledger: h100 (default), h200 or a100"},
    };
    int parsed = cli_parse("bench", "usage: llmbed bench --model PATH [--tokens N | --mixed] [--sequences N] [--seed S]\n"
                                    "                    [--input FILE] [--compare transformers] [--device D] [--replicas N]\n"
                                    "       llmbed bench --model PATH --long N [--chunk-tokens C] [--think-ratios LIST]\n"
                                    "                    [--queries Q [--reencode K]] [--device D]\n"
                                    "       llmbed bench --model PATH --ledger [--tokens N] [--batch-tokens N] [--profile P]",
                           argc, argv, 2, options, (int)(sizeof options / sizeof options[0]));
    if (parsed != 0) return parsed > 0 ? 0 : LLMBED_ERR_INVALID_ARGUMENT;
    if (a.model == NULL) {
        cli_error("llmbed bench: --model PATH is required");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (a.ledger) {
        /* one batch of the budget the CUDA backend is sized for (8192 tokens unless --batch-tokens) */
        const cli_bench_ledger_args ledger_args = {a.model, a.profile, a.tokens,
                                                   a.batch_tokens > 0 ? a.batch_tokens : 8192, a.threads};
        return cli_bench_ledger(&ledger_args);
    }
    if (a.long_tokens > 0) {
        const cli_bench_long_args long_args = {a.model, a.device, a.think_ratios, a.long_tokens, a.chunk_tokens,
                                               a.threads, a.seed, a.queries, a.reencode};
        return cli_bench_long(&long_args);
    }
    if (a.compare != NULL && strcmp(a.compare, "transformers") != 0) {
        cli_error("llmbed bench: --compare '%s': only 'transformers' is supported", a.compare);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (a.input == NULL && a.sequences < 1) {
        cli_error("llmbed bench: --sequences must be at least 1 for a synthetic corpus");
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    return run(&a);
}
