#include "eval/text_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_text(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int rehash(llmbed_text_set *set, size_t n_slots) {
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL) return -1;
    for (size_t i = 0; i < set->n; i++) {
        size_t at = (size_t)hash_text(set->texts[i]) & (n_slots - 1);
        while (slots[at] != 0) at = (at + 1) & (n_slots - 1);
        slots[at] = i + 1;
    }
    free(set->slots);
    set->slots = slots;
    set->n_slots = n_slots;
    return 0;
}

size_t llmbed_text_set_add(llmbed_text_set *set, const char *text) {
    if (set->n_slots == 0 || 2 * (set->n + 1) > set->n_slots) {
        if (rehash(set, set->n_slots ? 2 * set->n_slots : 1024) != 0) return (size_t)-1;
    }
    size_t at = (size_t)hash_text(text) & (set->n_slots - 1);
    while (set->slots[at] != 0) {
        const size_t index = set->slots[at] - 1;
        if (strcmp(set->texts[index], text) == 0) return index;
        at = (at + 1) & (set->n_slots - 1);
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 1024;
        const char **texts = realloc(set->texts, cap * sizeof *texts);
        if (texts == NULL) return (size_t)-1;
        set->texts = texts;
        set->cap = cap;
    }
    set->texts[set->n] = text;
    set->slots[at] = ++set->n;
    return set->n - 1;
}

void llmbed_text_set_free(llmbed_text_set *set) {
    free(set->texts);
    free(set->slots);
    memset(set, 0, sizeof *set);
}
