#include "kernels/attention.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/flash_tile.cuh"
#include "kernels/common/launch.cuh"

namespace {

using flash::kKeys;
using flash::kRows;
using flash::kThreads;

/* What a block needs, passed by value. A block owns 64 rows = `tokens`
 * query tokens x `heads` query heads of one key/value group (row r: token
 * r / heads, head r % heads), so the heads of a GQA group share every K/V
 * tile it loads. */
struct Args {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *out;
    const int32_t *seq_offsets;
    int64_t q_stride, kv_stride;
    int n_tiles, n_heads, n_kv_heads, head_dim, heads, tokens, causal;
    int window; /* sliding window (op_params.h): |token - key| < window; 0: none */
    float scale_log2;
    /* Qwen3's q norm (NULL: none) and RoPE of q, applied here while q is in
     * shared memory (rope_rows NULL: q arrives rotated). */
    const float *q_norm;
    float eps;
    const float2 *cos_sin;
    const int32_t *rope_rows;
};

/* q/k RMSNorm + RoPE of the valid rows of sQ, in place: two threads per row,
 * each rotating half of the row's pairs; the same arithmetic as
 * kernels/qk_norm_rope.cu (fp32, one bf16 rounding). */
template <int D>
__device__ void rope_rows_in_place(__nv_bfloat16 *sQ, const Args &a, int seq_start, int len, int q0) {
    constexpr int kStride = flash::stride_of(D);
    const int r = (int)threadIdx.x >> 1, part = (int)threadIdx.x & 1, half = a.head_dim / 2;
    const int token = q0 + r / a.heads;
    const bool valid = r < a.tokens * a.heads && token < len;
    __nv_bfloat16 *x = sQ + r * kStride;
    const int first = part * ((half + 1) / 2), last = part ? half : (half + 1) / 2;
    float scale = 1.0f;
    if (a.q_norm != nullptr) {
        float sum_sq = 0.0f;
        for (int i = first; i < last; i++) {
            const float x1 = __bfloat162float(x[i]), x2 = __bfloat162float(x[i + half]);
            sum_sq += x1 * x1 + x2 * x2;
        }
        sum_sq += __shfl_xor_sync(0xffffffffu, sum_sq, 1);
        scale = rsqrtf(sum_sq / (float)a.head_dim + a.eps);
    }
    if (!valid) return;
    const float2 *cs = a.cos_sin + (int64_t)a.rope_rows[seq_start + token] * half;
    for (int i = first; i < last; i++) {
        float x1 = __bfloat162float(x[i]) * scale, x2 = __bfloat162float(x[i + half]) * scale;
        if (a.q_norm != nullptr) x1 *= a.q_norm[i], x2 *= a.q_norm[i + half];
        const float2 c = cs[i];
        x[i] = __float2bfloat16_rn(x1 * c.x - x2 * c.y);
        x[i + half] = __float2bfloat16_rn(x2 * c.x + x1 * c.y);
    }
}

/* One 64-key tile of K or V (rows n0.., the group's head) into shared memory. */
template <int D>
__device__ __forceinline__ void load_keys(__nv_bfloat16 *dst, const __nv_bfloat16 *src, const Args &a, int seq_start,
                                          int len, int kvh, int n0) {
    constexpr int kStride = flash::stride_of(D), kChunks = D / 8;
    for (int c = (int)threadIdx.x; c < kKeys * kChunks; c += kThreads) {
        const int r = c / kChunks, col = (c % kChunks) * 8;
        const bool valid = n0 + r < len;
        const __nv_bfloat16 *row = src + (int64_t)(seq_start + (valid ? n0 + r : 0)) * a.kv_stride + kvh * a.head_dim;
        flash::load_chunk(&dst[r * kStride + col], row + col, valid, col, a.head_dim, a.head_dim == D);
    }
}

/* Shared memory: Q (then the output), K and V tiles, rows padded by 16 bytes
 * (flash::stride_of). 52 KB at D = 128: above the 48 KB default, opted in
 * by the launcher; 4 blocks fit an H100 SM (228 KB), 3 an A100's (164 KB).
 *
 * Pipeline (FlashAttention-2's): K_j and V_j are separate cp.async groups,
 * so while the first half of S = Q K_j^T and its softmax run, V_j is still
 * landing, and while the second half's O += P V_j runs, K_{j+1} is; V_{j+1}
 * is issued once every warp is done with V_j and lands during the next
 * tile's first scores. Scores are taken 32 keys at a time (flash_tile.cuh). */
template <int D>
__global__ void __launch_bounds__(flash::kThreads, 4) attention_kernel(const Args a) {
    constexpr int kStride = flash::stride_of(D), kChunks = D / 8, kDT = D / 8;
    __nv_bfloat16 *sQ = dynamic_shared<__nv_bfloat16>();
    __nv_bfloat16 *sK = sQ + kRows * kStride, *sV = sK + kKeys * kStride;

    const int s = (int)blockIdx.x / a.n_tiles, tile = (int)blockIdx.x % a.n_tiles, hb = (int)blockIdx.y;
    const int seq_start = a.seq_offsets[s], len = a.seq_offsets[s + 1] - seq_start;
    const int q0 = tile * a.tokens;
    if (q0 >= len) return;
    const int kvh = hb * a.heads / (a.n_heads / a.n_kv_heads);
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31, group = lane >> 2;
    const int last_token = (len < q0 + a.tokens ? len : q0 + a.tokens) - 1;

    for (int c = (int)threadIdx.x; c < kRows * kChunks; c += kThreads) {
        const int r = c / kChunks, col = (c % kChunks) * 8, token = q0 + r / a.heads;
        const bool valid = r < a.tokens * a.heads && token < len;
        const __nv_bfloat16 *row =
            a.q + (int64_t)(seq_start + (valid ? token : 0)) * a.q_stride + (hb * a.heads + r % a.heads) * a.head_dim;
        flash::load_chunk(&sQ[r * kStride + col], row + col, valid, col, a.head_dim, a.head_dim == D);
    }
    cp_async_commit();
    /* Key tiles any token of the block sees: up to its last token (causal), and
     * with a sliding window from the first token's window start to the last
     * token's window end, in whole tiles. */
    int kv_end = a.causal ? last_token + 1 : len, j_begin = 0;
    if (a.window > 0) {
        j_begin = q0 - a.window + 1 > 0 ? (q0 - a.window + 1) / kKeys : 0;
        if (last_token + a.window < kv_end) kv_end = last_token + a.window;
    }
    const int n_kv = (kv_end + kKeys - 1) / kKeys;
    load_keys<D>(sK, a.k, a, seq_start, len, kvh, j_begin * kKeys);
    cp_async_commit();
    load_keys<D>(sV, a.v, a, seq_start, len, kvh, j_begin * kKeys);
    cp_async_commit();
    cp_async_wait_group<2>(); /* Q */
    __syncthreads();
    if (a.rope_rows != nullptr) {
        rope_rows_in_place<D>(sQ, a, seq_start, len, q0);
        __syncthreads();
    }

    float o[kDT][4];
LLMBED_UNROLL
    for (int dt = 0; dt < kDT; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    flash::Rows rows;
    flash::init_rows(rows);
    /* the tokens of this lane's two rows (rows past the tile's tokens are never stored); two scalars,
     * not an array, which a capturing lambda would move to local memory */
    const int token0 = q0 + (warp * 16 + group) / a.heads, token1 = q0 + (warp * 16 + group + 8) / a.heads;

    for (int j = j_begin; j < n_kv; j++) {
        const int n0 = j * kKeys;
        cp_async_wait_group<1>(); /* K_j */
        __syncthreads();
        /* a tile whose every key precedes the block's first token (and exists), inside every
         * token's window, needs no mask */
        const bool unmasked = (!a.causal || n0 + kKeys - 1 <= q0) && n0 + kKeys <= len &&
                              (a.window == 0 || (n0 > last_token - a.window && n0 + kKeys - 1 < q0 + a.window));
        float sc[flash::kKeyTiles][4];
        /* scores of keys [k0, k0 + 32) of the tile folded into the softmax */
        auto fold = [&](int half) {
            const int k0 = n0 + half * flash::kStepKeys, causal = a.causal, window = a.window;
            flash::scores<D / 16>(sc, sQ, kStride, sK + half * flash::kStepKeys * kStride, kStride, D / 16, warp,
                                  lane);
            if (unmasked)
                flash::online_softmax<false>(sc, o, rows, a.scale_log2, lane, [](int, int) { return true; });
            else
                flash::online_softmax<true>(sc, o, rows, a.scale_log2, lane, [=](int i, int col) {
                    const int distance = (i ? token1 : token0) - (k0 + col);
                    return k0 + col < len && (!causal || distance >= 0) &&
                           (window == 0 || (distance < window && -distance < window));
                });
        };
        fold(0);
        cp_async_wait_group<0>(); /* V_j */
        __syncthreads();          /* ... landed for every thread */
        flash::accumulate_pv(o, sc, sV, kStride, lane);
        fold(1);
        __syncthreads(); /* every warp is done with K_j */
        if (j + 1 < n_kv) load_keys<D>(sK, a.k, a, seq_start, len, kvh, n0 + kKeys);
        cp_async_commit();
        flash::accumulate_pv(o, sc, sV + flash::kStepKeys * kStride, kStride, lane);
        __syncthreads(); /* every warp is done with V_j */
        if (j + 1 < n_kv) load_keys<D>(sV, a.v, a, seq_start, len, kvh, n0 + kKeys);
        cp_async_commit();
    }

    /* rows -> shared (sQ is free: every warp passed its last scores) -> 16-byte stores */
    flash::stage_output(sQ, kStride, o, rows, warp, lane);
    __syncthreads();
    flash::store_output<D>(a.out, sQ, a.n_heads, a.head_dim, a.heads, a.tokens, hb, seq_start, q0, len);
}

typedef llmbed_status (*attention_launcher)(Args args, const llmbed_attention_params *p, int max_seq_len,
                                            cudaStream_t stream, llmbed_error *error);

template <int D>
llmbed_status launch_head_dim(Args args, const llmbed_attention_params *p, int max_seq_len, cudaStream_t stream,
                              llmbed_error *error) {
    /* Upper bound from the host's view (every sequence max_seq_len long): QK^T and PV over the keys a
     * query sees (half the sequence when causal; at most the window, or twice it both ways);
     * q, k, v read once and out written (bf16). */
    const double S = max_seq_len, hd = p->head_dim, heads = p->n_heads, seqs = p->n_seqs;
    double keys = S * (p->causal ? 0.5 : 1.0);
    if (p->window > 0 && (p->causal ? 1.0 : 2.0) * p->window < keys) keys = (p->causal ? 1.0 : 2.0) * p->window;
    const double flops = 4 * seqs * heads * S * keys * hd;
    const double bytes = seqs * S * hd * 2 * (2 * heads + 2 * p->n_kv_heads);
    const size_t shared = (size_t)(kRows + 2 * kKeys) * flash::stride_of(D) * 2;
    const llmbed::Launch l = {{"attention", flops, bytes}, (int64_t)args.n_tiles * p->n_seqs,
                              p->n_heads / args.heads, 1, kThreads, shared};
    return llmbed::launch(l, attention_kernel<D>, stream, error, args);
}

/* Instantiated head dims, ascending: the production sizes 64, 80, 96 and 128
 * (Llama/Mistral/Qwen 128, Qwen2-0.5B 64, MiniCPM/Phi 80 and 96) run
 * exactly; any other even head_dim up to 128 runs zero-padded in the next
 * larger instantiation (16 and 32 keep small test models cheap). */
const struct {
    int head_dim;
    attention_launcher launch;
} kDispatch[] = {{16, launch_head_dim<16>}, {32, launch_head_dim<32>},  {64, launch_head_dim<64>},
                 {80, launch_head_dim<80>}, {96, launch_head_dim<96>}, {128, launch_head_dim<128>}};

attention_launcher find_launcher(int head_dim) {
    if (head_dim <= 0 || head_dim % 2 != 0) return nullptr;
    for (const auto &entry : kDispatch)
        if (entry.head_dim >= head_dim) return entry.launch;
    return nullptr;
}

} // namespace

LLMBED_KERNEL_API int llmbed_cuda_attention_supports_head_dim(int head_dim) { return find_launcher(head_dim) != nullptr; }

LLMBED_KERNEL_API llmbed_status llmbed_cuda_attention(const llmbed_attention_params *p, int max_seq_len,
                                                      const llmbed_cuda_qkv *qkv, const llmbed_cuda_q_rope *q_rope,
                                                      uint16_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_seqs < 0 || max_seq_len < 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 ||
        p->n_heads % p->n_kv_heads != 0 || p->window < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "attention: %d sequences (longest %d), %d query heads over %d key/value heads, window %d",
                           p->n_seqs, max_seq_len, p->n_heads, p->n_kv_heads, p->window);
    attention_launcher launch = find_launcher(p->head_dim);
    if (!launch)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "attention: head_dim %d (even, up to 128, is supported)",
                           p->head_dim);
    if (p->n_seqs == 0 || max_seq_len == 0) return LLMBED_OK;
    const int heads = flash::heads_per_block(p->n_heads / p->n_kv_heads), tokens = kRows / heads;
    Args args = {reinterpret_cast<const __nv_bfloat16 *>(qkv->q),
                 reinterpret_cast<const __nv_bfloat16 *>(qkv->k),
                 reinterpret_cast<const __nv_bfloat16 *>(qkv->v),
                 reinterpret_cast<__nv_bfloat16 *>(out),
                 p->seq_offsets,
                 qkv->q_stride,
                 qkv->kv_stride,
                 (max_seq_len + tokens - 1) / tokens,
                 p->n_heads,
                 p->n_kv_heads,
                 p->head_dim,
                 heads,
                 tokens,
                 p->causal,
                 p->window,
                 p->scale * flash::kLog2e,
                 q_rope != nullptr ? q_rope->q_norm : nullptr,
                 q_rope != nullptr ? q_rope->eps : 0.0f,
                 q_rope != nullptr ? reinterpret_cast<const float2 *>(q_rope->cos_sin) : nullptr,
                 q_rope != nullptr ? q_rope->rope_rows : nullptr};
    return launch(args, p, max_seq_len, stream, error);
}
