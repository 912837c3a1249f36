#include "tokenizer/merges.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer/utf8.h"

static uint64_t pair_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static size_t pair_slot(uint64_t key, size_t mask) {
    key ^= key >> 31;
    key *= 0x9e3779b97f4a7c15ULL;
    key ^= key >> 29;
    return (size_t)key & mask;
}

bool tok_merges_init(tok_merges *m, size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected + 2) cap *= 2;
    m->slots = malloc(cap * sizeof *m->slots);
    if (m->slots == NULL) return false;
    for (size_t i = 0; i < cap; i++) m->slots[i].key = UINT64_MAX;
    m->mask = cap - 1;
    m->count = 0;
    return true;
}

static bool grow(tok_merges *m) {
    tok_merges bigger;
    if (!tok_merges_init(&bigger, (m->mask + 1))) return false;
    for (size_t i = 0; i <= m->mask; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        size_t slot = pair_slot(m->slots[i].key, bigger.mask);
        while (bigger.slots[slot].key != UINT64_MAX) slot = (slot + 1) & bigger.mask;
        bigger.slots[slot] = m->slots[i];
        bigger.count++;
    }
    free(m->slots);
    *m = bigger;
    return true;
}

bool tok_merges_add(tok_merges *m, int32_t left, int32_t right, int32_t rank, int32_t merged,
                    bool *duplicate) {
    *duplicate = false;
    if (2 * (m->count + 1) > m->mask + 1 && !grow(m)) return false;
    uint64_t key = pair_key(left, right);
    size_t slot = pair_slot(key, m->mask);
    while (m->slots[slot].key != UINT64_MAX) {
        if (m->slots[slot].key == key) {
            *duplicate = true;
            return true;
        }
        slot = (slot + 1) & m->mask;
    }
    m->slots[slot] = (tok_merge_entry){key, rank, merged};
    m->count++;
    return true;
}

const tok_merge_entry *tok_merges_find(const tok_merges *m, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    if (key == UINT64_MAX) return NULL; /* (-1, -1) is the empty-slot marker */
    size_t slot = pair_slot(key, m->mask);
    for (;;) {
        const tok_merge_entry *e = &m->slots[slot];
        if (e->key == key) return e;
        if (e->key == UINT64_MAX) return NULL;
        slot = (slot + 1) & m->mask;
    }
}

void tok_merges_free(tok_merges *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int compare_scores_desc(const void *a, const void *b, void *scores) {
    float sa = ((const float *)scores)[*(const int32_t *)a];
    float sb = ((const float *)scores)[*(const int32_t *)b];
    return sa > sb ? -1 : sa < sb ? 1 : 0;
}

bool tok_merges_from_scores(tok_merges *m, const tok_vocab *vocab) {
    int32_t n = vocab->n_tokens;
    int32_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int32_t *rank = malloc((size_t)(n > 0 ? n : 1) * sizeof *rank);
    if (!order || !rank || !tok_merges_init(m, (size_t)n * 2)) {
        free(order);
        free(rank);
        return false;
    }
    int32_t count = 0;
    for (int32_t id = 0; id < n; id++) {
        uint8_t t = vocab->type[id];
        if (tok_vocab_has(vocab, id) && (t == TOK_TYPE_NORMAL || t == TOK_TYPE_USER_DEFINED))
            order[count++] = id;
    }
    qsort_r(order, (size_t)count, sizeof *order, compare_scores_desc, vocab->score);
    int32_t dense = 0;
    for (int32_t i = 0; i < count; i++) {
        if (i > 0 && vocab->score[order[i]] != vocab->score[order[i - 1]]) dense++;
        rank[i] = dense;
    }
    bool ok = true;
    for (int32_t i = 0; i < count && ok; i++) {
        size_t len;
        const char *text = tok_vocab_text(vocab, order[i], &len);
        for (size_t cut = tok_utf8_lead_len((uint8_t)text[0]); cut < len;
             cut += tok_utf8_lead_len((uint8_t)text[cut])) {
            int32_t left = tok_vocab_find(vocab, text, cut);
            if (left < 0) continue;
            int32_t right = tok_vocab_find(vocab, text + cut, len - cut);
            if (right < 0) continue;
            bool duplicate;
            if (!tok_merges_add(m, left, right, rank[i], order[i], &duplicate)) ok = false;
        }
    }
    free(order);
    free(rank);
    return ok;
}

bool tok_merges_from_order(tok_merges *m, const tok_vocab *vocab) {
    const int32_t n = vocab->n_tokens;
    if (!tok_merges_init(m, (size_t)n * 2)) return false;
    size_t *cuts = NULL, cut_capacity = 0;
    int32_t rank = 0;
    bool ok = true;
    for (int32_t id = 0; id < n && ok; id++) {
        if (!tok_vocab_has(vocab, id)) continue;
        size_t len;
        const char *text = tok_vocab_text(vocab, id, &len);
        size_t n_cuts = 0;
        for (size_t cut = len ? tok_utf8_lead_len((uint8_t)text[0]) : 0; cut < len;
             cut += tok_utf8_lead_len((uint8_t)text[cut])) {
            if (n_cuts == cut_capacity) {
                size_t *grown = realloc(cuts, (cut_capacity = cut_capacity ? 2 * cut_capacity : 64) * sizeof *cuts);
                if (grown == NULL) {
                    ok = false;
                    break;
                }
                cuts = grown;
            }
            cuts[n_cuts++] = cut;
        }
        /* the longer left piece first */
        for (size_t k = n_cuts; k-- > 0 && ok;) {
            int32_t left = tok_vocab_find(vocab, text, cuts[k]);
            if (left < 0) continue;
            int32_t right = tok_vocab_find(vocab, text + cuts[k], len - cuts[k]);
            if (right < 0) continue;
            bool duplicate;
            if (!tok_merges_add(m, left, right, rank++, id, &duplicate)) ok = false;
        }
    }
    free(cuts);
    return ok;
}
