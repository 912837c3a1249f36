#include "kernels/pooling.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

/* One block per output row; threads stride over the hidden dimension, each
 * summing its columns over the pooled rows [begin, end) in fp32. */
__global__ void pooling_kernel(llmbed_pool_kind kind, const int32_t *__restrict__ range_begin,
                               const int32_t *__restrict__ range_end, int hidden, const float *__restrict__ x,
                               float *__restrict__ out) {
    int r = blockIdx.x;
    int64_t begin = range_begin[r], end = range_end[r];
    float *o = out + (int64_t)r * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = 0.0f;
        if (begin < end) {
            if (kind == LLMBED_POOL_LAST) {
                v = x[(end - 1) * hidden + i];
            } else if (kind == LLMBED_POOL_FIRST) {
                v = x[begin * hidden + i];
            } else if (kind == LLMBED_POOL_MEAN) {
                for (int64_t t = begin; t < end; t++) v += x[t * hidden + i];
                v /= (float)(end - begin);
            } else {
                /* SGPT position weights 1..n, normalised by their sum n(n+1)/2. */
                for (int64_t t = begin; t < end; t++) v += (float)(t - begin + 1) * x[t * hidden + i];
                float n = (float)(end - begin);
                v /= n * (n + 1.0f) * 0.5f;
            }
        }
        o[i] = v;
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_pooling(const llmbed_pooling_params *p, const float *hidden, float *out,
                                                    cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->hidden <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "pooling: %d rows of %d", p->n_rows, p->hidden);
    if (p->kind != LLMBED_POOL_LAST && p->kind != LLMBED_POOL_MEAN && p->kind != LLMBED_POOL_FIRST &&
        p->kind != LLMBED_POOL_WEIGHTED_MEAN)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "pooling: kind %d has no kernel", (int)p->kind);
    if (p->n_rows == 0) return LLMBED_OK;
    /* the pooled token rows are not known on the host: count one row read per output row */
    const double out_bytes = (double)p->n_rows * p->hidden * 4;
    const llmbed::Launch l = {{"pooling", (double)p->n_rows * p->hidden, 2 * out_bytes + 8.0 * p->n_rows},
                              p->n_rows, 1, 1, 128, 0};
    return llmbed::launch(l, pooling_kernel, stream, error, p->kind, p->begin, p->end, p->hidden, hidden, out);
}
