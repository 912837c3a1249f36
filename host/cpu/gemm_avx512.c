/* AVX-512F kernel set of gemm_kernels.h: tiles of MR = 8 rows x 32 columns
 * (16 accumulators), the panel's k-th row loaded as two vectors, x[m, k]
 * broadcast. 8 x 32 ran 87-97 GFLOP/s on one Zen 4 core for the Qwen3-0.6B
 * projections at 512-4096 rows (OpenBLAS 0.3.21's Zen kernels: 87-95), ahead
 * of 6 x 32, 12 x 32 and 6..8 x 48/64 (bench/results/gemm_*.txt). Row
 * counts below MR get their own fully unrolled tile, so short batches keep
 * their accumulators in registers. */
#include "cpu/gemm_sets.h"

#ifdef LLMBED_GEMM_X86
#include <immintrin.h>
#include <stdint.h>

#define TARGET __attribute__((target("avx512f")))

enum { NR = LLMBED_GEMM_NR, MR = 8 };

/* 16 x 16 block: dst[c * dst_ld + r] = src[r * src_ld + c], by the usual
 * unpack / in-lane shuffle / lane shuffle sequence. */
TARGET static void transpose16(const float *src, size_t src_ld, float *dst, size_t dst_ld) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (size_t)i * src_ld);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* r[4q + j], 128-bit lane L: column 4L + j of rows 4q .. 4q + 3. Then
     * t[8q + j] lanes: columns j, 8 + j of rows 8q.. and 8q + 4..;
     * t[8q + 4 + j]: columns 4 + j, 12 + j likewise. */
    for (int q = 0; q < 2; q++)
        for (int j = 0; j < 4; j++) {
            t[8 * q + j] = _mm512_shuffle_f32x4(r[8 * q + j], r[8 * q + 4 + j], 0x88);
            t[8 * q + 4 + j] = _mm512_shuffle_f32x4(r[8 * q + j], r[8 * q + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
    /* r[i] = column i of the 16 rows */
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (size_t)i * dst_ld, r[i]);
}

TARGET static void transpose_avx512(int nr, int n_k, const float *src, size_t ld, float *panel) {
    int k = 0;
    if (nr == NR)
        for (; k + 16 <= n_k; k += 16) {
            transpose16(src + k, ld, panel + (size_t)k * NR, NR);
            transpose16(src + 16 * ld + k, ld, panel + (size_t)k * NR + 16, NR);
        }
    for (; k < n_k; k++) {
        float *row = panel + (size_t)k * NR;
        for (int r = 0; r < nr; r++) row[r] = src[(size_t)r * ld + k];
        for (int r = nr; r < NR; r++) row[r] = 0.0f;
    }
}

static __mmask16 mask_of(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* One tile of mr <= MR rows; inlined with a constant mr so the loops unroll
 * and the accumulators stay in registers. */
static inline __attribute__((always_inline)) TARGET void tile(const int mr, int K, const float *x, int ldx,
                                                              const float *panel, const llmbed_gemm_out *o,
                                                              float *y, __mmask16 m0, __mmask16 m1, __m512 bias0,
                                                              __m512 bias1) {
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m512 w0 = _mm512_load_ps(panel + (size_t)k * NR), w1 = _mm512_load_ps(panel + (size_t)k * NR + 16);
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            const __m512 xv = _mm512_set1_ps(x[(size_t)i * ldx + k]);
            acc[i][0] = _mm512_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
    const __m512 alpha = _mm512_set1_ps(o->alpha);
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *yi = y + (size_t)i * o->ldy;
        __m512 v0 = _mm512_mul_ps(acc[i][0], alpha), v1 = _mm512_mul_ps(acc[i][1], alpha);
        if (o->bias != NULL) {
            v0 = _mm512_add_ps(v0, bias0);
            v1 = _mm512_add_ps(v1, bias1);
        }
        if (o->accumulate) {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, yi), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, yi + 16), v1);
        }
        _mm512_mask_storeu_ps(yi, m0, v0);
        _mm512_mask_storeu_ps(yi + 16, m1, v1);
    }
}

TARGET static void sweep_avx512(int n_rows, int nr, int K, const float *x, int ldx, const float *panel,
                                const llmbed_gemm_out *o) {
    const __mmask16 m0 = mask_of(nr), m1 = mask_of(nr - 16);
    const __m512 bias0 = o->bias != NULL ? _mm512_maskz_loadu_ps(m0, o->bias) : _mm512_setzero_ps();
    const __m512 bias1 = o->bias != NULL ? _mm512_maskz_loadu_ps(m1, o->bias + 16) : _mm512_setzero_ps();
    int m = 0;
    for (; m + MR <= n_rows; m += MR)
        tile(MR, K, x + (size_t)m * ldx, ldx, panel, o, o->y + (size_t)m * o->ldy, m0, m1, bias0, bias1);
    const float *xm = x + (size_t)m * ldx;
    float *ym = o->y + (size_t)m * o->ldy;
    switch (n_rows - m) {
    case 7: tile(7, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 6: tile(6, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 5: tile(5, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 4: tile(4, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 3: tile(3, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 2: tile(2, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    case 1: tile(1, K, xm, ldx, panel, o, ym, m0, m1, bias0, bias1); break;
    default: break;
    }
}

const llmbed_gemm_kernels llmbed_gemm_avx512 = {"avx512", transpose_avx512, sweep_avx512};
#endif
