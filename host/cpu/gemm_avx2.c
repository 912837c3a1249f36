/* AVX2 + FMA kernel set of gemm_kernels.h: each half (16 columns) of a panel
 * in tiles of MR = 6 rows x 16 columns (12 ymm accumulators, 2 for the
 * panel row, 1 broadcast: 15 of the 16 registers). Same arithmetic per
 * element as the other sets; the transpose is the scalar one (AVX2 machines
 * are the fallback here). */
#include "cpu/gemm_sets.h"

#ifdef LLMBED_GEMM_X86
#include <immintrin.h>
#include <stdint.h>

#define TARGET __attribute__((target("avx2,fma")))

enum { NR = LLMBED_GEMM_NR, MR = 6, HALF = 16 };

/* Lanes [0, n) of an 8-lane vector as a maskload/maskstore mask. */
TARGET static __m256i mask_of(int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

static inline __attribute__((always_inline)) TARGET void tile(const int mr, int K, const float *x, int ldx,
                                                              const float *half, const llmbed_gemm_out *o,
                                                              float *y, const float *bias, __m256i m0,
                                                              __m256i m1) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m256 w0 = _mm256_load_ps(half + (size_t)k * NR), w1 = _mm256_load_ps(half + (size_t)k * NR + 8);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m256 xv = _mm256_broadcast_ss(x + (size_t)i * ldx + k);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
    const __m256 alpha = _mm256_set1_ps(o->alpha);
    const __m256 bias0 = bias != NULL ? _mm256_maskload_ps(bias, m0) : _mm256_setzero_ps();
    const __m256 bias1 = bias != NULL ? _mm256_maskload_ps(bias + 8, m1) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *yi = y + (size_t)i * o->ldy;
        __m256 v0 = _mm256_mul_ps(acc[i][0], alpha), v1 = _mm256_mul_ps(acc[i][1], alpha);
        if (bias != NULL) {
            v0 = _mm256_add_ps(v0, bias0);
            v1 = _mm256_add_ps(v1, bias1);
        }
        if (o->accumulate) {
            v0 = _mm256_add_ps(_mm256_maskload_ps(yi, m0), v0);
            v1 = _mm256_add_ps(_mm256_maskload_ps(yi + 8, m1), v1);
        }
        _mm256_maskstore_ps(yi, m0, v0);
        _mm256_maskstore_ps(yi + 8, m1, v1);
    }
}

/* Rows [0, n_rows) of columns [c, c + nc) (nc <= 16) of the panel. */
TARGET static void sweep_half(int n_rows, int c, int nc, int K, const float *x, int ldx, const float *panel,
                              const llmbed_gemm_out *o) {
    const __m256i m0 = mask_of(nc), m1 = mask_of(nc - 8);
    const float *half = panel + c, *bias = o->bias != NULL ? o->bias + c : NULL;
    int m = 0;
    for (; m + MR <= n_rows; m += MR)
        tile(MR, K, x + (size_t)m * ldx, ldx, half, o, o->y + (size_t)m * o->ldy + c, bias, m0, m1);
    const float *xm = x + (size_t)m * ldx;
    float *ym = o->y + (size_t)m * o->ldy + c;
    switch (n_rows - m) {
    case 5: tile(5, K, xm, ldx, half, o, ym, bias, m0, m1); break;
    case 4: tile(4, K, xm, ldx, half, o, ym, bias, m0, m1); break;
    case 3: tile(3, K, xm, ldx, half, o, ym, bias, m0, m1); break;
    case 2: tile(2, K, xm, ldx, half, o, ym, bias, m0, m1); break;
    case 1: tile(1, K, xm, ldx, half, o, ym, bias, m0, m1); break;
    default: break;
    }
}

TARGET static void sweep_avx2(int n_rows, int nr, int K, const float *x, int ldx, const float *panel,
                              const llmbed_gemm_out *o) {
    for (int c = 0; c < nr; c += HALF)
        sweep_half(n_rows, c, nr - c < HALF ? nr - c : HALF, K, x, ldx, panel, o);
}

const llmbed_gemm_kernels llmbed_gemm_avx2 = {"avx2", llmbed_gemm_transpose_scalar, sweep_avx2};
#endif
