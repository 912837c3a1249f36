/* RoPE, HF rotate_half layout: x[T, row_stride], heads packed from column 0.
 * For head h of token t at position pos (its index within its sequence plus
 * the sequence's position offset) and
 * i < D/2:  angle = pos * inv_freq[seq][i]
 *   x'[i]       = x[i] * cos - x[i + D/2] * sin
 *   x'[i + D/2] = x[i + D/2] * cos + x[i] * sin
 * cos and sin are multiplied by attention_scaling (YaRN). The angle is formed
 * in double: positions in the tens of thousands lose the angle's low bits in
 * fp32, and our goldens are float64. */
#include <math.h>

#include "cpu/cpu_ops.h"

void llmbed_cpu_rope_row(double position, const float *inv_freq, int half, float attention_scaling,
                         float *cos_sin) {
    for (int i = 0; i < half; i++) {
        const double angle = position * (double)inv_freq[i];
        cos_sin[2 * i] = (float)cos(angle) * attention_scaling;
        cos_sin[2 * i + 1] = (float)sin(angle) * attention_scaling;
    }
}

void llmbed_cpu_rope(const llmbed_rope_params *p, float *x) {
    const int half = p->head_dim / 2;
    for (int s = 0; s < p->n_seqs; s++) {
        const int begin = p->seq_offsets[s], end = p->seq_offsets[s + 1];
        const int first_position = p->position_offsets != NULL ? p->position_offsets[s] : 0;
        const float *inv_freq = p->inv_freq + (size_t)s * half;
#pragma omp parallel for schedule(static)
        for (int t = begin; t < end; t++) {
            float cos_sin[2 * LLMBED_CPU_MAX_HEAD_DIM];
            llmbed_cpu_rope_row(first_position + (t - begin), inv_freq, half, p->attention_scaling, cos_sin);
            float *row = x + (size_t)t * p->row_stride;
            for (int i = 0; i < half; i++) {
                const float c = cos_sin[2 * i], sn = cos_sin[2 * i + 1];
                for (int h = 0; h < p->n_heads; h++) {
                    float *xh = row + (size_t)h * p->head_dim;
                    const float x1 = xh[i], x2 = xh[i + half];
                    xh[i] = x1 * c - x2 * sn;
                    xh[i + half] = x2 * c + x1 * sn;
                }
            }
        }
    }
}
