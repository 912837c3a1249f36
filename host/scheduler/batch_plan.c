#include "scheduler/batch_plan.h"

#include <stdlib.h>

typedef struct length_index {
    int64_t length;
    int index;
} length_index;

static int by_length(const void *a, const void *b) {
    const length_index *x = a, *y = b;
    if (x->length != y->length) return x->length < y->length ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int llmbed_batch_plan(const int64_t *lengths, int n, int64_t budget, int *order, int *batch_starts) {
    batch_starts[0] = 0;
    if (n == 0) return 0;
    length_index *items = malloc((size_t)n * sizeof *items);
    if (items == NULL) return -1;
    for (int i = 0; i < n; i++) items[i] = (length_index){lengths[i], i};
    qsort(items, (size_t)n, sizeof *items, by_length);
    int n_batches = 0;
    int64_t tokens = 0;
    for (int i = 0; i < n; i++) {
        order[i] = items[i].index;
        if (i > 0 && tokens + items[i].length > budget) {
            batch_starts[++n_batches] = i;
            tokens = 0;
        }
        tokens += items[i].length;
    }
    batch_starts[++n_batches] = n;
    free(items);
    return n_batches;
}
