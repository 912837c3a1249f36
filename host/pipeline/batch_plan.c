#include "pipeline/batch_plan.h"

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

/* Greedy cuts over lengths taken in `order`. */
static int cut(const int64_t *lengths, int n, int64_t budget, int64_t alone_above, const int *order,
               int *batch_starts) {
    if (alone_above <= 0 || alone_above > budget) alone_above = budget;
    batch_starts[0] = 0;
    if (n == 0) return 0;
    int n_batches = 0;
    int64_t tokens = 0;
    int previous_alone = 0;
    for (int i = 0; i < n; i++) {
        const int64_t length = lengths[order[i]];
        const int alone = length > alone_above;
        if (i > 0 && (tokens + length > budget || alone || previous_alone)) {
            batch_starts[++n_batches] = i;
            tokens = 0;
        }
        tokens += length;
        previous_alone = alone;
    }
    batch_starts[++n_batches] = n;
    return n_batches;
}

int llmbed_batch_plan(const int64_t *lengths, int n, int64_t budget, int64_t alone_above, int *order,
                      int *batch_starts) {
    batch_starts[0] = 0;
    if (n == 0) return 0;
    length_index *items = malloc((size_t)n * sizeof *items);
    if (items == NULL) return -1;
    for (int i = 0; i < n; i++) items[i] = (length_index){lengths[i], i};
    qsort(items, (size_t)n, sizeof *items, by_length);
    for (int i = 0; i < n; i++) order[i] = items[i].index;
    free(items);
    return cut(lengths, n, budget, alone_above, order, batch_starts);
}

int llmbed_batch_plan_in_order(const int64_t *lengths, int n, int64_t budget, int64_t alone_above, int *order,
                               int *batch_starts) {
    for (int i = 0; i < n; i++) order[i] = i;
    return cut(lengths, n, budget, alone_above, order, batch_starts);
}
