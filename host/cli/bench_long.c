/* llmbed bench --long: memory and speed of long inputs (issue 10 items 5 and 8).
 * Runs go from the largest ThinK ratio to the smallest, i.e. from the
 * smallest cache to the largest, so the process's peak RSS after each run
 * (a high-water mark) is that run's peak. */
#include "cli/bench_long.h"
#include "cli/bench_kv_dtype.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"

enum { MAX_RATIOS = 8, QUERY_TOKENS = 16 };

typedef struct long_setup {
    const cli_bench_long_args *a;
    llmbed_model *model;
    llmbed_ctx *ctx;
    llmbed_model_info info;
    int32_t *doc;
    int dims;
} long_setup;

static int by_descending(const void *x, const void *y) {
    const float a = *(const float *)x, b = *(const float *)y;
    return (a < b) - (a > b);
}

static int parse_ratios(const char *text, float *ratios) {
    int n = 0;
    for (const char *p = text; *p != '\0' && n < MAX_RATIOS;) {
        char *end = NULL;
        const double r = strtod(p, &end);
        if (end == p || !(r >= 0.0 && r < 1.0) || (*end != ',' && *end != '\0')) return -1;
        ratios[n++] = (float)r;
        p = *end == ',' ? end + 1 : end;
    }
    qsort(ratios, (size_t)n, sizeof *ratios, by_descending);
    return n;
}

static void random_ids(uint64_t *state, int vocab, int32_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((*state >> 33) % (uint64_t)vocab);
    }
}

static llmbed_embed_params long_params(const cli_bench_long_args *a, float ratio) {
    llmbed_embed_params p;
    llmbed_embed_params_default(&p);
    p.pooling = LLMBED_POOLING_LAST;
    p.attention = LLMBED_ATTENTION_CAUSAL;
    p.normalize = 1;
    p.chunk_tokens = (int)a->chunk_tokens;
    p.think_ratio = ratio;
    return p;
}

/* Embeds seqs (packed) and returns the wall time, < 0 on failure (reported). */
static double timed_embed(const long_setup *s, const int32_t *tokens, const int64_t *offsets, int n,
                          const llmbed_embed_params *p, float *out) {
    const llmbed_batch batch = {.tokens = tokens, .offsets = offsets, .n_sequences = n};
    const double start = cli_now();
    const llmbed_status st = llmbed_embed(s->ctx, &batch, p, out, (size_t)n * (size_t)s->dims);
    if (st != LLMBED_OK) {
        cli_error("llmbed bench --long: %s", llmbed_last_error(s->ctx));
        return -1.0;
    }
    return cli_now() - start;
}

static double cosine(const float *a, const float *b, int n) {
    double dot = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) dot += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return dot / sqrt(aa * bb);
}

static int ratio_table(const long_setup *s, const float *ratios, int n_ratios) {
    const cli_bench_long_args *a = s->a;
    const int64_t N = a->tokens, offsets[2] = {0, N};
    float *rows = malloc(sizeof(float) * (size_t)n_ratios * (size_t)s->dims);
    if (rows == NULL) return LLMBED_ERR_OUT_OF_MEMORY;
    const int64_t full = llmbed_kv_cache_bytes(s->ctx, N, (int)a->chunk_tokens, 0.0f);
    printf("think_ratio  kept/D  kv MiB/layer  kv MiB total  vs full  peak RSS MiB  seconds  tokens/s  cosine vs 0\n");
    double seconds[MAX_RATIOS];
    for (int i = 0; i < n_ratios; i++) {
        const llmbed_embed_params p = long_params(a, ratios[i]);
        seconds[i] = timed_embed(s, s->doc, offsets, 1, &p, rows + (size_t)i * s->dims);
        if (seconds[i] < 0) {
            free(rows);
            return LLMBED_ERR_INTERNAL;
        }
        const int64_t bytes = llmbed_kv_cache_bytes(s->ctx, N, (int)a->chunk_tokens, ratios[i]);
        const int D = s->info.head_dim, kept = D - (int)floorf((float)D * ratios[i]);
        printf("%11.2f  %3d/%-3d  %12.2f  %12.1f  %6.3fx  %12.1f  %7.2f  %8.0f  ", (double)ratios[i], kept, D,
               (double)bytes / s->info.n_layers / 1048576.0, (double)bytes / 1048576.0,
               full > 0 ? (double)bytes / (double)full : 0.0, (double)cli_peak_rss_bytes() / 1048576.0, seconds[i],
               (double)N / seconds[i]);
        if (ratios[n_ratios - 1] == 0.0f) printf("(below)\n");
        else printf("-\n");
        fflush(stdout);
    }
    if (ratios[n_ratios - 1] == 0.0f) {
        printf("cosine of the pooled row vs think_ratio 0:");
        for (int i = 0; i < n_ratios; i++)
            printf(" %.2f: %.6f", (double)ratios[i],
                   cosine(rows + (size_t)i * s->dims, rows + (size_t)(n_ratios - 1) * s->dims, s->dims));
        printf("\n");
    }
    free(rows);
    return 0;
}

/* Suffix mode: cache the document once, then Q queries at the cost of a
 * query each, against document + query re-encoded (k of them timed). */
static int suffix_table(const long_setup *s) {
    const cli_bench_long_args *a = s->a;
    const int Q = (int)a->queries, k = (int)(a->reencoded < a->queries ? a->reencoded : a->queries);
    const int64_t N = a->tokens;
    int32_t *queries = malloc(sizeof(int32_t) * (size_t)Q * QUERY_TOKENS);
    int64_t *offsets = malloc(sizeof(int64_t) * (size_t)(Q + 1));
    int32_t *joined = malloc(sizeof(int32_t) * (size_t)(N + QUERY_TOKENS));
    float *suffix_rows = malloc(sizeof(float) * (size_t)Q * (size_t)s->dims);
    float *joined_row = malloc(sizeof(float) * (size_t)s->dims);
    int rc = queries && offsets && joined && suffix_rows && joined_row ? 0 : LLMBED_ERR_OUT_OF_MEMORY;
    if (rc == 0) {
        uint64_t state = (uint64_t)a->seed + 17;
        random_ids(&state, s->info.vocab_size, queries, (int64_t)Q * QUERY_TOKENS);
        for (int q = 0; q <= Q; q++) offsets[q] = (int64_t)q * QUERY_TOKENS;
        llmbed_embed_params p = long_params(a, 0.0f);
        const double start = cli_now();
        llmbed_status st = llmbed_cache_document(s->ctx, s->doc, (size_t)N, &p);
        const double cache_seconds = cli_now() - start;
        p.continue_document = 1;
        const double query_seconds = st == LLMBED_OK ? timed_embed(s, queries, offsets, Q, &p, suffix_rows) : -1.0;
        if (st != LLMBED_OK) cli_error("llmbed bench --long: %s", llmbed_last_error(s->ctx));
        p.continue_document = 0;
        double reencode_seconds = 0, worst = 1.0;
        memcpy(joined, s->doc, sizeof(int32_t) * (size_t)N);
        for (int q = 0; q < k && query_seconds >= 0 && reencode_seconds >= 0; q++) {
            memcpy(joined + N, queries + (size_t)q * QUERY_TOKENS, sizeof(int32_t) * QUERY_TOKENS);
            const int64_t one[2] = {0, N + QUERY_TOKENS};
            const double t = timed_embed(s, joined, one, 1, &p, joined_row);
            reencode_seconds = t < 0 ? -1.0 : reencode_seconds + t;
            if (t >= 0) {
                const double c = cosine(joined_row, suffix_rows + (size_t)q * s->dims, s->dims);
                worst = c < worst ? c : worst;
            }
        }
        if (query_seconds < 0 || reencode_seconds < 0 || k == 0) {
            rc = st != LLMBED_OK ? st : LLMBED_ERR_INTERNAL;
        } else {
            const double per_query = reencode_seconds / k, suffix_total = cache_seconds + query_seconds;
            printf("suffix mode, %d queries of %d tokens over the %" PRId64 "-token document (think_ratio 0):\n", Q,
                   QUERY_TOKENS, N);
            printf("  cache the document once %.2f s + %d queries %.3f s = %.2f s\n", cache_seconds, Q, query_seconds,
                   suffix_total);
            printf("  re-encode document + query: %.2f s each (mean of %d) -> %.1f s for %d queries\n", per_query, k,
                   per_query * Q, Q);
            printf("  speedup %.1fx; worst cosine suffix mode vs re-encoded %.7f\n", per_query * Q / suffix_total,
                   worst);
        }
    }
    free(queries);
    free(offsets);
    free(joined);
    free(suffix_rows);
    free(joined_row);
    return rc;
}

int cli_bench_long(const cli_bench_long_args *a) {
    float ratios[MAX_RATIOS];
    const int n_ratios = parse_ratios(a->think_ratios, ratios);
    if (n_ratios < 1) {
        cli_error("llmbed bench: --think-ratios '%s': expected up to %d comma-separated fractions in [0, 1)",
                  a->think_ratios, MAX_RATIOS);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (a->chunk_tokens < 1 || a->tokens > INT32_MAX / 2 || a->queries < 0 || a->reencoded < 0) {
        cli_error("llmbed bench --long: --chunk-tokens must be >= 1, --long at most %d, --queries/--reencode >= 0",
                  INT32_MAX / 2);
        return LLMBED_ERR_INVALID_ARGUMENT;
    }
    long_setup s = {.a = a, .info = {.struct_size = sizeof s.info}};
    llmbed_status st = cli_load_model(a->model, (int)a->threads, &s.model);
    if (st != LLMBED_OK) return st;
    llmbed_ctx_params cp;
    llmbed_ctx_params_default(&cp);
    cp.n_threads = (int)a->threads;
    cp.batch_tokens = a->chunk_tokens;
    llmbed_error error = {0};
    if (cli_parse_device(a->device, &cp) != 0) {
        cli_error("llmbed bench: --device '%s': expected " CLI_DEVICE_EXPECTED, a->device);
        st = LLMBED_ERR_INVALID_ARGUMENT;
    }
    if (st == LLMBED_OK) st = llmbed_model_get_info(s.model, &s.info);
    if (st == LLMBED_OK) st = llmbed_ctx_create(s.model, &cp, &s.ctx, &error);
    if (st != LLMBED_OK && error.message[0]) cli_error("%s", error.message);
    if (st == LLMBED_OK) cli_note_device(s.ctx);
    s.doc = st == LLMBED_OK ? malloc(sizeof(int32_t) * (size_t)a->tokens) : NULL;
    if (st == LLMBED_OK && s.doc == NULL) st = LLMBED_ERR_OUT_OF_MEMORY;
    if (st == LLMBED_OK) {
        uint64_t state = (uint64_t)a->seed;
        random_ids(&state, s.info.vocab_size, s.doc, a->tokens);
        const llmbed_embed_params p = long_params(a, 0.0f);
        s.dims = llmbed_embed_dims(s.model, &p);
        printf("llmbed bench --long %" PRId64 ": %s (%d layers, %d kv heads x head_dim %d), chunks of %" PRId64
               ", device %s, threads %" PRId64 ", last-token pooling, seed %" PRId64 "\n",
               a->tokens, a->model, s.info.n_layers, s.info.n_kv_heads, s.info.head_dim, a->chunk_tokens, a->device,
               a->threads, a->seed);
        printf("weights loaded: peak RSS %.1f MiB\n", (double)cli_peak_rss_bytes() / 1048576.0);
        cli_bench_kv_dtype_table(&s.info, ratios, n_ratios, (int)a->chunk_tokens);
        st = ratio_table(&s, ratios, n_ratios);
        if (st == LLMBED_OK && a->queries > 0) st = suffix_table(&s);
    }
    free(s.doc);
    llmbed_ctx_free(s.ctx);
    llmbed_model_free(s.model);
    return st;
}
