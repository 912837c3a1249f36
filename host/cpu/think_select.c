/* ThinK channel selection (Xu et al. 2024, "ThinK: Thinner Key Cache by
 * Query-Driven Pruning", eq. 3-4; exact form in SPEC §5): for each KV head g,
 *   score[c] = mean_{t in obs, h in group(g)} Q[t, h, c]^2 * mean_{s in chunk} K[s, c]^2
 * and the `kept` highest-scoring channels, ties to the lower index, stored
 * in ascending order. Sums in double: the selection must not depend on the
 * summation order where scores differ in the last float bits. */
#include <math.h>

#include "cpu/cpu_ops.h"

/* The ranking is a strict total order, so exactly `kept` channels are kept
 * whatever the scores: a higher score first, ties to the lower index, and a
 * NaN score (a NaN/inf activation upstream) below every number. The kernel
 * (kernels/think_select.cu) ranks by the same rule. */
static int ranks_above(double a, int a_index, double b, int b_index) {
    if (isnan(a) || isnan(b)) return !isnan(a) || (isnan(b) && a_index < b_index);
    return a > b || (a == b && a_index < b_index);
}

void llmbed_cpu_think_select(const llmbed_think_select_params *p, const float *q, const float *k,
                             const llmbed_kv_cache_view *view) {
    const int D = p->head_dim, group = p->n_heads / p->n_kv_heads;
    const int q_stride = p->n_heads * D, k_stride = p->n_kv_heads * D;
    const int obs_first = p->row_end - p->n_observed, n_keys = p->row_end - p->row_begin;
    double score[LLMBED_CPU_MAX_HEAD_DIM];
    for (int g = 0; g < p->n_kv_heads; g++) {
        for (int c = 0; c < D; c++) {
            double q2 = 0.0, k2 = 0.0;
            for (int t = obs_first; t < p->row_end; t++)
                for (int h = g * group; h < (g + 1) * group; h++) {
                    const double x = q[(size_t)t * q_stride + (size_t)h * D + c];
                    q2 += x * x;
                }
            for (int s = p->row_begin; s < p->row_end; s++) {
                const double x = k[(size_t)s * k_stride + (size_t)g * D + c];
                k2 += x * x;
            }
            score[c] = q2 / ((double)p->n_observed * group) * (k2 / n_keys);
        }
        /* channel c is kept when fewer than `kept` channels rank above it */
        int32_t *out = view->kept_channels + ((size_t)g * p->chunk_capacity + p->chunk) * p->kept;
        int n_out = 0;
        for (int c = 0; c < D; c++) {
            int above = 0;
            for (int o = 0; o < D; o++) above += ranks_above(score[o], o, score[c], c);
            if (above < p->kept) out[n_out++] = c;
        }
    }
}
