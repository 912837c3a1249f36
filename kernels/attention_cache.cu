#include "kernels/attention_cache.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

namespace {

/* A block takes BLOCK_Q queries of one sequence and head and walks the key
 * segments in BLOCK_K-key tiles held in shared memory as fp32: a thread per
 * (query, key) score, a thread per query for the online softmax
 * (Milakov & Gimelshein 2018), a thread per (query, dim) for P V. No tensor
 * cores: the cached path is correct first; the packed varlen kernel
 * (attention.cu) is the fast one for sequences without a cache. */
constexpr int BLOCK_Q = 16, BLOCK_K = 16, MAX_D = 128, THREADS = 128;

struct Segment {
    const __nv_bfloat16 *k; /* row 0 of the segment's keys */
    int64_t k_stride;       /* elements between keys */
    const int32_t *channels; /* kept channels of a pruned chunk; nullptr: all */
    int width;
    const __nv_bfloat16 *v;
    int64_t v_stride;
    int n;
    bool causal; /* the sequence's own keys: query i sees key j <= i */
};

struct Tile {
    float q[BLOCK_Q][MAX_D];
    float k[BLOCK_K][MAX_D];
    float v[BLOCK_K][MAX_D];
    float s[BLOCK_Q][BLOCK_K];
    float acc[BLOCK_Q][MAX_D];
    float m[BLOCK_Q], l[BLOCK_Q], corr[BLOCK_Q];
};

__device__ void fold_segment(Tile &t, const Segment &seg, int q_first, int n_q, int head_dim, float scale) {
    for (int k_first = 0; k_first < seg.n; k_first += BLOCK_K) {
        const int n_k = seg.n - k_first < BLOCK_K ? seg.n - k_first : BLOCK_K;
        for (int i = (int)threadIdx.x; i < BLOCK_K * head_dim; i += THREADS) {
            const int j = i / head_dim, d = i % head_dim;
            t.k[j][d] = j < n_k && d < seg.width ? __bfloat162float(seg.k[(int64_t)(k_first + j) * seg.k_stride + d]) : 0.0f;
            t.v[j][d] = j < n_k ? __bfloat162float(seg.v[(int64_t)(k_first + j) * seg.v_stride + d]) : 0.0f;
        }
        __syncthreads();
        for (int i = (int)threadIdx.x; i < BLOCK_Q * BLOCK_K; i += THREADS) {
            const int r = i / BLOCK_K, j = i % BLOCK_K;
            const bool visible = r < n_q && j < n_k && (!seg.causal || k_first + j <= q_first + r);
            float dot = 0.0f;
            if (visible)
                for (int c = 0; c < seg.width; c++) dot += t.q[r][seg.channels ? seg.channels[c] : c] * t.k[j][c];
            t.s[r][j] = visible ? dot * scale : -INFINITY;
        }
        __syncthreads();
        if ((int)threadIdx.x < BLOCK_Q) {
            const int r = (int)threadIdx.x;
            float m_new = t.m[r];
            for (int j = 0; j < BLOCK_K; j++) m_new = t.s[r][j] > m_new ? t.s[r][j] : m_new;
            const bool any = m_new != -INFINITY;
            const float corr = any ? expf(t.m[r] - m_new) : 1.0f;
            float sum = 0.0f;
            for (int j = 0; j < BLOCK_K; j++) {
                const float p = any && t.s[r][j] != -INFINITY ? expf(t.s[r][j] - m_new) : 0.0f;
                t.s[r][j] = p;
                sum += p;
            }
            t.l[r] = t.l[r] * corr + sum;
            t.m[r] = m_new;
            t.corr[r] = corr;
        }
        __syncthreads();
        for (int i = (int)threadIdx.x; i < BLOCK_Q * head_dim; i += THREADS) {
            const int r = i / head_dim, d = i % head_dim;
            float a = t.acc[r][d] * t.corr[r];
            for (int j = 0; j < BLOCK_K; j++) a += t.s[r][j] * t.v[j][d];
            t.acc[r][d] = a;
        }
        __syncthreads();
    }
}

__global__ void __launch_bounds__(THREADS)
    attention_cache_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                           const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ out,
                           const int32_t *__restrict__ seq_offsets, const int32_t *__restrict__ cache_lens,
                           int n_heads, int n_kv_heads, int head_dim, float scale, llmbed_kv_cache_view cache) {
    __shared__ Tile t;
    const int s = (int)blockIdx.z, h = (int)blockIdx.y, g = h / (n_heads / n_kv_heads);
    const int begin = seq_offsets[s], len = seq_offsets[s + 1] - begin, q_first = (int)blockIdx.x * BLOCK_Q;
    if (q_first >= len) return;
    const int n_q = len - q_first < BLOCK_Q ? len - q_first : BLOCK_Q;
    const int q_stride = n_heads * head_dim, kv_stride = n_kv_heads * head_dim;
    for (int i = (int)threadIdx.x; i < BLOCK_Q * head_dim; i += THREADS) {
        const int r = i / head_dim, d = i % head_dim;
        t.q[r][d] = r < n_q ? __bfloat162float(q[(int64_t)(begin + q_first + r) * q_stride + h * head_dim + d]) : 0.0f;
        t.acc[r][d] = 0.0f;
    }
    if ((int)threadIdx.x < BLOCK_Q) {
        t.m[threadIdx.x] = -INFINITY;
        t.l[threadIdx.x] = 0.0f;
    }
    __syncthreads();
    const int n_cached = cache_lens != nullptr ? cache_lens[s] : 0;
    const int pruned_end = n_cached < cache.n_pruned ? n_cached : cache.n_pruned;
    const __nv_bfloat16 *k_pruned = reinterpret_cast<const __nv_bfloat16 *>(cache.k_pruned);
    const __nv_bfloat16 *k_full = reinterpret_cast<const __nv_bfloat16 *>(cache.k_full);
    const __nv_bfloat16 *v_cache = reinterpret_cast<const __nv_bfloat16 *>(cache.v);
    for (int j = 0; j < cache.n_chunks && cache.chunk_starts[j] < pruned_end; j++) {
        const int first = cache.chunk_starts[j];
        const int end = cache.chunk_starts[j + 1] < pruned_end ? cache.chunk_starts[j + 1] : pruned_end;
        const Segment seg = {k_pruned + ((int64_t)g * cache.capacity + first) * cache.kept, cache.kept,
                             cache.kept_channels + ((int64_t)g * cache.chunk_capacity + j) * cache.kept, cache.kept,
                             v_cache + ((int64_t)g * cache.capacity + first) * head_dim, head_dim, end - first, false};
        fold_segment(t, seg, q_first, n_q, head_dim, scale);
    }
    if (n_cached > pruned_end) {
        const Segment seg = {k_full + ((int64_t)g * cache.full_capacity + (pruned_end - cache.n_pruned)) * head_dim,
                             head_dim, nullptr, head_dim,
                             v_cache + ((int64_t)g * cache.capacity + pruned_end) * head_dim, head_dim,
                             n_cached - pruned_end, false};
        fold_segment(t, seg, q_first, n_q, head_dim, scale);
    }
    const Segment own = {k + (int64_t)begin * kv_stride + g * head_dim, kv_stride, nullptr, head_dim,
                         v + (int64_t)begin * kv_stride + g * head_dim, kv_stride, len, true};
    fold_segment(t, own, q_first, n_q, head_dim, scale);
    for (int i = (int)threadIdx.x; i < n_q * head_dim; i += THREADS) {
        const int r = i / head_dim, d = i % head_dim;
        out[(int64_t)(begin + q_first + r) * q_stride + h * head_dim + d] = __float2bfloat16_rn(t.acc[r][d] / t.l[r]);
    }
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention_cache(const llmbed_attention_params *p, int max_seq_len,
                                                            const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                                            uint16_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_seqs <= 0 || p->n_kv_heads <= 0 || p->n_heads % p->n_kv_heads != 0 || p->head_dim <= 0 ||
        p->head_dim % 2 != 0 || !p->causal || p->cache == nullptr || max_seq_len < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "attention_cache: %d sequences, heads %d/%d, head_dim %d, %s, %s", p->n_seqs, p->n_heads,
                           p->n_kv_heads, p->head_dim, p->causal ? "causal" : "bidirectional (needs causal)",
                           p->cache != nullptr ? "a cache" : "no cache");
    if (p->head_dim > MAX_D)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "attention_cache: head_dim %d above %d", p->head_dim, MAX_D);
    if (max_seq_len == 0) return LLMBED_OK;
    /* Upper bound from the host's view: every query reads the whole cache and its sequence's keys. */
    const double D = p->head_dim, queries = (double)max_seq_len * p->n_seqs * p->n_heads;
    const double keys = (double)p->cache->length + max_seq_len;
    const llmbed::Launch l = {{"attention_cache", 4 * queries * keys * D,
                               queries * D * 4 + (double)p->n_seqs * p->n_kv_heads * keys * D * 4},
                              (max_seq_len + BLOCK_Q - 1) / BLOCK_Q, p->n_heads, p->n_seqs, THREADS, 0};
    return llmbed::launch(l, attention_cache_kernel, stream, error, reinterpret_cast<const __nv_bfloat16 *>(q),
                          reinterpret_cast<const __nv_bfloat16 *>(k), reinterpret_cast<const __nv_bfloat16 *>(v),
                          reinterpret_cast<__nv_bfloat16 *>(out), p->seq_offsets, p->cache_lens, p->n_heads,
                          p->n_kv_heads, p->head_dim, p->scale, *p->cache);
}
