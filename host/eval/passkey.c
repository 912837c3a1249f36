/* The passkey set of eval/passkey.h. Token counts come from the model's own
 * tokenizer: each pool sentence is counted once (with a leading space, as it
 * appears after another), filler is added while the estimate fits, then the
 * whole document is tokenised and trailing filler dropped until it fits. */
#include "eval/passkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Two to four syllables, capitalised: "Kavelo", "Misu", ... */
static void make_name(uint64_t *state, char *name, size_t capacity) {
    static const char *const syllables[] = {"ka", "lo", "mi", "ren", "su", "ta", "vel", "no", "ri", "ba",
                                            "do", "fen", "gu", "hal", "je", "mor", "pi", "sel", "tu", "zan"};
    const int n = 2 + (int)(next_random(state) % 3);
    name[0] = '\0';
    for (int i = 0; i < n; i++) strncat(name, syllables[next_random(state) % 20], capacity - strlen(name) - 1);
    name[0] = (char)(name[0] - 'a' + 'A');
}

static llmbed_status count_tokens(const llmbed_model *model, const char *text, int add_special, int *count,
                                  llmbed_error *error) {
    llmbed_tokenize_params tp;
    llmbed_tokenize_params_default(&tp);
    tp.add_special = add_special;
    const size_t len = strlen(text), capacity = len + 16; /* tokens rarely outnumber bytes */
    int32_t *ids = malloc(capacity * sizeof *ids);
    if (ids == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "passkey: out of memory");
    size_t n = 0;
    const llmbed_status st = llmbed_tokenize(model, text, len, &tp, ids, capacity, &n, NULL, error);
    free(ids);
    if (st != LLMBED_OK && st != LLMBED_ERR_BUFFER_TOO_SMALL) return st;
    llmbed_error_clear(error);
    *count = (int)n;
    return LLMBED_OK;
}

/* filler[0, depth) + needle + filler[depth, n) joined by spaces (malloc'ed). */
static char *join(const char *const *pool, const size_t *picked, int n_picked, int depth, const char *needle) {
    size_t len = strlen(needle) + 2; /* its separating space and the NUL */
    for (int i = 0; i < n_picked; i++) len += strlen(pool[picked[i]]) + 1;
    char *text = malloc(len);
    if (text == NULL) return NULL;
    text[0] = '\0';
    for (int i = 0; i <= n_picked; i++) {
        if (i == depth) {
            if (i > 0) strcat(text, " ");
            strcat(text, needle);
        }
        if (i < n_picked) {
            strcat(text, " ");
            strcat(text, pool[picked[i]]);
        }
    }
    return text[0] == ' ' ? memmove(text, text + 1, strlen(text)) : text;
}

static llmbed_status pool_tokens(const llmbed_model *model, const char *const *pool, int *pool_counts, size_t i,
                                 int *count, llmbed_error *error) {
    if (pool_counts[i] < 0) {
        char spaced[4096];
        snprintf(spaced, sizeof spaced, " %s", pool[i]);
        LLMBED_TRY(count_tokens(model, spaced, 0, &pool_counts[i], error));
    }
    *count = pool_counts[i];
    return LLMBED_OK;
}

llmbed_status llmbed_passkey_document(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                      int *counts, int target, uint64_t *state, const char *needle,
                                      llmbed_passkey_set *set, int d, size_t *picked, llmbed_error *error) {
    int needle_tokens = 0;
    LLMBED_TRY(count_tokens(model, needle, 1, &needle_tokens, error));
    if (needle_tokens > target)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "passkey: the needle alone has %d tokens, more than the document length %d", needle_tokens,
                           target);
    int n_picked = 0, estimate = needle_tokens;
    for (int misses = 0; misses < 64;) {
        const size_t i = (size_t)(next_random(state) % pool_size);
        int t = 0;
        LLMBED_TRY(pool_tokens(model, pool, counts, i, &t, error));
        if (estimate + t > target) {
            misses++; /* a shorter sentence may still fit */
            continue;
        }
        picked[n_picked++] = i;
        estimate += t;
    }
    const int depth = n_picked > 0 ? (int)(next_random(state) % (uint64_t)(n_picked + 1)) : 0;
    for (;;) {
        char *text = join(pool, picked, n_picked, depth < n_picked ? depth : n_picked, needle);
        if (text == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "passkey: out of memory");
        int tokens = 0;
        const llmbed_status st = count_tokens(model, text, 1, &tokens, error);
        if (st != LLMBED_OK || tokens <= target || n_picked == 0) {
            if (st != LLMBED_OK) {
                free(text);
                return st;
            }
            set->documents[d] = text;
            set->tokens[d] = tokens;
            set->depth[d] = n_picked > 0 ? (double)(depth < n_picked ? depth : n_picked) / n_picked : 0.0;
            return LLMBED_OK;
        }
        free(text); /* the estimate missed merges across sentences: drop the last filler sentence */
        n_picked--;
    }
}

llmbed_status llmbed_passkey_generate(const llmbed_model *model, const char *const *pool, size_t pool_size,
                                      int target_tokens, int n, uint64_t seed, llmbed_passkey_set *out,
                                      llmbed_error *error) {
    memset(out, 0, sizeof *out);
    if (pool_size == 0 || n < 1 || target_tokens < 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "passkey: needs filler sentences, documents >= 1 and a length >= 1");
    out->documents = calloc((size_t)n, sizeof *out->documents);
    out->queries = calloc((size_t)n, sizeof *out->queries);
    out->tokens = calloc((size_t)n, sizeof *out->tokens);
    out->depth = calloc((size_t)n, sizeof *out->depth);
    int *counts = malloc(pool_size * sizeof(int));
    size_t *picked = malloc(sizeof(size_t) * ((size_t)target_tokens + 1));
    char(*names)[32] = calloc((size_t)n, sizeof *names);
    llmbed_status st = out->documents && out->queries && out->tokens && out->depth && counts && picked && names
                           ? LLMBED_OK
                           : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "passkey: out of memory");
    if (st == LLMBED_OK) {
        out->n = n;
        out->target_tokens = target_tokens;
        for (size_t i = 0; i < pool_size; i++) counts[i] = -1;
    }
    uint64_t state = seed ^ ((uint64_t)target_tokens << 32);
    for (int d = 0; st == LLMBED_OK && d < n; d++) {
        for (int unique = 0; !unique;) { /* 20^2..20^4 names: a repeat is rare, redraw it */
            make_name(&state, names[d], sizeof names[d]);
            unique = 1;
            for (int k = 0; k < d && unique; k++) unique = strcmp(names[k], names[d]) != 0;
        }
        const int key = 10000 + (int)(next_random(&state) % 90000);
        char needle[160], query[96];
        snprintf(needle, sizeof needle, "The pass key of %s is %d. Remember it. %d is the pass key of %s.", names[d],
                 key, key, names[d]);
        snprintf(query, sizeof query, "What is the pass key of %s?", names[d]);
        out->queries[d] = strdup(query);
        if (out->queries[d] == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "passkey: out of memory");
        if (st == LLMBED_OK)
            st = llmbed_passkey_document(model, pool, pool_size, counts, target_tokens, &state, needle, out, d, picked,
                                         error);
    }
    free(counts);
    free(picked);
    free(names);
    if (st != LLMBED_OK) llmbed_passkey_set_free(out);
    return st;
}

void llmbed_passkey_set_free(llmbed_passkey_set *set) {
    for (int i = 0; i < set->n; i++) {
        if (set->documents != NULL) free(set->documents[i]);
        if (set->queries != NULL) free(set->queries[i]);
    }
    free(set->documents);
    free(set->queries);
    free(set->tokens);
    free(set->depth);
    memset(set, 0, sizeof *set);
}

double llmbed_passkey_accuracy(const float *query_rows, const float *document_rows, int n, int dims) {
    int hits = 0;
    for (int q = 0; q < n; q++) {
        double best = -2.0;
        int best_doc = -1, tied = 0;
        for (int d = 0; d < n; d++) {
            double dot = 0;
            const float *qr = query_rows + (size_t)q * dims, *dr = document_rows + (size_t)d * dims;
            for (int c = 0; c < dims; c++) dot += (double)qr[c] * dr[c];
            if (dot > best) {
                best = dot;
                best_doc = d;
                tied = 0;
            } else if (dot == best) {
                tied = 1;
            }
        }
        hits += best_doc == q && !tied;
    }
    return n > 0 ? (double)hits / n : 0.0;
}
