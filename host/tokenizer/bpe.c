#include "tokenizer/bpe.h"

#include <stdlib.h>

enum { SCAN_LIMIT = 48 };

/* O(n^2) but branch-light: best for the short words that dominate text. */
static void merge_by_scan(const tok_merges *merges, int32_t *ids, size_t *n) {
    size_t count = *n;
    int32_t rank[SCAN_LIMIT], merged[SCAN_LIMIT];
    for (size_t i = 0; i + 1 < count; i++) {
        const tok_merge_entry *e = tok_merges_find(merges, ids[i], ids[i + 1]);
        rank[i] = e ? e->rank : INT32_MAX;
        merged[i] = e ? e->merged : -1;
    }
    while (count > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < count; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        ids[best] = merged[best];
        for (size_t i = best + 1; i + 1 < count; i++) {
            ids[i] = ids[i + 1];
            rank[i] = rank[i + 1];
            merged[i] = merged[i + 1];
        }
        count--;
        for (size_t i = best > 0 ? best - 1 : 0; i <= best && i + 1 < count; i++) {
            const tok_merge_entry *e = tok_merges_find(merges, ids[i], ids[i + 1]);
            rank[i] = e ? e->rank : INT32_MAX;
            merged[i] = e ? e->merged : -1;
        }
    }
    *n = count;
}

typedef struct candidate {
    int32_t rank;
    int32_t left;  /* symbol position */
    int32_t right; /* symbol position */
    int32_t left_id, right_id, merged;
} candidate;

static bool before(const candidate *a, const candidate *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(candidate *heap, size_t *size, candidate c) {
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&c, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = c;
}

static candidate heap_pop(candidate *heap, size_t *size) {
    candidate top = heap[0];
    candidate last = heap[--(*size)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *size) break;
        if (child + 1 < *size && before(&heap[child + 1], &heap[child])) child++;
        if (!before(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*size > 0) heap[i] = last;
    return top;
}

static void push_pair(const tok_merges *merges, const int32_t *ids, candidate *heap, size_t *size,
                      int32_t left, int32_t right) {
    const tok_merge_entry *e = tok_merges_find(merges, ids[left], ids[right]);
    if (e == NULL) return;
    heap_push(heap, size, (candidate){e->rank, left, right, ids[left], ids[right], e->merged});
}

static bool merge_by_heap(const tok_merges *merges, int32_t *ids, size_t *n) {
    size_t count = *n;
    int32_t *next = malloc(count * sizeof *next);
    int32_t *prev = malloc(count * sizeof *prev);
    /* Each merge pushes at most two candidates: 3n bounds the heap. */
    candidate *heap = malloc(3 * count * sizeof *heap);
    if (!next || !prev || !heap) {
        free(next);
        free(prev);
        free(heap);
        return false;
    }
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        next[i] = i + 1 < count ? (int32_t)(i + 1) : -1;
        prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < count; i++)
        push_pair(merges, ids, heap, &size, (int32_t)i, (int32_t)(i + 1));
    while (size > 0) {
        candidate c = heap_pop(heap, &size);
        /* Stale when either side merged since the candidate was pushed. */
        if (ids[c.left] != c.left_id || next[c.left] != c.right || ids[c.right] != c.right_id)
            continue;
        ids[c.left] = c.merged;
        ids[c.right] = -1;
        next[c.left] = next[c.right];
        if (next[c.right] >= 0) prev[next[c.right]] = c.left;
        if (prev[c.left] >= 0) push_pair(merges, ids, heap, &size, prev[c.left], c.left);
        if (next[c.left] >= 0) push_pair(merges, ids, heap, &size, c.left, next[c.left]);
    }
    size_t out = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) ids[out++] = ids[i];
    *n = out;
    free(next);
    free(prev);
    free(heap);
    return true;
}

bool tok_bpe_merge(const tok_merges *merges, int32_t *ids, size_t *n) {
    if (*n < 2) return true;
    if (*n <= SCAN_LIMIT) {
        merge_by_scan(merges, ids, n);
        return true;
    }
    return merge_by_heap(merges, ids, n);
}
