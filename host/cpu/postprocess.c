/* Post-processing of pooled rows (llmbed_postprocess_params, op_params.h):
 * Matryoshka truncation, L2 normalisation, then the stored element type by
 * the rules of io/row_encode.h. The CPU backend's postprocess op; the CUDA
 * kernel (kernels/postprocess.cu) computes the same bits: the sum of squares
 * is taken in double in the order a warp takes it (32 lane sums, then a
 * butterfly), and each value is x / norm in double, rounded to float once. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "io/row_encode.h"

enum { LANES = 32 };

/* L2 norm of row[0, dims) (1 when not normalising), clamped below by 1e-12. */
static double row_norm(const float *row, int dims, int normalize) {
    if (!normalize) return 1.0;
    double lane[LANES] = {0.0};
    for (int c = 0; c < dims; c++) lane[c % LANES] += (double)row[c] * (double)row[c];
    for (int offset = LANES / 2; offset > 0; offset >>= 1) {
        double next[LANES];
        for (int j = 0; j < LANES; j++) next[j] = lane[j] + lane[j ^ offset];
        memcpy(lane, next, sizeof lane);
    }
    const double norm = sqrt(lane[0]);
    return norm > 1e-12 ? norm : 1e-12;
}

void llmbed_cpu_postprocess(const llmbed_postprocess_params *p, const float *in, void *out, float *scales,
                            float *scratch) {
    const size_t row_bytes = llmbed_row_width((llmbed_output_dtype)p->precision, p->dims) *
                             llmbed_dtype_size((llmbed_output_dtype)p->precision);
    for (int r = 0; r < p->n_rows; r++) {
        const float *x = in + (size_t)r * p->in_dims;
        const double norm = row_norm(x, p->dims, p->normalize);
        for (int c = 0; c < p->dims; c++) scratch[c] = (float)((double)x[c] / norm);
        float scale;
        llmbed_row_encode((llmbed_output_dtype)p->precision, scratch, p->dims, (uint8_t *)out + (size_t)r * row_bytes,
                          &scale);
        if (scales != NULL) scales[r] = scale;
    }
}
