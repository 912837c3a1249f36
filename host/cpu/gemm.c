/* Projections: y[T, n_out] = alpha * x[T, n_in] W^T (+ bias | + y), W [n_out, n_in]
 * row-major as HF nn.Linear stores it (cblas_sgemm RowMajor, NoTrans x Trans).
 * A bias is written first and the product accumulated onto it; the residual
 * form (accumulate) is the Llama/MiniCPM residual add
 * h = h + sublayer(x) * residual_scale folded into the GEMM's beta = 1.
 *
 * Several projections of the same x (q/k/v, gate/up) run as one GEMM over
 * their concatenated output columns without copying the weights: the columns
 * are cut into one 64-aligned slice per thread, and each thread issues one
 * single-threaded sgemm per projection its slice overlaps.
 *
 * Threads: the OpenMP team, not OpenBLAS's own pthread pool. With OpenBLAS
 * threading the GEMMs, the OpenMP workers of the surrounding ops spun against
 * it between regions: 15% of a 2-core Qwen3-0.6B forward went to libgomp's
 * spin-wait (perf), and the forward ran ~1.4x slower. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "cpu/cpu_ops.h"

enum { SLICE_ALIGN = 64 };

/* Columns [c_begin, c_end) of one projection. */
static void linear_columns(int n_tokens, int n_in, const float *x, const llmbed_cpu_projection *p, int c_begin,
                           int c_end) {
    const int n = c_end - c_begin;
    float beta = p->accumulate ? 1.0f : 0.0f;
    if (!p->accumulate && p->bias != NULL) {
        for (int t = 0; t < n_tokens; t++)
            memcpy(p->y + (size_t)t * p->ldy + c_begin, p->bias + c_begin, sizeof(float) * n);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, n, n_in, p->alpha, x, n_in,
                llmbed_weight_f32(p->w) + (size_t)c_begin * n_in, n_in, beta, p->y + c_begin, p->ldy);
}

void llmbed_cpu_linear_fused(int n_tokens, int n_in, const float *x, int n_proj,
                             const llmbed_cpu_projection *proj) {
    int total = 0;
    for (int i = 0; i < n_proj; i++) total += proj[i].n_out;
#pragma omp parallel
    {
        const int n_threads = omp_get_num_threads(), id = omp_get_thread_num();
        int slice = (total + n_threads - 1) / n_threads;
        slice = (slice + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
        const int s_begin = id * slice < total ? id * slice : total;
        const int s_end = s_begin + slice < total ? s_begin + slice : total;
        int first_col = 0; /* of projection i within the concatenation */
        for (int i = 0; i < n_proj; i++) {
            const int lo = s_begin > first_col ? s_begin : first_col;
            const int hi = s_end < first_col + proj[i].n_out ? s_end : first_col + proj[i].n_out;
            if (hi > lo) linear_columns(n_tokens, n_in, x, &proj[i], lo - first_col, hi - first_col);
            first_col += proj[i].n_out;
        }
    }
}

void llmbed_cpu_linear(int n_tokens, int n_in, int n_out, const float *x, const float *w,
                       const float *bias, float alpha, int accumulate, float *y, int ldy) {
    const llmbed_weight weight = llmbed_weight_of_f32(w, n_out, n_in);
    const llmbed_cpu_projection p = {&weight, bias, n_out, alpha, accumulate, y, ldy};
    llmbed_cpu_linear_fused(n_tokens, n_in, x, 1, &p);
}
