/* Projections: y[T, n_out] = alpha * x[T, n_in] W^T (+ bias | + y), W
 * [n_out, n_in] row-major as HF nn.Linear stores it, held in any
 * representation of model/weight.h. A bias is added after the product; the
 * residual form (accumulate) is the Llama/MiniCPM residual add
 * h = h + sublayer(x) * residual_scale.
 *
 * The product is the tiled kernel of gemm_kernels.h: W is taken NR = 32 rows
 * at a time, converted to fp32 (dequantised for GGUF blocks, widened for
 * F16/BF16: the exact values the fp32 path stores) and transposed into a
 * k-major panel of the thread's scratch, then every row of x runs against
 * that panel. So the weights stay compact in memory (--weights native) and
 * are expanded one panel at a time, once per GEMM; and every output element
 * is one sequential FMA chain over k, which makes rows independent of the
 * batch, of the thread count and of the representation the weights are
 * held in (bit-identical; issue 24 items 1 and 3).
 *
 * Several projections of the same x (q/k/v, gate/up) run as one GEMM over
 * their concatenated output columns: the columns are cut into one slice per
 * thread of the OpenMP team, and each thread runs the panels of its slice. */
#include <omp.h>
#include <stdint.h>

#include "cpu/cpu_ops.h"
#include "cpu/gemm_kernels.h"

enum { NR = LLMBED_GEMM_NR, PACK_K = LLMBED_GEMM_PACK_K, ALIGN_FLOATS = 16 };

/* Per thread: the panel [n_in, NR] and the fp32 rows of one PACK_K step of
 * a non-fp32 weight [NR, PACK_K], each 64-byte aligned. */
static size_t thread_floats(int n_in) {
    const size_t panel = ((size_t)n_in * NR + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return panel + (size_t)NR * PACK_K;
}

size_t llmbed_cpu_gemm_scratch_floats(int n_in, int n_threads) {
    return (size_t)(n_threads < 1 ? 1 : n_threads) * thread_floats(n_in) + ALIGN_FLOATS;
}

static float *align_floats(float *p) {
    const uintptr_t a = ((uintptr_t)p + 63) & ~(uintptr_t)63;
    return (float *)a;
}

/* Rows [n0, n0 + nr) of W as a k-major panel. */
static void pack_panel(const llmbed_gemm_kernels *kernels, const llmbed_weight *w, int n0, int nr, float *panel,
                       float *rows) {
    const int K = (int)w->cols;
    const float *f32 = llmbed_weight_f32(w);
    for (int kc = 0; kc < K; kc += PACK_K) {
        const int n_k = K - kc < PACK_K ? K - kc : PACK_K;
        if (f32 != NULL) {
            kernels->transpose(nr, n_k, f32 + (size_t)n0 * K + kc, (size_t)K, panel + (size_t)kc * NR);
        } else {
            for (int r = 0; r < nr; r++) llmbed_weight_slice_to_f32(w, n0 + r, kc, n_k, rows + (size_t)r * PACK_K);
            kernels->transpose(nr, n_k, rows, PACK_K, panel + (size_t)kc * NR);
        }
    }
}

/* Columns [c_begin, c_end) of one projection. */
static void project_columns(const llmbed_gemm_kernels *kernels, int n_tokens, int n_in, const float *x,
                            const llmbed_cpu_projection *p, int c_begin, int c_end, float *panel, float *rows) {
    for (int n0 = c_begin; n0 < c_end; n0 += NR) {
        const int nr = c_end - n0 < NR ? c_end - n0 : NR;
        pack_panel(kernels, p->w, n0, nr, panel, rows);
        const llmbed_gemm_out out = {p->y + n0, p->ldy, p->bias != NULL ? p->bias + n0 : NULL, p->alpha,
                                     p->accumulate};
        kernels->sweep(n_tokens, nr, n_in, x, n_in, panel, &out);
    }
}

void llmbed_cpu_linear_fused(int n_tokens, int n_in, const float *x, int n_proj, const llmbed_cpu_projection *proj,
                             float *scratch) {
    const llmbed_gemm_kernels *kernels = llmbed_gemm_kernels_best();
    int total = 0;
    for (int i = 0; i < n_proj; i++) total += proj[i].n_out;
#pragma omp parallel
    {
        const int n_threads = omp_get_num_threads(), id = omp_get_thread_num();
        float *panel = align_floats(scratch) + (size_t)id * thread_floats(n_in);
        float *rows = panel + thread_floats(n_in) - (size_t)NR * PACK_K;
        int slice = (total + n_threads - 1) / n_threads;
        slice = (slice + NR - 1) / NR * NR;
        const int s_begin = id * slice < total ? id * slice : total;
        const int s_end = s_begin + slice < total ? s_begin + slice : total;
        int first_col = 0; /* of projection i within the concatenation */
        for (int i = 0; i < n_proj; i++) {
            const int lo = s_begin > first_col ? s_begin : first_col;
            const int hi = s_end < first_col + proj[i].n_out ? s_end : first_col + proj[i].n_out;
            if (hi > lo)
                project_columns(kernels, n_tokens, n_in, x, &proj[i], lo - first_col, hi - first_col, panel, rows);
            first_col += proj[i].n_out;
        }
    }
}

void llmbed_cpu_linear(int n_tokens, int n_in, int n_out, const float *x, const float *w, const float *bias,
                       float alpha, int accumulate, float *y, int ldy, float *scratch) {
    const llmbed_weight weight = llmbed_weight_of_f32(w, n_out, n_in);
    const llmbed_cpu_projection p = {&weight, bias, n_out, alpha, accumulate, y, ldy};
    llmbed_cpu_linear_fused(n_tokens, n_in, x, 1, &p, scratch);
}
