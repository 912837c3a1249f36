#include "kernels/think_select.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

constexpr int kMaxHeadDim = 256;

/* A strict total order (host/cpu/think_select.c ranks the same way): a higher
 * score first, ties to the lower index, NaN below every number; so exactly
 * `kept` channels are kept and their slots stay inside [0, kept). */
__device__ __forceinline__ bool ranks_above(float a, int a_index, float b, int b_index) {
    if (isnan(a) || isnan(b)) return !isnan(a) || (isnan(b) && a_index < b_index);
    return a > b || (a == b && a_index < b_index);
}

/* One block per kv head, thread c for channel c: its score from the
 * observation queries of the group and the chunk's keys (fp32 sums over
 * bf16 values), then its rank among the scores (ties: lower index first)
 * decides whether it is kept, and the number of kept channels below it its
 * slot in the ascending output. */
__global__ void think_select_kernel(const __nv_bfloat16 *__restrict__ q, int64_t q_stride,
                                    const __nv_bfloat16 *__restrict__ k, int64_t k_stride, int n_heads,
                                    int n_kv_heads, int head_dim, int row_begin, int row_end,
                                    int n_observed, int kept, int chunk, int chunk_capacity, int32_t *kept_channels) {
    __shared__ float score[kMaxHeadDim];
    __shared__ int keep[kMaxHeadDim];
    const int g = (int)blockIdx.x, c = (int)threadIdx.x, group = n_heads / n_kv_heads;
    if (c < head_dim) {
        float q2 = 0.0f, k2 = 0.0f;
        for (int t = row_end - n_observed; t < row_end; t++)
            for (int h = g * group; h < (g + 1) * group; h++) {
                const float x = __bfloat162float(q[t * q_stride + (int64_t)h * head_dim + c]);
                q2 += x * x;
            }
        for (int s = row_begin; s < row_end; s++) {
            const float x = __bfloat162float(k[s * k_stride + (int64_t)g * head_dim + c]);
            k2 += x * x;
        }
        score[c] = q2 / (float)(n_observed * group) * (k2 / (float)(row_end - row_begin));
    }
    __syncthreads();
    if (c < head_dim) {
        int above = 0;
        for (int o = 0; o < head_dim; o++) above += ranks_above(score[o], o, score[c], c);
        keep[c] = above < kept;
    }
    __syncthreads();
    if (c < head_dim && keep[c]) {
        int slot = 0;
        for (int o = 0; o < c; o++) slot += keep[o];
        kept_channels[((int64_t)g * chunk_capacity + chunk) * kept + slot] = c;
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_think_select(const llmbed_think_select_params *p,
                                                         const llmbed_cuda_qkv *qkv, const llmbed_kv_cache_view *view,
                                                         cudaStream_t stream, llmbed_error *error) {
    if (p->n_kv_heads <= 0 || p->n_heads % p->n_kv_heads != 0 || p->head_dim <= 0 || p->row_end <= p->row_begin ||
        p->n_observed < 1 || p->n_observed > p->row_end - p->row_begin || p->kept < 1 || p->kept > p->head_dim ||
        p->chunk < 0 || p->chunk >= p->chunk_capacity)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "think_select: heads %d/%d, head_dim %d, rows [%d, %d), %d observed, keep %d, chunk %d of %d",
                           p->n_heads, p->n_kv_heads, p->head_dim, p->row_begin, p->row_end, p->n_observed, p->kept,
                           p->chunk, p->chunk_capacity);
    if (p->head_dim > kMaxHeadDim)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "think_select: head_dim %d above %d", p->head_dim,
                           kMaxHeadDim);
    const double D = p->head_dim, rows = p->row_end - p->row_begin;
    const double q_reads = (double)p->n_observed * p->n_heads * D, k_reads = rows * p->n_kv_heads * D;
    const llmbed::Launch l = {{"think_select", 2 * (q_reads + k_reads) + p->n_kv_heads * D * D,
                               2 * (q_reads + k_reads) + 4.0 * p->n_kv_heads * p->kept},
                              p->n_kv_heads, 1, 1, kMaxHeadDim, 0};
    return llmbed::launch(l, think_select_kernel, stream, error, reinterpret_cast<const __nv_bfloat16 *>(qkv->q),
                          qkv->q_stride, reinterpret_cast<const __nv_bfloat16 *>(qkv->k), qkv->kv_stride, p->n_heads,
                          p->n_kv_heads, p->head_dim,
                          p->row_begin, p->row_end, p->n_observed, p->kept, p->chunk, p->chunk_capacity,
                          view->kept_channels);
}
