/* Correlation coefficients for `llmbed eval sts`, in double precision.
 * Spearman is Pearson's r of the ranks, ties given the average of the ranks
 * they span (scipy.stats.spearmanr, SentEval and MTEB do the same). */
#ifndef LLMBED_EVAL_CORRELATION_H
#define LLMBED_EVAL_CORRELATION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pearson's r of x[n], y[n]; NaN when n < 2 or either is constant. */
double llmbed_pearson(const double *x, const double *y, size_t n);

/* Spearman's rho with average ranks for ties; NaN as Pearson. -2 (an
 * impossible value) when out of memory. */
double llmbed_spearman(const double *x, const double *y, size_t n);

/* ranks[n] = 1-based ranks of x, ties averaged. Returns 0, -1 when out of memory. */
int llmbed_average_ranks(const double *x, size_t n, double *ranks);

#ifdef __cplusplus
}
#endif

#endif
