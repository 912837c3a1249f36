/* RMSNorm: x[n_rows, dim] -> out[n_rows, dim], as HF LlamaRMSNorm:
 * variance = mean(x^2) in fp32, x * rsqrt(variance + eps), then * weight.
 * The sum of squares is accumulated in double so long rows lose nothing.
 * Gemma3RMSNorm's (1 + w) is folded into the weights at load. The _add form
 * is Gemma's post-branch norm: residual += rmsnorm(branch) * weight. */
#include <math.h>

#include "cpu/cpu_ops.h"

/* 1 / rms of one row of C values. */
static float inverse_rms(const float *xr, int C, float eps) {
    double sum_sq = 0.0;
    for (int c = 0; c < C; c++) sum_sq += (double)xr[c] * xr[c];
    return (float)(1.0 / sqrt(sum_sq / C + (double)eps));
}

void llmbed_cpu_rmsnorm_add(const llmbed_rmsnorm_params *p, const float *x, const float *weight, float *residual) {
    const int N = p->n_rows, C = p->dim;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *o = residual + (size_t)r * C;
        const float inv_rms = inverse_rms(xr, C, p->eps);
        for (int c = 0; c < C; c++) o[c] += xr[c] * inv_rms * weight[c];
    }
}

void llmbed_cpu_rmsnorm(const llmbed_rmsnorm_params *p, const float *x, const float *weight,
                        float *out) {
    const int N = p->n_rows, C = p->dim;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *o = out + (size_t)r * C;
        const float inv_rms = inverse_rms(xr, C, p->eps);
        for (int c = 0; c < C; c++) o[c] = xr[c] * inv_rms * weight[c];
    }
}
