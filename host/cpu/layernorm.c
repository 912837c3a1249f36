/* LayerNorm: x[n_rows, dim] -> out, as torch.nn.LayerNorm (biased variance,
 * eps inside the square root, then * weight + bias). NV-Embed's PreNorm
 * blocks use it (modeling_nvembed.py). Statistics in double. */
#include <math.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_layernorm(const llmbed_layernorm_params *p, const float *x, const float *weight,
                          const float *bias, float *out) {
    const int N = p->n_rows, C = p->dim;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *o = out + (size_t)r * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mean += xr[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += ((double)xr[c] - mean) * ((double)xr[c] - mean);
        const double inv_std = 1.0 / sqrt(var / C + (double)p->eps);
        for (int c = 0; c < C; c++) o[c] = (float)(((double)xr[c] - mean) * inv_std) * weight[c] + bias[c];
    }
}
