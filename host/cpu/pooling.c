/* Pooling hidden[T, hidden] -> out[n_rows, hidden], row r over hidden rows
 * [begin[r], end[r]):
 *   last:  the range's final token (Qwen3-Embedding, e5-mistral);
 *   first: the range's first token;
 *   mean:  average over the range (LLM2Vec/GritLM start it after the instruction);
 *   weighted mean: token k of the range weighs (k + 1) / sum(1..n), as
 *          SGPT's position-weighted mean (Muennighoff 2022, eq. 1).
 * An empty range pools to zeros. Sums are in double. */
#include <string.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_pooling(const llmbed_pooling_params *p, const float *hidden, float *out) {
    const int C = p->hidden;
#pragma omp parallel for schedule(dynamic)
    for (int r = 0; r < p->n_rows; r++) {
        const int first = p->begin[r], end = p->end[r];
        float *o = out + (size_t)r * C;
        if (first >= end) {
            memset(o, 0, sizeof(float) * C);
            continue;
        }
        if (p->kind == LLMBED_POOL_LAST || p->kind == LLMBED_POOL_FIRST) {
            const int t = p->kind == LLMBED_POOL_LAST ? end - 1 : first;
            memcpy(o, hidden + (size_t)t * C, sizeof(float) * C);
            continue;
        }
        const int n = end - first;
        const double total_weight =
            p->kind == LLMBED_POOL_WEIGHTED_MEAN ? (double)n * (n + 1) / 2.0 : (double)n;
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int k = 0; k < n; k++) {
                const double w = p->kind == LLMBED_POOL_WEIGHTED_MEAN ? k + 1.0 : 1.0;
                acc += w * hidden[(size_t)(first + k) * C + c];
            }
            o[c] = (float)(acc / total_weight);
        }
    }
}
