/* Varlen GQA attention: q [T, Hq * D], k and v [T, Hkv * D] -> out [T, Hq * D].
 * For query i of a sequence and head h (kv head g = h / (Hq / Hkv)):
 *   out_i = sum_j softmax_j(q_i . k_j * scale) v_j,  j <= i (causal) or all j.
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

/* One row of the online softmax over a score tile row s[n_k], of which the
 * first n_valid are unmasked: raises the running maximum, replaces s by
 * exp(s - max) (masked entries by 0), returns the rescale factor
 * exp(old max - new max) and updates the running sum. Cloned for AVX-512 and
 * AVX2 because the library is built for baseline x86-64. */
LLMBED_SIMD_CLONES
static float softmax_row(float *s, int n_valid, int n_k, float *row_max, float *row_sum) {
    float m_new = *row_max;
    for (int j = 0; j < n_valid; j++) m_new = s[j] > m_new ? s[j] : m_new;
    const float correction = llmbed_fast_expf(*row_max - m_new); /* 0 on the first tile */
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n_valid; j++) {
        s[j] = llmbed_fast_expf(s[j] - m_new);
        sum += s[j];
    }
    for (int j = n_valid > 0 ? n_valid : 0; j < n_k; j++) s[j] = 0.0f;
    *row_sum = *row_sum * correction + sum;
    *row_max = m_new;
    return correction;
}

size_t llmbed_cpu_attention_scratch_floats(const llmbed_attention_params *p, int n_threads) {
    (void)p;
    return (size_t)(n_threads < 1 ? 1 : n_threads) * (BLOCK_Q * BLOCK_K + 2 * BLOCK_Q);
}

/* One (sequence, head, query block) task. q_rows/out_rows point at the block's
 * first query row and head; k_seq/v_seq at the sequence's first key of kv head g. */
static void attend_block(const llmbed_attention_params *p, int q_first, int n_q, int seq_len,
                         const float *q_rows, const float *k_seq, const float *v_seq,
                         float *out_rows, float *tile) {
    const int D = p->head_dim;
    const int q_stride = p->n_heads * D, kv_stride = p->n_kv_heads * D;
    float *row_max = tile + BLOCK_Q * BLOCK_K;
    float *row_sum = row_max + BLOCK_Q;
    for (int r = 0; r < n_q; r++) {
        row_max[r] = -INFINITY;
        row_sum[r] = 0.0f;
        memset(out_rows + (size_t)r * q_stride, 0, sizeof(float) * D);
    }
    const int key_end = p->causal ? q_first + n_q : seq_len;
    for (int k_first = 0; k_first < key_end; k_first += BLOCK_K) {
        const int n_k = key_end - k_first < BLOCK_K ? key_end - k_first : BLOCK_K;
        /* tile[n_q, n_k] = Q K^T * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_k, D, p->scale, q_rows,
                    q_stride, k_seq + (size_t)k_first * kv_stride, kv_stride, 0.0f, tile, BLOCK_K);
        for (int r = 0; r < n_q; r++) {
            /* causal: query q_first + r sees keys j <= q_first + r */
            int n_valid = n_k;
            if (p->causal && q_first + r - k_first + 1 < n_k) n_valid = q_first + r - k_first + 1;
            const float correction =
                softmax_row(tile + (size_t)r * BLOCK_K, n_valid, n_k, &row_max[r], &row_sum[r]);
            float *o = out_rows + (size_t)r * q_stride;
            for (int d = 0; d < D; d++) o[d] *= correction;
        }
        /* out[n_q, D] += P V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, D, n_k, 1.0f, tile, BLOCK_K,
                    v_seq + (size_t)k_first * kv_stride, kv_stride, 1.0f, out_rows, q_stride);
    }
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
    const size_t tile_floats = BLOCK_Q * BLOCK_K + 2 * BLOCK_Q;
    for (int s = 0; s < p->n_seqs; s++) {
        const int begin = p->seq_offsets[s], len = p->seq_offsets[s + 1] - begin;
        const int n_blocks = (len + BLOCK_Q - 1) / BLOCK_Q;
#pragma omp parallel for collapse(2) schedule(dynamic)
        for (int h = 0; h < p->n_heads; h++) {
            for (int b = 0; b < n_blocks; b++) {
                const int g = h / group, q_first = b * BLOCK_Q;
                const int n_q = len - q_first < BLOCK_Q ? len - q_first : BLOCK_Q;
                const size_t row0 = (size_t)begin + q_first;
                attend_block(p, q_first, n_q, len, q + row0 * q_stride + (size_t)h * D,
                             k + (size_t)begin * kv_stride + (size_t)g * D,
                             v + (size_t)begin * kv_stride + (size_t)g * D,
                             out + row0 * q_stride + (size_t)h * D,
                             scratch + (size_t)omp_get_thread_num() * tile_floats);
            }
        }
    }
}
