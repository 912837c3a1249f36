/* Matryoshka truncation then L2 normalisation: in[n_rows, in_dims] ->
 * out[n_rows, dims]. Truncation keeps the leading `dims` values and the norm
 * is taken after it (sentence-transformers truncate_dim, then normalize).
 * Like torch.nn.functional.normalize, the norm is clamped below by 1e-12, so
 * an all-zero row stays zero. out may alias in: rows are compacted in
 * increasing order, so row r is written before row r + 1 is read. */
#include <math.h>
#include <string.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_postprocess(const llmbed_postprocess_params *p, const float *in, float *out) {
    for (int r = 0; r < p->n_rows; r++) {
        const float *x = in + (size_t)r * p->in_dims;
        float *o = out + (size_t)r * p->dims;
        memmove(o, x, sizeof(float) * p->dims);
        if (!p->normalize) continue;
        double sum_sq = 0.0;
        for (int c = 0; c < p->dims; c++) sum_sq += (double)o[c] * o[c];
        const double norm = sqrt(sum_sq) > 1e-12 ? sqrt(sum_sq) : 1e-12;
        for (int c = 0; c < p->dims; c++) o[c] = (float)(o[c] / norm);
    }
}
