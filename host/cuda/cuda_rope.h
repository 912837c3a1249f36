/* The CUDA backend's RoPE table: one row of head_dim / 2 (cos, sin) fp32
 * pairs per position, computed on the host by the CPU reference's own
 * formula (llmbed_cpu_rope_row: angle in double, times attention_scaling)
 * so the GPU rotates with the CPU's exact cos/sin, whatever the scaling type.
 *
 * Rows [0, base_rows) hold positions 0.. of the model's base frequencies
 * (every scaling type but dynamic NTK above the trained length, whose
 * frequencies depend on the sequence's length); they are built at load for
 * the batch budget and grown when a forward reaches further. A sequence
 * whose frequencies differ (dynamic NTK) gets rows of its own in the extra
 * region [base_capacity, base_capacity + extra_capacity), rebuilt for each
 * forward. The kernels read row rope_rows[t] for token t. */
#ifndef LLMBED_CUDA_CUDA_ROPE_H
#define LLMBED_CUDA_CUDA_ROPE_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "backend.h"
#include "llmbed.h"

typedef struct llmbed_cuda_rope {
    int half;                /* head_dim / 2 */
    float *base_inv_freq;    /* [half] host */
    float base_scaling;
    float *table;            /* device, [base_capacity + extra_capacity, half, 2] */
    int base_rows;           /* positions built */
    int base_capacity, extra_capacity;
} llmbed_cuda_rope;

/* Base frequencies of the model and a table for positions [0, positions)
 * with room for extra_rows rows of other frequencies. */
llmbed_status llmbed_cuda_rope_init(llmbed_cuda_rope *rope, const llmbed_config *config, int positions,
                                    int extra_rows, cudaStream_t stream, llmbed_error *error);
void llmbed_cuda_rope_free(llmbed_cuda_rope *rope);

/* For one forward: grows the base rows to every position a base-frequency
 * sequence of `in` reaches (synchronising the stream when the table moves),
 * writes each token's row to rows[n_tokens] and the extra rows the other
 * sequences need to extra[n_extra, half, 2] (host), which the caller uploads
 * to table + base_capacity * half * 2 before the kernels run. n_extra <=
 * in->n_tokens <= extra_capacity (the backend's token capacity). */
llmbed_status llmbed_cuda_rope_prepare(llmbed_cuda_rope *rope, const llmbed_forward_inputs *in, int32_t *rows,
                                       float *extra, int *n_extra, cudaStream_t stream, llmbed_error *error);

/* Room for extra_rows rows of other frequencies (grow-only). */
llmbed_status llmbed_cuda_rope_reserve_extra(llmbed_cuda_rope *rope, int extra_rows, cudaStream_t stream,
                                             llmbed_error *error);

#endif
