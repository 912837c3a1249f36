/* RMSNorm: x[n_rows, dim] -> out[n_rows, dim], as HF LlamaRMSNorm:
 * variance = mean(x^2) in fp32, x * rsqrt(variance + eps), then * weight.
 * The sum of squares is accumulated in double so long rows lose nothing. */
#include <math.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_rmsnorm(const llmbed_rmsnorm_params *p, const float *x, const float *weight,
                        float *out) {
    const int N = p->n_rows, C = p->dim;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *o = out + (size_t)r * C;
        double sum_sq = 0.0;
        for (int c = 0; c < C; c++) sum_sq += (double)xr[c] * xr[c];
        const float inv_rms = (float)(1.0 / sqrt(sum_sq / C + (double)p->eps));
        for (int c = 0; c < C; c++) o[c] = xr[c] * inv_rms * weight[c];
    }
}
