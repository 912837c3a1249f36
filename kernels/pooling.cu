#include "kernels/pooling.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

/* One block per output row, a thread per hidden column: bit for bit the CPU
 * reference (host/cpu/pooling.c), which sums each column over the range in
 * order, in double, weight (k + 1) for SGPT's weighted mean, then divides
 * by the total weight; products and sums are rounded separately (no fused
 * multiply-add, as on the CPU). An empty range pools to zeros. */
__global__ void pooling_kernel(llmbed_pool_kind kind, const int32_t *__restrict__ range_begin,
                               const int32_t *__restrict__ range_end, int hidden, const float *__restrict__ x,
                               float *__restrict__ out) {
    const int r = (int)blockIdx.x;
    const int64_t begin = range_begin[r], end = range_end[r];
    float *o = out + (int64_t)r * hidden;
    const bool weighted = kind == LLMBED_POOL_WEIGHTED_MEAN;
    const double n = (double)(end - begin), total = weighted ? n * (n + 1) / 2.0 : n;
    for (int i = (int)threadIdx.x; i < hidden; i += (int)blockDim.x) {
        float v = 0.0f;
        if (begin < end) {
            if (kind == LLMBED_POOL_LAST || kind == LLMBED_POOL_FIRST) {
                v = x[(kind == LLMBED_POOL_LAST ? end - 1 : begin) * hidden + i];
            } else {
                double acc = 0.0;
                for (int64_t t = begin; t < end; t++) {
                    const double w = weighted ? (double)(t - begin) + 1.0 : 1.0;
                    acc = __dadd_rn(acc, __dmul_rn(w, (double)x[t * hidden + i]));
                }
                v = (float)(acc / total);
            }
        }
        o[i] = v;
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_pooling(const llmbed_pooling_params *p, const float *hidden, float *out,
                                                    int n_tokens, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->hidden <= 0 || n_tokens < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "pooling: %d rows of %d over %d tokens", p->n_rows,
                           p->hidden, n_tokens);
    if (p->kind != LLMBED_POOL_LAST && p->kind != LLMBED_POOL_MEAN && p->kind != LLMBED_POOL_FIRST &&
        p->kind != LLMBED_POOL_WEIGHTED_MEAN)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "pooling: kind %d has no kernel", (int)p->kind);
    if (p->n_rows == 0) return LLMBED_OK;
    /* ranges are device data: a mean reads at most every token row once, last/first one row per output row */
    const double H = p->hidden, out_bytes = (double)p->n_rows * H * 4;
    const bool reduces = p->kind == LLMBED_POOL_MEAN || p->kind == LLMBED_POOL_WEIGHTED_MEAN;
    const double in_bytes = reduces ? (double)n_tokens * H * 4 : out_bytes;
    const llmbed::Launch l = {{"pooling", reduces ? 2.0 * n_tokens * H : 0.0, in_bytes + out_bytes + 8.0 * p->n_rows},
                              p->n_rows, 1, 1, 128, 0};
    return llmbed::launch(l, pooling_kernel, stream, error, p->kind, p->begin, p->end, p->hidden, hidden, out);
}
