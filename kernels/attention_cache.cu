#include "kernels/attention_cache.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/flash_tile.cuh"
#include "kernels/common/launch.cuh"

namespace {

using flash::kKeys;
using flash::kRows;
using flash::kThreads;

/* A block owns 64 query rows of one sequence (`tokens` tokens x `heads`
 * heads of one key/value group, as attention.cu packs them) and folds three
 * kinds of key segments into one online softmax, all on tensor cores:
 *   - each pruned chunk of the cache: its keys keep `kept` channels, a dense
 *     [n, kept] matrix, so Q is gathered once per chunk to the same channels
 *     ([64, kept] in shared memory, zero-padded to a multiple of 16) and the
 *     scores are one more matrix product (logits keep the full-dim scale,
 *     SPEC §5);
 *   - the cache's full keys (the recent window);
 *   - the sequence's own keys, causally.
 * A sliding window (op_params.h) keeps the keys whose position is within
 * `window` of the query's (cached positions count) and skips the key tiles
 * that no query of the block sees. Values always have every channel. One K and one V tile in shared memory,
 * rows padded by 16 bytes (flash::stride_of) so ldmatrix is conflict-free. */
struct Args {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *out;
    const int32_t *seq_offsets, *cache_lens;
    int64_t q_stride, kv_stride;
    int n_tiles, n_heads, n_kv_heads, head_dim, heads, tokens;
    int window; /* 0: none */
    float scale_log2;
    llmbed_kv_cache_view cache;
};

/* Keys [first, first + n) of a segment: K row i at k + i * k_stride (width
 * channels, 16-byte aligned rows when aligned), V row i at v + i * v_stride. */
struct Segment {
    const __nv_bfloat16 *k;
    int64_t k_stride;
    int width;
    bool aligned;
    const __nv_bfloat16 *v;
    int64_t v_stride;
    int n;
    bool own;      /* the sequence's own keys: causal */
    int first_pos; /* position of key 0 (the cached positions, then the sequence's own after them) */
};

template <int D>
__device__ void load_tile(__nv_bfloat16 *sK, __nv_bfloat16 *sV, const Segment &seg, int n0, int k_width_padded,
                          int head_dim) {
    constexpr int kStride = flash::stride_of(D), kChunks = D / 8;
    for (int c = (int)threadIdx.x; c < kKeys * kChunks; c += kThreads) {
        const int r = c / kChunks, col = (c % kChunks) * 8;
        const bool valid = n0 + r < seg.n;
        const int64_t row = valid ? n0 + r : 0;
        if (col < k_width_padded)
            flash::load_chunk(&sK[r * kStride + col], seg.k + row * seg.k_stride + col, valid, col, seg.width,
                              seg.aligned);
        flash::load_chunk(&sV[r * kStride + col], seg.v + row * seg.v_stride + col, valid, col, head_dim,
                          head_dim == D);
    }
    cp_async_commit();
    cp_async_wait_group<0>();
    __syncthreads();
}

/* token0/token1: this lane's two query tokens, q0 the block's first; a
 * sequence token t is at position n_cached + t. */
template <int D>
__device__ void fold_segment(const Segment &seg, const __nv_bfloat16 *sQ, __nv_bfloat16 *sK, __nv_bfloat16 *sV,
                             float (&o)[D / 8][4], flash::Rows &rows, const Args &a, int token0, int token1,
                             int q0, int n_cached) {
    constexpr int kStride = flash::stride_of(D);
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int padded = (seg.width + 15) / 16 * 16;
    /* the first key tile in the window of the block's first query */
    const int window_start = a.window > 0 ? n_cached + q0 - a.window + 1 - seg.first_pos : 0;
    for (int n0 = window_start > 0 ? window_start / kKeys * kKeys : 0; n0 < seg.n; n0 += kKeys) {
        load_tile<D>(sK, sV, seg, n0, padded, a.head_dim);
        for (int half = 0; half < 2; half++) {
            const int k0 = n0 + half * flash::kStepKeys, n = seg.n, own = seg.own, window = a.window;
            /* query token t sees key k0 + col at distance t + shift - col (positions) */
            const int shift = n_cached - seg.first_pos - k0;
            float sc[flash::kKeyTiles][4];
            flash::scores<D / 16>(sc, sQ, kStride, sK + half * flash::kStepKeys * kStride, kStride, padded / 16,
                                  warp, lane);
            flash::online_softmax<true>(sc, o, rows, a.scale_log2, lane, [=](int i, int col) {
                const int distance = (i ? token1 : token0) + shift - col;
                return k0 + col < n && (!own || distance >= 0) && (window == 0 || distance < window);
            });
            flash::accumulate_pv(o, sc, sV + half * flash::kStepKeys * kStride, kStride, lane);
        }
        __syncthreads(); /* every warp is done with the tiles */
    }
}

template <int D>
__global__ void __launch_bounds__(flash::kThreads) attention_cache_kernel(const Args a) {
    constexpr int kStride = flash::stride_of(D), kChunks = D / 8, kDT = D / 8;
    __nv_bfloat16 *sQ = dynamic_shared<__nv_bfloat16>();
    __nv_bfloat16 *sQg = sQ + kRows * kStride, *sK = sQg + kRows * kStride, *sV = sK + kKeys * kStride;
    const llmbed_kv_cache_view &cache = a.cache;

    const int s = (int)blockIdx.x / a.n_tiles, tile = (int)blockIdx.x % a.n_tiles, hb = (int)blockIdx.y;
    const int seq_start = a.seq_offsets[s], len = a.seq_offsets[s + 1] - seq_start;
    const int q0 = tile * a.tokens;
    if (q0 >= len) return;
    const int g = hb * a.heads / (a.n_heads / a.n_kv_heads);
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31, group = lane >> 2;

    for (int c = (int)threadIdx.x; c < kRows * kChunks; c += kThreads) {
        const int r = c / kChunks, col = (c % kChunks) * 8, token = q0 + r / a.heads;
        const bool valid = r < a.tokens * a.heads && token < len;
        const __nv_bfloat16 *row =
            a.q + (int64_t)(seq_start + (valid ? token : 0)) * a.q_stride + (hb * a.heads + r % a.heads) * a.head_dim;
        flash::load_chunk(&sQ[r * kStride + col], row + col, valid, col, a.head_dim, a.head_dim == D);
    }
    cp_async_commit();
    cp_async_wait_group<0>();
    __syncthreads();

    float o[kDT][4];
LLMBED_UNROLL
    for (int dt = 0; dt < kDT; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    flash::Rows rows;
    flash::init_rows(rows);
    const int token0 = q0 + (warp * 16 + group) / a.heads, token1 = q0 + (warp * 16 + group + 8) / a.heads;

    const int n_cached = a.cache_lens != nullptr ? a.cache_lens[s] : 0;
    const int pruned_end = n_cached < cache.n_pruned ? n_cached : cache.n_pruned;
    const __nv_bfloat16 *k_pruned = reinterpret_cast<const __nv_bfloat16 *>(cache.k_pruned);
    const __nv_bfloat16 *k_full = reinterpret_cast<const __nv_bfloat16 *>(cache.k_full);
    const __nv_bfloat16 *v_cache = reinterpret_cast<const __nv_bfloat16 *>(cache.v);
    for (int j = 0; j < cache.n_chunks && cache.chunk_starts[j] < pruned_end; j++) {
        const int first = cache.chunk_starts[j];
        const int end = cache.chunk_starts[j + 1] < pruned_end ? cache.chunk_starts[j + 1] : pruned_end;
        /* Q gathered to the chunk's kept channels, zero up to a multiple of 16 */
        const int32_t *channels = cache.kept_channels + ((int64_t)g * cache.chunk_capacity + j) * cache.kept;
        const int padded = (cache.kept + 15) / 16 * 16;
        for (int i = (int)threadIdx.x; i < kRows * padded; i += kThreads) {
            const int r = i / padded, c = i % padded;
            sQg[r * kStride + c] = c < cache.kept ? sQ[r * kStride + channels[c]] : __float2bfloat16_rn(0.0f);
        }
        __syncthreads();
        const Segment seg = {k_pruned + ((int64_t)g * cache.capacity + first) * cache.kept, cache.kept, cache.kept,
                             false, v_cache + ((int64_t)g * cache.capacity + first) * a.head_dim, a.head_dim,
                             end - first, false, first};
        fold_segment<D>(seg, sQg, sK, sV, o, rows, a, token0, token1, q0, n_cached);
    }
    if (n_cached > pruned_end) {
        const Segment seg = {k_full + ((int64_t)g * cache.full_capacity + (pruned_end - cache.n_pruned)) * a.head_dim,
                             a.head_dim, a.head_dim, a.head_dim == D,
                             v_cache + ((int64_t)g * cache.capacity + pruned_end) * a.head_dim, a.head_dim,
                             n_cached - pruned_end, false, pruned_end};
        fold_segment<D>(seg, sQ, sK, sV, o, rows, a, token0, token1, q0, n_cached);
    }
    const Segment own = {a.k + (int64_t)seq_start * a.kv_stride + g * a.head_dim, a.kv_stride, a.head_dim,
                         a.head_dim == D, a.v + (int64_t)seq_start * a.kv_stride + g * a.head_dim, a.kv_stride,
                         len < q0 + a.tokens ? len : q0 + a.tokens, true, n_cached};
    fold_segment<D>(own, sQ, sK, sV, o, rows, a, token0, token1, q0, n_cached);

    flash::stage_output(sQ, kStride, o, rows, warp, lane);
    __syncthreads();
    flash::store_output<D>(a.out, sQ, a.n_heads, a.head_dim, a.heads, a.tokens, hb, seq_start, q0, len);
}

typedef llmbed_status (*cache_launcher)(const Args &args, const llmbed_attention_params *p, int max_seq_len,
                                        cudaStream_t stream, llmbed_error *error);

template <int D>
llmbed_status launch_head_dim(const Args &args, const llmbed_attention_params *p, int max_seq_len,
                              cudaStream_t stream, llmbed_error *error) {
    /* Upper bound from the host's view: every query reads the whole cache and its sequence's keys (full
     * width), at most its window. */
    const double hd = p->head_dim, queries = (double)max_seq_len * p->n_seqs * p->n_heads;
    double keys = (double)p->cache->length + max_seq_len;
    if (p->window > 0 && p->window < keys) keys = p->window;
    const size_t shared = (size_t)(2 * kRows + 2 * kKeys) * flash::stride_of(D) * 2;
    const llmbed::Launch l = {{"attention_cache", 4 * queries * keys * hd,
                               queries * hd * 4 + (double)p->n_seqs * p->n_kv_heads * keys * hd * 4},
                              (int64_t)args.n_tiles * p->n_seqs, p->n_heads / args.heads, 1, kThreads, shared};
    return llmbed::launch(l, attention_cache_kernel<D>, stream, error, args);
}

const struct {
    int head_dim;
    cache_launcher launch;
} kDispatch[] = {{16, launch_head_dim<16>}, {32, launch_head_dim<32>},  {64, launch_head_dim<64>},
                 {80, launch_head_dim<80>}, {96, launch_head_dim<96>}, {128, launch_head_dim<128>}};

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention_cache(const llmbed_attention_params *p, int max_seq_len,
                                                            const llmbed_cuda_qkv *qkv, uint16_t *out,
                                                            cudaStream_t stream, llmbed_error *error) {
    if (p->n_seqs <= 0 || p->n_kv_heads <= 0 || p->n_heads % p->n_kv_heads != 0 || p->head_dim <= 0 ||
        p->head_dim % 2 != 0 || !p->causal || p->cache == nullptr || max_seq_len < 0 || p->window < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "attention_cache: %d sequences, heads %d/%d, head_dim %d, %s, %s", p->n_seqs, p->n_heads,
                           p->n_kv_heads, p->head_dim, p->causal ? "causal" : "bidirectional (needs causal)",
                           p->cache != nullptr ? "a cache" : "no cache");
    cache_launcher launch = nullptr;
    for (const auto &entry : kDispatch)
        if (launch == nullptr && entry.head_dim >= p->head_dim) launch = entry.launch;
    if (launch == nullptr)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "attention_cache: head_dim %d above 128", p->head_dim);
    if (max_seq_len == 0) return LLMBED_OK;
    const int heads = flash::heads_per_block(p->n_heads / p->n_kv_heads), tokens = kRows / heads;
    const Args args = {reinterpret_cast<const __nv_bfloat16 *>(qkv->q),
                       reinterpret_cast<const __nv_bfloat16 *>(qkv->k),
                       reinterpret_cast<const __nv_bfloat16 *>(qkv->v),
                       reinterpret_cast<__nv_bfloat16 *>(out),
                       p->seq_offsets,
                       p->cache_lens,
                       qkv->q_stride,
                       qkv->kv_stride,
                       (max_seq_len + tokens - 1) / tokens,
                       p->n_heads,
                       p->n_kv_heads,
                       p->head_dim,
                       heads,
                       tokens,
                       p->window,
                       p->scale * flash::kLog2e,
                       *p->cache};
    return launch(args, p, max_seq_len, stream, error);
}
