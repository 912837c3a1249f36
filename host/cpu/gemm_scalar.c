/* The reference kernel set of gemm_kernels.h: plain loops, fmaf for the
 * chain over k (exact on every target: hardware FMA or libm's correctly
 * rounded fmaf), so the SIMD sets can be checked against it bit for bit. */
#include <math.h>

#include "cpu/gemm_kernels.h"
#include "cpu/gemm_sets.h"

enum { NR = LLMBED_GEMM_NR };

void llmbed_gemm_transpose_scalar(int nr, int n_k, const float *src, size_t ld, float *panel) {
    for (int k = 0; k < n_k; k++) {
        float *row = panel + (size_t)k * NR;
        for (int r = 0; r < nr; r++) row[r] = src[(size_t)r * ld + k];
        for (int r = nr; r < NR; r++) row[r] = 0.0f;
    }
}

static void sweep_scalar(int n_rows, int nr, int K, const float *x, int ldx, const float *panel,
                         const llmbed_gemm_out *o) {
    for (int m = 0; m < n_rows; m++) {
        const float *xm = x + (size_t)m * ldx;
        float *ym = o->y + (size_t)m * o->ldy;
        for (int n = 0; n < nr; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(xm[k], panel[(size_t)k * NR + n], acc);
            float v = acc * o->alpha; /* separate statements: no contraction into an FMA */
            if (o->bias != NULL) v = v + o->bias[n];
            if (o->accumulate) v = ym[n] + v;
            ym[n] = v;
        }
    }
}

const llmbed_gemm_kernels llmbed_gemm_scalar = {"scalar", llmbed_gemm_transpose_scalar, sweep_scalar};
