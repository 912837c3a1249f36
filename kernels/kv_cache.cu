#include "kernels/kv_cache.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

/* One block per (row, kv head); threads stride over head_dim. */
__global__ void cache_append_kernel(const uint16_t *__restrict__ k, const uint16_t *__restrict__ v, int64_t kv_stride,
                                    int row_begin, int position, int n_pruned, int head_dim, uint16_t *k_full,
                                    int full_capacity, uint16_t *v_cache, int capacity) {
    const int r = row_begin + (int)blockIdx.x, g = (int)blockIdx.y, pos = position + (int)blockIdx.x;
    const int64_t src = r * kv_stride + (int64_t)g * head_dim;
    uint16_t *k_dst = k_full + ((int64_t)g * full_capacity + (pos - n_pruned)) * head_dim;
    uint16_t *v_dst = v_cache + ((int64_t)g * capacity + pos) * head_dim;
    for (int d = (int)threadIdx.x; d < head_dim; d += (int)blockDim.x) {
        k_dst[d] = k[src + d];
        v_dst[d] = v[src + d];
    }
}

/* One block per kv head. First every moved key is gathered (it still sits
 * in rows [0, moved) of the full part), then the remaining rows shift down
 * by `moved`, `moved` rows per step: a step reads only rows the next steps
 * write, so the barriers between steps make the overlapping move safe. */
__global__ void cache_compact_kernel(int n_pruned, int new_n_pruned, int length, int head_dim, int kept,
                                     const int32_t *__restrict__ chunk_starts, int n_chunks,
                                     const int32_t *__restrict__ kept_channels, int chunk_capacity,
                                     uint16_t *k_full, int full_capacity, uint16_t *k_pruned, int capacity) {
    const int g = (int)blockIdx.x, moved = new_n_pruned - n_pruned, remaining = length - new_n_pruned;
    uint16_t *full = k_full + (int64_t)g * full_capacity * head_dim;
    for (int i = (int)threadIdx.x; i < moved * kept; i += (int)blockDim.x) {
        const int pos = n_pruned + i / kept, c = i % kept;
        int j = 0;
        while (j + 1 < n_chunks && chunk_starts[j + 1] <= pos) j++;
        const int32_t channel = kept_channels[((int64_t)g * chunk_capacity + j) * kept + c];
        k_pruned[((int64_t)g * capacity + pos) * kept + c] = full[(int64_t)(pos - n_pruned) * head_dim + channel];
    }
    __syncthreads();
    for (int first = 0; first < remaining; first += moved) {
        const int rows = remaining - first < moved ? remaining - first : moved;
        for (int i = (int)threadIdx.x; i < rows * head_dim; i += (int)blockDim.x)
            full[(int64_t)first * head_dim + i] = full[(int64_t)(first + moved) * head_dim + i];
        __syncthreads();
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_cache_append(const llmbed_cache_append_params *p,
                                                         const llmbed_cuda_qkv *qkv, const llmbed_kv_cache_view *view,
                                                         cudaStream_t stream, llmbed_error *error) {
    const int rows = p->row_end - p->row_begin;
    if (rows < 0 || p->n_kv_heads <= 0 || p->head_dim <= 0 || p->position < p->n_pruned ||
        p->position + rows > view->capacity || p->position + rows - p->n_pruned > view->full_capacity)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "cache_append: %d rows at position %d (%d pruned) into a cache of %d positions, %d full keys",
                           rows, p->position, p->n_pruned, view->capacity, view->full_capacity);
    if (rows == 0) return LLMBED_OK;
    const double n = (double)rows * p->n_kv_heads * p->head_dim;
    const llmbed::Launch l = {{"cache_append", 0.0, 8 * n}, rows, p->n_kv_heads, 1, 128, 0};
    return llmbed::launch(l, cache_append_kernel, stream, error, (const uint16_t *)qkv->k, (const uint16_t *)qkv->v,
                          qkv->kv_stride, p->row_begin, p->position, p->n_pruned, p->head_dim,
                          (uint16_t *)view->k_full, view->full_capacity,
                          (uint16_t *)view->v, view->capacity);
}

LLMBED_KERNEL_API llmbed_status llmbed_cuda_cache_compact(const llmbed_cache_compact_params *p,
                                                          const llmbed_kv_cache_view *view, cudaStream_t stream,
                                                          llmbed_error *error) {
    if (p->n_kv_heads <= 0 || p->head_dim <= 0 || p->n_pruned < 0 || p->new_n_pruned > p->length ||
        p->length > view->capacity || p->length - p->n_pruned > view->full_capacity || view->kept <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "cache_compact: prune [%d, %d) of %d positions (capacity %d, %d full, keep %d)",
                           p->n_pruned, p->new_n_pruned, p->length, view->capacity, view->full_capacity, view->kept);
    if (p->new_n_pruned <= p->n_pruned) return LLMBED_OK;
    const double kv = p->n_kv_heads, moved = p->new_n_pruned - p->n_pruned, remaining = p->length - p->new_n_pruned;
    /* gathered keys read and written, then the remaining full keys moved down */
    const double bytes = kv * (moved * view->kept * 4 + remaining * p->head_dim * 4);
    const llmbed::Launch l = {{"cache_compact", 0.0, bytes}, p->n_kv_heads, 1, 1, 256, 0};
    return llmbed::launch(l, cache_compact_kernel, stream, error, p->n_pruned, p->new_n_pruned, p->length,
                          p->head_dim, view->kept, (const int32_t *)view->chunk_starts, view->n_chunks,
                          (const int32_t *)view->kept_channels, view->chunk_capacity, (uint16_t *)view->k_full,
                          view->full_capacity, (uint16_t *)view->k_pruned, view->capacity);
}
