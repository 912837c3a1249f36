/* The needle set of eval/needle.h. */
#include "eval/needle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static uint64_t next_random(uint64_t *state) { /* splitmix64, as passkey.c */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

llmbed_status llmbed_needle_generate(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                     const char *const *needles, const char *const *queries, size_t n_pairs,
                                     int target_tokens, int n, uint64_t seed, llmbed_passkey_set *out,
                                     llmbed_error *error) {
    memset(out, 0, sizeof *out);
    if (pool_size == 0 || n < 1 || target_tokens < 1 || (size_t)n > n_pairs)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "needle: needs filler sentences, 1 <= documents <= %zu needle pairs and a length >= 1 "
                           "(got %d documents, length %d)",
                           n_pairs, n, target_tokens);
    out->documents = calloc((size_t)n, sizeof *out->documents);
    out->queries = calloc((size_t)n, sizeof *out->queries);
    out->tokens = calloc((size_t)n, sizeof *out->tokens);
    out->depth = calloc((size_t)n, sizeof *out->depth);
    int *counts = malloc(pool_size * sizeof *counts);
    size_t *picked = malloc(sizeof *picked * ((size_t)target_tokens + 1));
    size_t *order = malloc(sizeof *order * n_pairs);
    llmbed_status st = out->documents && out->queries && out->tokens && out->depth && counts && picked && order
                           ? LLMBED_OK
                           : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "needle: out of memory");
    uint64_t state = seed ^ ((uint64_t)target_tokens << 32) ^ 0x6e6565646c65ull; /* "needle" */
    if (st == LLMBED_OK) {
        out->n = n;
        out->target_tokens = target_tokens;
        for (size_t i = 0; i < pool_size; i++) counts[i] = -1;
        for (size_t i = 0; i < n_pairs; i++) order[i] = i;
        for (size_t i = 0; i < (size_t)n; i++) { /* partial Fisher-Yates: the first n of a seeded shuffle */
            const size_t j = i + (size_t)(next_random(&state) % (n_pairs - i));
            const size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    for (int d = 0; st == LLMBED_OK && d < n; d++) {
        out->queries[d] = strdup(queries[order[d]]);
        if (out->queries[d] == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "needle: out of memory");
        if (st == LLMBED_OK)
            st = llmbed_passkey_document(model, pool, pool_size, counts, target_tokens, &state, needles[order[d]], out,
                                         d, picked, error);
    }
    free(counts);
    free(picked);
    free(order);
    if (st != LLMBED_OK) llmbed_passkey_set_free(out);
    return st;
}

double llmbed_needle_ndcg10(const float *query_rows, const float *document_rows, int n, int dims) {
    double sum = 0;
    for (int q = 0; q < n; q++) {
        double own = 0;
        const float *qr = query_rows + (size_t)q * dims;
        for (int c = 0; c < dims; c++) own += (double)qr[c] * document_rows[(size_t)q * dims + c];
        int rank = 1;
        for (int d = 0; d < n && rank <= 10; d++) {
            if (d == q) continue;
            double dot = 0;
            for (int c = 0; c < dims; c++) dot += (double)qr[c] * document_rows[(size_t)d * dims + c];
            rank += dot >= own;
        }
        if (rank <= 10) sum += 1.0 / log2(1.0 + rank);
    }
    return n > 0 ? sum / n : 0.0;
}

uint64_t llmbed_needle_set_hash(const llmbed_passkey_set *set) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < set->n; i++) {
        const char *texts[2] = {set->documents[i], set->queries[i]};
        for (int k = 0; k < 2; k++) {
            for (const char *p = texts[k]; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
            h = (h ^ 0u) * 0x100000001b3ull;
        }
    }
    return h;
}
