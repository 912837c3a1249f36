#include "eval/correlation.h"

#include <math.h>
#include <stdlib.h>

double llmbed_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    /* Two passes (centre, then sum products): stable for scores near a large mean. */
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        const double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct keyed {
    double value;
    size_t index;
} keyed;

static int by_value(const void *a, const void *b) {
    const keyed *p = a, *q = b;
    if (p->value < q->value) return -1;
    if (p->value > q->value) return 1;
    return p->index < q->index ? -1 : p->index > q->index;
}

int llmbed_average_ranks(const double *x, size_t n, double *ranks) {
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    if (k == NULL) return -1;
    for (size_t i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, n, sizeof *k, by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && k[j].value == k[i].value) j++;
        /* Positions i..j-1 (ranks i+1..j) share their mean. */
        const double rank = 0.5 * (double)(i + 1 + j);
        for (size_t t = i; t < j; t++) ranks[k[t].index] = rank;
        i = j;
    }
    free(k);
    return 0;
}

double llmbed_spearman(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double *rx = malloc(2 * n * sizeof *rx);
    if (rx == NULL) return -2;
    double *ry = rx + n;
    double r = -2;
    if (llmbed_average_ranks(x, n, rx) == 0 && llmbed_average_ranks(y, n, ry) == 0) r = llmbed_pearson(rx, ry, n);
    free(rx);
    return r;
}
