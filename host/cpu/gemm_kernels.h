/* The micro-kernels of the projection GEMM (gemm.c), one set per
 * instruction set. Every set computes each output element the same way:
 *
 *   acc = 0; for k = 0 .. K-1: acc = fma(x[m, k], w[n, k], acc)   (one rounding per step)
 *   y[m, n] = acc * alpha (+ bias[n])      or      y[m, n] = y[m, n] + acc * alpha
 *
 * a sequential chain over k per element whatever the tile, panel, thread or
 * number of rows, so a row of y depends only on its own row of x and on W:
 * rows are bit-identical in any batch, at any position, with any thread
 * count (issue 24 item 3), and on every instruction set (the scalar set uses
 * fmaf; tests/cpu/test_gemm.cpp compares the sets bit for bit).
 *
 * W arrives in panels of NR columns of y (NR rows of W) transposed to
 * k-major, panel[k * NR + r] = w[n0 + r, k], which the caller fills from any
 * stored representation (dequantising a tile to the fp32 values the fp32
 * path holds, so every representation gives the same rows). */
#ifndef LLMBED_CPU_GEMM_KERNELS_H
#define LLMBED_CPU_GEMM_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LLMBED_GEMM_NR = 32,     /* columns of y per panel (two 16-float vectors) */
    LLMBED_GEMM_PACK_K = 256 /* k columns transposed per step (a multiple of every quantisation block) */
};

/* Where a panel's results go: columns [0, nr) of rows [0, n_rows) of y. */
typedef struct llmbed_gemm_out {
    float *y;          /* y[0, 0] of the panel */
    int ldy;           /* row stride of y */
    const float *bias; /* [nr] or NULL (only without accumulate) */
    float alpha;
    int accumulate; /* 1: y += acc * alpha */
} llmbed_gemm_out;

typedef struct llmbed_gemm_kernels {
    const char *name; /* "avx512", "avx2", "scalar" */
    /* panel[k * NR + r] = src[r * ld + k] for r < nr, k < n_k; the other
     * columns of those panel rows are set to 0. */
    void (*transpose)(int nr, int n_k, const float *src, size_t ld, float *panel);
    /* The panel's product with x[n_rows, K] (row stride ldx) into out. */
    void (*sweep)(int n_rows, int nr, int K, const float *x, int ldx, const float *panel, const llmbed_gemm_out *out);
} llmbed_gemm_kernels;

/* The fastest set this CPU runs (AVX-512F, else AVX2 + FMA, else scalar). */
const llmbed_gemm_kernels *llmbed_gemm_kernels_best(void);

/* Every set this CPU runs, fastest first, NULL-terminated (for tests and benchmarks). */
const llmbed_gemm_kernels *const *llmbed_gemm_kernels_available(void);

#ifdef __cplusplus
}
#endif

#endif
