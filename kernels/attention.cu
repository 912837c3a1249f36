#include "kernels/attention.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/ptx_wrappers.cuh"

namespace {

/* A block owns 64 query rows of one (sequence, head): 4 warps x 16 rows, the
 * m16 of mma.m16n8k16. Keys/values stream through shared memory 32 rows at a
 * time; 32 keeps Q + K + V tiles of head_dim 128 (52 KB with 64-row K/V
 * tiles) under the 48 KB of static shared memory. */
constexpr int kBlockM = 64;
constexpr int kBlockN = 32;
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

/* Q is held in registers as mma A fragments for the whole kernel; S = Q K^T
 * and O += P V use the accumulator layout of ptx_wrappers.cuh, with P
 * re-packed from the S accumulators into A fragments without a round trip
 * through shared memory (the C layout of two n8 tiles is the A layout of one
 * k16 step). Softmax runs in base 2 with scale * log2(e) folded in. */
/* Copies one 8-element chunk (columns col..col+7 of a head row) into shared
 * memory, zero beyond head_dim or for rows outside the sequence. Exact head
 * dims use one 16-byte cp.async; padded ones (head_dim < D) go element by
 * element because their rows are not 16-byte aligned in general. */
template <int D>
__device__ __forceinline__ void load_chunk(__nv_bfloat16 *dst, const __nv_bfloat16 *src, bool valid, int col,
                                           int head_dim) {
    if (head_dim == D) {
        cp_async_16(dst, src, valid);
        return;
    }
    for (int e = 0; e < 8; e++) dst[e] = valid && col + e < head_dim ? src[e] : __float2bfloat16_rn(0.0f);
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                     const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ out,
                     const int32_t *__restrict__ seq_offsets, int n_tiles, int n_heads, int n_kv_heads, int head_dim,
                     int causal, float scale_log2) {
    /* +8 bf16 (16 bytes) of row padding puts the 8 rows an ldmatrix reads on distinct banks. */
    constexpr int kStride = D + 8;
    constexpr int kChunks = D / 8; /* 16-byte chunks per row */
    __shared__ __align__(16) __nv_bfloat16 sQ[kBlockM * kStride];
    __shared__ __align__(16) __nv_bfloat16 sK[kBlockN * kStride];
    __shared__ __align__(16) __nv_bfloat16 sV[kBlockN * kStride];

    const int s = blockIdx.x / n_tiles, tile = blockIdx.x % n_tiles, h = blockIdx.y;
    const int seq_start = seq_offsets[s];
    const int len = seq_offsets[s + 1] - seq_start;
    const int q0 = tile * kBlockM;
    if (q0 >= len) return;
    const int kvh = h / (n_heads / n_kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, group = lane >> 2, tig = lane & 3;
    const int64_t q_stride = (int64_t)n_heads * head_dim, kv_stride = (int64_t)n_kv_heads * head_dim;

    for (int c = threadIdx.x; c < kBlockM * kChunks; c += kThreads) {
        int r = c / kChunks, col = (c % kChunks) * 8;
        bool valid = q0 + r < len;
        const __nv_bfloat16 *src = q + (int64_t)(seq_start + (valid ? q0 + r : 0)) * q_stride + h * head_dim + col;
        load_chunk<D>(&sQ[r * kStride + col], src, valid, col, head_dim);
    }
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();

    uint32_t qf[D / 16][4];
    for (int ks = 0; ks < D / 16; ks++) {
        int mi = lane >> 3, r = lane & 7;
        ldmatrix_x4(qf[ks], &sQ[(warp * 16 + r + (mi & 1) * 8) * kStride + ks * 16 + (mi >> 1) * 8]);
    }

    float o[D / 8][4];
    for (int dt = 0; dt < D / 8; dt++)
        for (int i = 0; i < 4; i++) o[dt][i] = 0.0f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
    const int row0 = q0 + warp * 16 + group; /* this lane's rows: row0 and row0 + 8 */
    const int kv_end = causal ? (len < q0 + kBlockM ? len : q0 + kBlockM) : len;

    for (int n0 = 0; n0 < kv_end; n0 += kBlockN) {
        __syncthreads(); /* every warp is done with the previous K/V tile */
        for (int c = threadIdx.x; c < kBlockN * kChunks; c += kThreads) {
            int r = c / kChunks, col = (c % kChunks) * 8;
            bool valid = n0 + r < len;
            int64_t offset = (int64_t)(seq_start + (valid ? n0 + r : 0)) * kv_stride + kvh * head_dim + col;
            load_chunk<D>(&sK[r * kStride + col], k + offset, valid, col, head_dim);
            load_chunk<D>(&sV[r * kStride + col], v + offset, valid, col, head_dim);
        }
        cp_async_commit();
        cp_async_wait_all();
        __syncthreads();

        float sc[kBlockN / 8][4];
        for (int nt = 0; nt < kBlockN / 8; nt++)
            for (int i = 0; i < 4; i++) sc[nt][i] = 0.0f;
        for (int ks = 0; ks < D / 16; ks++) {
            for (int nt = 0; nt < kBlockN / 8; nt++) {
                uint32_t b[2];
                int r = lane & 7, half = (lane >> 3) & 1;
                ldmatrix_x2(b, &sK[(nt * 8 + r) * kStride + ks * 16 + half * 8]);
                mma_bf16_16816(sc[nt], qf[ks], b);
            }
        }

        float tile_max[2] = {-INFINITY, -INFINITY};
        for (int nt = 0; nt < kBlockN / 8; nt++) {
            for (int i = 0; i < 4; i++) {
                int row = row0 + (i >= 2 ? 8 : 0);
                int col = n0 + nt * 8 + tig * 2 + (i & 1);
                bool visible = col < len && (!causal || col <= row);
                float x = visible ? sc[nt][i] * scale_log2 : -INFINITY;
                sc[nt][i] = x;
                tile_max[i >> 1] = fmaxf(tile_max[i >> 1], x);
            }
        }
        float base[2];
        for (int r = 0; r < 2; r++) {
            /* The 4 lanes of a group hold the same two rows. */
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            float new_max = fmaxf(row_max[r], tile_max[r]);
            /* A row with nothing visible yet keeps weight 0 instead of exp2(-inf - -inf) = NaN. */
            base[r] = new_max == -INFINITY ? 0.0f : new_max;
            float alpha = exp2f(row_max[r] - base[r]);
            row_max[r] = new_max;
            row_sum[r] *= alpha;
            for (int dt = 0; dt < D / 8; dt++) {
                o[dt][2 * r] *= alpha;
                o[dt][2 * r + 1] *= alpha;
            }
        }
        for (int nt = 0; nt < kBlockN / 8; nt++) {
            for (int i = 0; i < 4; i++) {
                float p = exp2f(sc[nt][i] - base[i >> 1]);
                sc[nt][i] = p;
                row_sum[i >> 1] += p;
            }
        }

        for (int j = 0; j < kBlockN / 16; j++) {
            uint32_t a[4];
            a[0] = pack_bf16x2(sc[2 * j][0], sc[2 * j][1]);
            a[1] = pack_bf16x2(sc[2 * j][2], sc[2 * j][3]);
            a[2] = pack_bf16x2(sc[2 * j + 1][0], sc[2 * j + 1][1]);
            a[3] = pack_bf16x2(sc[2 * j + 1][2], sc[2 * j + 1][3]);
            for (int dt = 0; dt < D / 8; dt++) {
                uint32_t b[2];
                ldmatrix_x2_trans(b, &sV[(j * 16 + (lane & 15)) * kStride + dt * 8]);
                mma_bf16_16816(o[dt], a, b);
            }
        }
    }

    for (int r = 0; r < 2; r++) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        int row = row0 + r * 8;
        if (row >= len) continue;
        float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
        __nv_bfloat16 *dst = out + (int64_t)(seq_start + row) * q_stride + h * head_dim;
        for (int dt = 0; dt < D / 8; dt++) {
            int col = dt * 8 + tig * 2;
            if (head_dim == D) {
                uint32_t packed = pack_bf16x2(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
                memcpy(dst + col, &packed, 4);
            } else {
                if (col < head_dim) dst[col] = __float2bfloat16_rn(o[dt][2 * r] * inv);
                if (col + 1 < head_dim) dst[col + 1] = __float2bfloat16_rn(o[dt][2 * r + 1] * inv);
            }
        }
    }
}

typedef llmbed_status (*attention_launcher)(const llmbed_attention_params *p, int max_seq_len, int n_tiles,
                                            const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v,
                                            __nv_bfloat16 *out, cudaStream_t stream, llmbed_error *error);

template <int D>
llmbed_status launch_head_dim(const llmbed_attention_params *p, int max_seq_len, int n_tiles, const __nv_bfloat16 *q,
                              const __nv_bfloat16 *k, const __nv_bfloat16 *v, __nv_bfloat16 *out, cudaStream_t stream,
                              llmbed_error *error) {
    /* Upper bound from the host's view (every sequence max_seq_len long): QK^T and PV, halved when causal;
     * q, k, v read once and out written (bf16). */
    const double S = max_seq_len, hd = p->head_dim, heads = p->n_heads, seqs = p->n_seqs;
    const double flops = 4 * seqs * heads * S * S * hd * (p->causal ? 0.5 : 1.0);
    const double bytes = seqs * S * hd * 2 * (2 * heads + 2 * p->n_kv_heads);
    const llmbed::Launch l = {{"attention", flops, bytes}, (int64_t)n_tiles * p->n_seqs, p->n_heads, 1, kThreads, 0};
    return llmbed::launch(l, attention_kernel<D>, stream, error, q, k, v, out, p->seq_offsets, n_tiles, p->n_heads,
                          p->n_kv_heads, p->head_dim, p->causal, p->scale * kLog2e);
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
                                                      const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                                      uint16_t *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_seqs < 0 || max_seq_len < 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 ||
        p->n_heads % p->n_kv_heads != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "attention: %d sequences (longest %d), %d query heads over %d key/value heads", p->n_seqs,
                           max_seq_len, p->n_heads, p->n_kv_heads);
    attention_launcher launch = find_launcher(p->head_dim);
    if (!launch)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "attention: head_dim %d (even, up to 128, is supported)",
                           p->head_dim);
    if (p->n_seqs == 0 || max_seq_len == 0) return LLMBED_OK;
    const int64_t n_tiles = (max_seq_len + kBlockM - 1) / kBlockM;
    return launch(p, max_seq_len, (int)n_tiles, reinterpret_cast<const __nv_bfloat16 *>(q),
                  reinterpret_cast<const __nv_bfloat16 *>(k), reinterpret_cast<const __nv_bfloat16 *>(v),
                  reinterpret_cast<__nv_bfloat16 *>(out), stream, error);
}
