#include "cuda/cuda_rope.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cpu/cpu_ops.h"
#include "cuda/cuda_check.h"
#include "model/rope_frequencies.h"

static size_t row_floats(const llmbed_cuda_rope *rope) { return (size_t)rope->half * 2; }

/* A table of base_capacity + extra_capacity rows: the base rows kept from
 * the old table (device copy), the new ones computed here. */
static llmbed_status rebuild(llmbed_cuda_rope *rope, int base_capacity, int extra_capacity, cudaStream_t stream,
                             llmbed_error *error) {
    const size_t row_bytes = row_floats(rope) * sizeof(float);
    const int kept = rope->base_rows < base_capacity ? rope->base_rows : base_capacity;
    const size_t added = (size_t)(base_capacity - kept);
    float *host = added > 0 ? (float *)malloc(added * row_bytes) : NULL;
    if (added > 0 && host == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "RoPE table: cannot stage %zu rows", added);
    for (size_t r = 0; r < added; r++)
        llmbed_cpu_rope_row((double)(kept + (int)r), rope->base_inv_freq, rope->half, rope->base_scaling,
                            host + r * row_floats(rope));
    float *table = NULL;
    cudaError_t rc = cudaMalloc((void **)&table, ((size_t)base_capacity + (size_t)extra_capacity) * row_bytes);
    if (rc == cudaSuccess && kept > 0)
        rc = cudaMemcpyAsync(table, rope->table, (size_t)kept * row_bytes, cudaMemcpyDeviceToDevice, stream);
    if (rc == cudaSuccess && added > 0)
        rc = cudaMemcpyAsync(table + (size_t)kept * row_floats(rope), host, added * row_bytes, cudaMemcpyHostToDevice,
                             stream);
    if (rc == cudaSuccess) rc = cudaStreamSynchronize(stream); /* nothing reads the old table any more */
    free(host);
    if (rc != cudaSuccess) {
        if (table != NULL) cudaFree(table);
        return llmbed_fail(error, rc == cudaErrorMemoryAllocation ? LLMBED_ERR_OUT_OF_MEMORY : LLMBED_ERR_CUDA,
                           "RoPE table of %d positions: %s", base_capacity, cudaGetErrorString(rc));
    }
    if (rope->table != NULL) cudaFree(rope->table);
    rope->table = table;
    rope->base_rows = base_capacity;
    rope->base_capacity = base_capacity;
    rope->extra_capacity = extra_capacity;
    return LLMBED_OK;
}

llmbed_status llmbed_cuda_rope_init(llmbed_cuda_rope *rope, const llmbed_config *config, int positions,
                                    int extra_rows, cudaStream_t stream, llmbed_error *error) {
    memset(rope, 0, sizeof *rope);
    rope->half = config->head_dim / 2;
    rope->base_inv_freq = (float *)malloc(sizeof(float) * (size_t)(rope->half > 0 ? rope->half : 1));
    if (rope->base_inv_freq == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "RoPE table: out of memory");
    /* a one-token sequence: every scaling type's base frequencies (dynamic NTK leaves them below its length) */
    LLMBED_TRY(llmbed_rope_frequencies(config, 1, rope->base_inv_freq, &rope->base_scaling, error));
    return rebuild(rope, positions > 0 ? positions : 1, extra_rows > 0 ? extra_rows : 1, stream, error);
}

void llmbed_cuda_rope_free(llmbed_cuda_rope *rope) {
    if (rope == NULL) return;
    if (rope->table != NULL) cudaFree(rope->table);
    free(rope->base_inv_freq);
    memset(rope, 0, sizeof *rope);
}

llmbed_status llmbed_cuda_rope_reserve_extra(llmbed_cuda_rope *rope, int extra_rows, cudaStream_t stream,
                                             llmbed_error *error) {
    if (extra_rows <= rope->extra_capacity) return LLMBED_OK;
    return rebuild(rope, rope->base_capacity, extra_rows, stream, error);
}

static int uses_base(const llmbed_cuda_rope *rope, const llmbed_forward_inputs *in, int s) {
    return in->attention_scaling == rope->base_scaling &&
           memcmp(in->inv_freq + (size_t)s * rope->half, rope->base_inv_freq, sizeof(float) * (size_t)rope->half) == 0;
}

llmbed_status llmbed_cuda_rope_prepare(llmbed_cuda_rope *rope, const llmbed_forward_inputs *in, int32_t *rows,
                                       float *extra, int *n_extra, cudaStream_t stream, llmbed_error *error) {
    int64_t reach = 0; /* positions the base rows must cover */
    for (int s = 0; s < in->n_seqs; s++) {
        const int64_t end = (in->position_offsets != NULL ? in->position_offsets[s] : 0) +
                            (int64_t)(in->seq_offsets[s + 1] - in->seq_offsets[s]);
        if (uses_base(rope, in, s) && end > reach) reach = end;
    }
    if (reach > INT_MAX / 2)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "RoPE table: position %lld", (long long)reach);
    if (reach > rope->base_capacity) {
        const int grown = reach > 2 * (int64_t)rope->base_capacity ? (int)reach : 2 * rope->base_capacity;
        LLMBED_TRY(rebuild(rope, grown, rope->extra_capacity, stream, error));
    }
    *n_extra = 0;
    for (int s = 0; s < in->n_seqs; s++) {
        const int first = in->position_offsets != NULL ? in->position_offsets[s] : 0;
        const int base = uses_base(rope, in, s);
        for (int t = in->seq_offsets[s]; t < in->seq_offsets[s + 1]; t++) {
            const int position = first + (t - in->seq_offsets[s]);
            if (base) {
                rows[t] = position;
                continue;
            }
            if (*n_extra >= rope->extra_capacity)
                return llmbed_fail(error, LLMBED_ERR_INTERNAL, "RoPE table: %d extra rows", rope->extra_capacity);
            rows[t] = rope->base_capacity + *n_extra;
            llmbed_cpu_rope_row(position, in->inv_freq + (size_t)s * rope->half, rope->half, in->attention_scaling,
                                extra + (size_t)*n_extra * row_floats(rope));
            (*n_extra)++;
        }
    }
    return LLMBED_OK;
}
