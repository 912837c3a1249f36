#include "kernels/pooling.cuh"

#include "kernels/common/cuda_compat.cuh"

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
                                             cudaStream_t stream) {
    if (p->n_rows < 0 || p->hidden <= 0) return LLMBED_ERR_INVALID_ARGUMENT;
    if (p->kind != LLMBED_POOL_LAST && p->kind != LLMBED_POOL_MEAN && p->kind != LLMBED_POOL_FIRST &&
        p->kind != LLMBED_POOL_WEIGHTED_MEAN)
        return LLMBED_ERR_UNSUPPORTED;
    if (p->n_rows == 0) return LLMBED_OK;
    auto kernel = pooling_kernel;
    LLMBED_LAUNCH(kernel, dim3((unsigned)p->n_rows), dim3(128), stream, p->kind, p->begin, p->end, p->hidden, hidden,
                  out);
    return llmbed_cuda_launch_status();
}
