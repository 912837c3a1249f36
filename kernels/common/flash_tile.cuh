/* Pieces of the flash attention kernels (attention.cu, attention_cache.cu):
 * FlashAttention-2 (Dao 2023) on mma.sync m16n8k16, bf16 in, fp32
 * accumulate. A block of 4 warps owns 64 query rows, 16 per warp (the m16 of
 * the mma); keys stream through shared memory in tiles of 64; the softmax is
 * online (Milakov & Gimelshein 2018) in base 2 with scale * log2(e) folded
 * in. A lane holds two rows of its warp's 16: `group` and `group + 8`
 * (group = lane / 4), and in each 8-column n-tile the columns tig * 2 and
 * tig * 2 + 1 (tig = lane % 4): the accumulator layout of ptx_wrappers.cuh.
 * P is re-packed from the score accumulators into A fragments without a
 * round trip through shared memory (the C layout of two n8 tiles is the A
 * layout of one k16 step). */
#ifndef LLMBED_KERNELS_COMMON_FLASH_TILE_CUH
#define LLMBED_KERNELS_COMMON_FLASH_TILE_CUH

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/ptx_wrappers.cuh"

namespace flash {

constexpr int kRows = 64;    /* query rows per block */
constexpr int kKeys = 64;    /* keys per tile */
constexpr int kThreads = 128;
/* Scores are computed and folded 32 keys at a time (two halves of a tile):
 * 16 score registers instead of 32 keep the D = 128 kernel within 128
 * registers (4 blocks per SM) without spills. */
constexpr int kStepKeys = 32;
constexpr int kKeyTiles = kStepKeys / 8; /* n8 tiles of scores per warp and step */
constexpr float kLog2e = 1.4426950408889634f;

/* Row stride (elements) of a shared tile `width` bf16 wide: 16 bytes of
 * padding put the 8 rows one ldmatrix reads on 8 distinct 4-bank groups
 * (for width 128 a row is 68 words: row r starts at bank 4r mod 32). */
__host__ __device__ constexpr int stride_of(int width) { return width + 8; }

/* Heads of one key/value group a block takes (host side, both attention
 * kernels): the group's size when it is at most 8, else its largest divisor
 * that is (64 rows must hold at least one token of each). */
inline int heads_per_block(int group) {
    for (int h = group < 8 ? group : 8; h > 1; h--)
        if (group % h == 0) return h;
    return 1;
}

/* Online-softmax state of a lane's two rows. */
struct Rows {
    float max[2];
    float sum[2];
};

__device__ __forceinline__ void init_rows(Rows &rows) {
    rows.max[0] = rows.max[1] = -INFINITY;
    rows.sum[0] = rows.sum[1] = 0.0f;
}

/* Copies one 8-element chunk (columns col..col+7 of a row) global -> shared,
 * zero beyond `width` or for an invalid row. Rows whose chunks are 16-byte
 * aligned (aligned: every row of the operand is) use one cp.async; others
 * go element by element. */
__device__ __forceinline__ void load_chunk(__nv_bfloat16 *dst, const __nv_bfloat16 *src, bool valid, int col,
                                           int width, bool aligned) {
    if (aligned && col + 8 <= width) {
        cp_async_16(dst, src, valid);
        return;
    }
    for (int e = 0; e < 8; e++) dst[e] = valid && col + e < width ? src[e] : __float2bfloat16_rn(0.0f);
}

/* S[16 x 32] of this warp's rows = Q[16 x 16 k_steps] K^T over 32 keys (sK
 * points at the first), both in shared memory (row strides q_stride,
 * k_stride elements). */
template <int MAX_K_STEPS>
__device__ __forceinline__ void scores(float (&s)[kKeyTiles][4], const __nv_bfloat16 *sQ, int q_stride,
                                       const __nv_bfloat16 *sK, int k_stride, int k_steps, int warp, int lane) {
LLMBED_UNROLL
    for (int nt = 0; nt < kKeyTiles; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
    const int mi = lane >> 3, r = lane & 7;
LLMBED_UNROLL
    for (int ks = 0; ks < MAX_K_STEPS; ks++) {
        if (ks >= k_steps) break;
        uint32_t a[4];
        ldmatrix_x4(a, &sQ[(warp * 16 + r + (mi & 1) * 8) * q_stride + ks * 16 + (mi >> 1) * 8]);
LLMBED_UNROLL
        for (int nt = 0; nt < kKeyTiles; nt++) {
            uint32_t b[2];
            ldmatrix_x2(b, &sK[(nt * 8 + r) * k_stride + ks * 16 + (mi & 1) * 8]);
            mma_bf16_16816(s[nt], a, b);
        }
    }
}

/* Folds 32 keys' scores into the online softmax: visible(i, col) says
 * whether key col (0..31 of the step) is seen by the lane's row i (0: group,
 * 1: group + 8). On return s holds the probabilities (unnormalised, relative
 * to the new running max) and o has been rescaled. MASKED false: every key
 * is visible (a tile entirely below the diagonal). */
template <bool MASKED, int DT, typename Visible>
__device__ __forceinline__ void online_softmax(float (&s)[kKeyTiles][4], float (&o)[DT][4], Rows &rows,
                                               float scale_log2, int lane, Visible visible) {
    const int tig = lane & 3;
    float tile_max[2] = {-INFINITY, -INFINITY};
LLMBED_UNROLL
    for (int nt = 0; nt < kKeyTiles; nt++)
LLMBED_UNROLL
        for (int i = 0; i < 4; i++) {
            const float x = !MASKED || visible(i >> 1, nt * 8 + tig * 2 + (i & 1)) ? s[nt][i] * scale_log2 : -INFINITY;
            s[nt][i] = x;
            tile_max[i >> 1] = fmaxf(tile_max[i >> 1], x);
        }
    float base[2];
LLMBED_UNROLL
    for (int r = 0; r < 2; r++) {
        /* the 4 lanes of a group hold the same two rows */
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
        const float new_max = fmaxf(rows.max[r], tile_max[r]);
        /* a row with nothing visible yet keeps weight 0 instead of exp2(-inf - -inf) = NaN */
        base[r] = new_max == -INFINITY ? 0.0f : new_max;
        const float alpha = exp2f(rows.max[r] - base[r]);
        rows.max[r] = new_max;
        rows.sum[r] *= alpha;
LLMBED_UNROLL
        for (int dt = 0; dt < DT; dt++) {
            o[dt][2 * r] *= alpha;
            o[dt][2 * r + 1] *= alpha;
        }
    }
LLMBED_UNROLL
    for (int nt = 0; nt < kKeyTiles; nt++)
LLMBED_UNROLL
        for (int i = 0; i < 4; i++) {
            const float p = exp2f(s[nt][i] - base[i >> 1]);
            s[nt][i] = p;
            rows.sum[i >> 1] += p;
        }
}

/* o[16 x 8 DT] += P[16 x 32] V[32 x 8 DT], V in shared memory (sV at the step's first key, row stride v_stride). */
template <int DT>
__device__ __forceinline__ void accumulate_pv(float (&o)[DT][4], const float (&p)[kKeyTiles][4],
                                              const __nv_bfloat16 *sV, int v_stride, int lane) {
LLMBED_UNROLL
    for (int j = 0; j < kKeyTiles / 2; j++) {
        uint32_t a[4];
        a[0] = pack_bf16x2(p[2 * j][0], p[2 * j][1]);
        a[1] = pack_bf16x2(p[2 * j][2], p[2 * j][3]);
        a[2] = pack_bf16x2(p[2 * j + 1][0], p[2 * j + 1][1]);
        a[3] = pack_bf16x2(p[2 * j + 1][2], p[2 * j + 1][3]);
LLMBED_UNROLL
        for (int dt = 0; dt < DT; dt++) {
            uint32_t b[2];
            ldmatrix_x2_trans(b, &sV[(j * 16 + (lane & 15)) * v_stride + dt * 8]);
            mma_bf16_16816(o[dt], a, b);
        }
    }
}

/* The lane's rows of o / sum, rounded to bf16, into rows of a shared tile
 * (stride elements): 4-byte stores, the 32 lanes on 32 distinct banks for
 * the padded strides of stride_of. */
template <int DT>
__device__ __forceinline__ void stage_output(__nv_bfloat16 *sO, int stride, const float (&o)[DT][4], Rows &rows,
                                             int warp, int lane) {
    const int group = lane >> 2, tig = lane & 3;
LLMBED_UNROLL
    for (int r = 0; r < 2; r++) {
        float sum = rows.sum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        uint32_t *row = reinterpret_cast<uint32_t *>(sO + (warp * 16 + group + r * 8) * stride);
LLMBED_UNROLL
        for (int dt = 0; dt < DT; dt++) row[dt * 4 + tig] = pack_bf16x2(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
    }
}

/* The staged rows (stage_output, after a barrier) -> out, 16-byte stores:
 * row r of the block is token q0 + r / heads of the sequence starting at
 * seq_start, head hb * heads + r % heads, in out [T, n_heads * head_dim].
 * Rows past the sequence (or the block's tokens x heads) are skipped. */
template <int D>
__device__ __forceinline__ void store_output(__nv_bfloat16 *out, const __nv_bfloat16 *sO, int n_heads, int head_dim,
                                             int heads, int tokens, int hb, int seq_start, int q0, int len) {
    constexpr int kStride = stride_of(D), kChunks = D / 8;
    const int64_t out_stride = (int64_t)n_heads * head_dim;
    for (int c = (int)threadIdx.x; c < kRows * kChunks; c += kThreads) {
        const int r = c / kChunks, col = (c % kChunks) * 8, token = q0 + r / heads;
        if (r >= tokens * heads || token >= len || col >= head_dim) continue;
        __nv_bfloat16 *dst = out + (int64_t)(seq_start + token) * out_stride + (hb * heads + r % heads) * head_dim + col;
        const __nv_bfloat16 *row = &sO[r * kStride + col];
        if (head_dim == D) {
            *reinterpret_cast<uint4 *>(dst) = *reinterpret_cast<const uint4 *>(row);
        } else {
            for (int e = 0; e < 8 && col + e < head_dim; e++) dst[e] = row[e];
        }
    }
}

} // namespace flash

#endif
