/* GEGLU (Shazeer 2020, "GLU Variants Improve Transformer"), as NV-Embed's
 * FeedForward uses it (modeling_nvembed.py GEGLU: x, gates = y.chunk(2);
 * x * F.gelu(gates), the exact erf GELU: SPEC section 10):
 *   out[t, i] = (y[t, i] + b[i]) * gelu(y[t, inner + i] + b[inner + i]). */
#include <math.h>
#include <stddef.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_geglu(const llmbed_geglu_params *p, const float *y, const float *bias, float *out) {
    const int T = p->n_tokens, F = p->inner;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *row = y + (size_t)t * 2 * F;
        float *o = out + (size_t)t * F;
        for (int i = 0; i < F; i++) {
            const double a = (double)row[i] + (bias != NULL ? bias[i] : 0.0f);
            const double g = (double)row[F + i] + (bias != NULL ? bias[F + i] : 0.0f);
            o[i] = (float)(a * 0.5 * g * (1.0 + erf(g / sqrt(2.0))));
        }
    }
}
