/* Varlen GQA attention: q [T, Hq * D], k and v [T, Hkv * D] -> out [T, Hq * D].
 * For query i of a sequence and head h (kv head g = h / (Hq / Hkv)):
 *   out_i = sum_j softmax_j(q_i . k_j * scale) v_j,  j <= i (causal) or all j,
 * where a sequence that continues a cache also attends to the cached
 * positions before it (all of them: they precede every query), pruned keys
 * through their chunk's kept channels (ThinK, SPEC §5). A sliding window
 * (p->window > 0) keeps only keys with |pos(i) - pos(j)| < window, positions
 * counting the cache (op_params.h).
 * Flash-attention style (Dao et al. 2022, Alg. 1): queries in blocks of
 * BLOCK_Q rows, keys in blocks of BLOCK_K; per query row a running maximum m
 * and denominator l; the accumulator lives in `out` and is rescaled by
 * exp(m_old - m_new) whenever the maximum grows. Peak scratch is one
 * BLOCK_Q x BLOCK_K score tile per thread, whatever the sequence length.
 * The two products of a tile are single-threaded cblas_sgemm calls; threads
 * split the (head, query block) tasks of each sequence. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "cpu/fast_exp.h"

/* 128 x 256 tiles (128 KiB of scores per thread, within L2) took the least CPU
 * time of {32, 64, 128} x {128, 256, 512} for 16/8 heads x 128 at S = 512 and
 * 2048 on 2 cores; the spread was within 15%. */
enum { BLOCK_Q = 128, BLOCK_K = 256 };

/* A run of keys one query block attends to: keys [n, width] with row stride
 * k_ld (width = D, or the kept channels of a pruned chunk, whose indices are
 * `channels`), values [n, D] with row stride v_ld; key i sits at position
 * first_pos + i. In a causal segment key i is the sequence's own token i;
 * cached segments precede every query. */
typedef struct key_segment {
    const float *k;
    int k_ld;
    const int32_t *channels; /* NULL: all D channels */
    int width;
    const float *v;
    int v_ld;
    int n;
    int causal;
    int first_pos;
} key_segment;

/* One row of the online softmax over a score tile row s[n_k], of which
 * [begin, end) are unmasked: raises the running maximum, replaces s by
 * exp(s - max) (masked entries by 0), returns the rescale factor
 * exp(old max - new max) and updates the running sum; a row with no unmasked
 * entry in this tile keeps its state (factor 1). Cloned for AVX-512 and AVX2
 * because the library is built for baseline x86-64. */
LLMBED_SIMD_CLONES
static float softmax_row(float *s, int begin, int end, int n_k, float *row_max, float *row_sum) {
    if (begin >= end) {
        for (int j = 0; j < n_k; j++) s[j] = 0.0f;
        return 1.0f;
    }
    float m_new = *row_max;
    for (int j = begin; j < end; j++) m_new = s[j] > m_new ? s[j] : m_new;
    const float correction = llmbed_fast_expf(*row_max - m_new); /* 0 on the first tile */
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = begin; j < end; j++) {
        s[j] = llmbed_fast_expf(s[j] - m_new);
        sum += s[j];
    }
    for (int j = 0; j < begin; j++) s[j] = 0.0f;
    for (int j = end; j < n_k; j++) s[j] = 0.0f;
    *row_sum = *row_sum * correction + sum;
    *row_max = m_new;
    return correction;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Per thread: the score tile, the running max and sum of BLOCK_Q rows, and a
 * BLOCK_Q x D tile of queries gathered to a pruned chunk's channels. */
static size_t thread_scratch_floats(int head_dim) {
    return (size_t)BLOCK_Q * BLOCK_K + 2 * BLOCK_Q + (size_t)BLOCK_Q * (size_t)head_dim;
}

size_t llmbed_cpu_attention_scratch_floats(const llmbed_attention_params *p, int n_threads) {
    return (size_t)(n_threads < 1 ? 1 : n_threads) * thread_scratch_floats(p->head_dim);
}

/* Keys [*lo, *hi) of `seg` that query position q_pos may see. */
static void visible_keys(const llmbed_attention_params *p, const key_segment *seg, int q_pos, int *lo, int *hi) {
    int first = 0, last = seg->n; /* as positions relative to seg->first_pos */
    if (seg->causal && p->causal) last = q_pos - seg->first_pos + 1;
    if (p->window > 0) {
        first = q_pos - p->window + 1 - seg->first_pos;
        if (!p->causal) last = last < q_pos + p->window - seg->first_pos ? last : q_pos + p->window - seg->first_pos;
    }
    *lo = clamp_int(first, 0, seg->n);
    *hi = clamp_int(last, *lo, seg->n);
}

/* Folds the keys of one segment into the running softmax of a query block.
 * q_rows [n_q, D] (row stride q_stride), out_rows likewise; q_pos0 is the
 * position of the block's first query (for the causal mask and window). */
static void attend_segment(const llmbed_attention_params *p, const key_segment *seg, int q_pos0, int n_q,
                           const float *q_rows, float *out_rows, float *tile, float *row_max, float *row_sum,
                           float *q_gathered) {
    const int D = p->head_dim, q_stride = p->n_heads * D;
    const float *q_use = q_rows;
    int q_ld = q_stride;
    if (seg->channels != NULL) { /* pruned keys: the queries' kept channels, in the keys' order */
        for (int r = 0; r < n_q; r++)
            for (int c = 0; c < seg->width; c++)
                q_gathered[(size_t)r * seg->width + c] = q_rows[(size_t)r * q_stride + seg->channels[c]];
        q_use = q_gathered;
        q_ld = seg->width;
    }
    /* keys any query of the block sees: from the first query's window start to the last query's end */
    int key_begin, unused, key_end;
    visible_keys(p, seg, q_pos0, &key_begin, &unused);
    visible_keys(p, seg, q_pos0 + n_q - 1, &unused, &key_end);
    for (int k_first = key_begin; k_first < key_end; k_first += BLOCK_K) {
        const int n_k = key_end - k_first < BLOCK_K ? key_end - k_first : BLOCK_K;
        /* tile[n_q, n_k] = Q K^T * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_k, seg->width, p->scale, q_use, q_ld,
                    seg->k + (size_t)k_first * seg->k_ld, seg->k_ld, 0.0f, tile, BLOCK_K);
        for (int r = 0; r < n_q; r++) {
            int lo, hi;
            visible_keys(p, seg, q_pos0 + r, &lo, &hi);
            lo = clamp_int(lo - k_first, 0, n_k);
            hi = clamp_int(hi - k_first, lo, n_k);
            const float correction = softmax_row(tile + (size_t)r * BLOCK_K, lo, hi, n_k, &row_max[r], &row_sum[r]);
            float *o = out_rows + (size_t)r * q_stride;
            for (int d = 0; d < D; d++) o[d] *= correction;
        }
        /* out[n_q, D] += P V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, D, n_k, 1.0f, tile, BLOCK_K,
                    seg->v + (size_t)k_first * seg->v_ld, seg->v_ld, 1.0f, out_rows, q_stride);
    }
}

/* Pruned keys of chunk j of kv head g, cut at pruned_end. */
static key_segment pruned_segment(const llmbed_kv_cache_view *c, int g, int D, int j, int pruned_end) {
    const int begin = c->chunk_starts[j];
    const int end = c->chunk_starts[j + 1] < pruned_end ? c->chunk_starts[j + 1] : pruned_end;
    const key_segment s = {(const float *)c->k_pruned + ((size_t)g * c->capacity + begin) * c->kept,
                           c->kept,
                           c->kept_channels + ((size_t)g * c->chunk_capacity + j) * c->kept,
                           c->kept,
                           (const float *)c->v + ((size_t)g * c->capacity + begin) * D,
                           D,
                           end - begin,
                           0,
                           begin};
    return s;
}

/* Full keys of kv head g for cached positions [begin, end), begin >= n_pruned. */
static key_segment full_segment(const llmbed_kv_cache_view *c, int g, int D, int begin, int end) {
    const key_segment s = {(const float *)c->k_full + ((size_t)g * c->full_capacity + (begin - c->n_pruned)) * D,
                           D,
                           NULL,
                           D,
                           (const float *)c->v + ((size_t)g * c->capacity + begin) * D,
                           D,
                           end - begin,
                           0,
                           begin};
    return s;
}

/* One (sequence, head, query block) task: the cached positions [0, n_cached)
 * (pruned chunks, then full keys), then the sequence's own keys. */
static void attend_block(const llmbed_attention_params *p, int g, int q_first, int n_q, int seq_len,
                         int n_cached, const float *q_rows, const float *k_seq, const float *v_seq,
                         float *out_rows, float *scratch) {
    const int D = p->head_dim, q_stride = p->n_heads * D, kv_stride = p->n_kv_heads * D;
    float *tile = scratch, *row_max = tile + BLOCK_Q * BLOCK_K, *row_sum = row_max + BLOCK_Q;
    float *q_gathered = row_sum + BLOCK_Q;
    for (int r = 0; r < n_q; r++) {
        row_max[r] = -INFINITY;
        row_sum[r] = 0.0f;
        memset(out_rows + (size_t)r * q_stride, 0, sizeof(float) * D);
    }
    if (n_cached > 0) {
        const llmbed_kv_cache_view *c = p->cache;
        const int pruned_end = n_cached < c->n_pruned ? n_cached : c->n_pruned;
        for (int j = 0; j < c->n_chunks && c->chunk_starts[j] < pruned_end; j++) {
            const key_segment seg = pruned_segment(c, g, D, j, pruned_end);
            attend_segment(p, &seg, n_cached + q_first, n_q, q_rows, out_rows, tile, row_max, row_sum, q_gathered);
        }
        if (n_cached > pruned_end) {
            const key_segment seg = full_segment(c, g, D, pruned_end, n_cached);
            attend_segment(p, &seg, n_cached + q_first, n_q, q_rows, out_rows, tile, row_max, row_sum, q_gathered);
        }
    }
    const key_segment own = {k_seq, kv_stride, NULL, D, v_seq, kv_stride, seq_len, 1, n_cached};
    attend_segment(p, &own, n_cached + q_first, n_q, q_rows, out_rows, tile, row_max, row_sum, q_gathered);
    for (int r = 0; r < n_q; r++) {
        float *o = out_rows + (size_t)r * q_stride;
        const float inv = 1.0f / row_sum[r];
        for (int d = 0; d < D; d++) o[d] *= inv;
    }
}

void llmbed_cpu_attention(const llmbed_attention_params *p, const float *q, const float *k,
                          const float *v, float *out, float *scratch) {
    const int D = p->head_dim, group = p->n_heads / p->n_kv_heads;
    const int q_stride = p->n_heads * D, kv_stride = p->n_kv_heads * D;
    const size_t per_thread = thread_scratch_floats(D);
    for (int s = 0; s < p->n_seqs; s++) {
        const int begin = p->seq_offsets[s], len = p->seq_offsets[s + 1] - begin;
        const int n_cached = p->cache_lens != NULL ? p->cache_lens[s] : 0;
        const int n_blocks = (len + BLOCK_Q - 1) / BLOCK_Q;
#pragma omp parallel for collapse(2) schedule(dynamic)
        for (int h = 0; h < p->n_heads; h++) {
            for (int b = 0; b < n_blocks; b++) {
                const int g = h / group, q_first = b * BLOCK_Q;
                const int n_q = len - q_first < BLOCK_Q ? len - q_first : BLOCK_Q;
                const size_t row0 = (size_t)begin + q_first;
                attend_block(p, g, q_first, n_q, len, n_cached, q + row0 * q_stride + (size_t)h * D,
                             k + (size_t)begin * kv_stride + (size_t)g * D,
                             v + (size_t)begin * kv_stride + (size_t)g * D, out + row0 * q_stride + (size_t)h * D,
                             scratch + (size_t)omp_get_thread_num() * per_thread);
            }
        }
    }
}
