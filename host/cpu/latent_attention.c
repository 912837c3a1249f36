/* NV-Embed latent-attention block (modeling_nvembed.py LatentAttentionModel.forward)
 * on packed hidden states, tokens independent of each other:
 *   hiddens = cross_attn(hiddens, context=latents) + hiddens        (block 0, PreNorm + residual)
 *   hiddens = cross_ff(hiddens) + hiddens                           (block 1, PreNorm + residual)
 * then the caller pools with the masked mean (LatentAttentionModel's
 * attention_mask sum / count) and L2-normalises (output_normalize).
 * Block 0 uses the per-head folds of host/model/weights_latent.c:
 *   logits[t, h*r + j] = LN(H)[t] . q_logits[h*r + j]     ([T, d] x [d, h*r])
 *   P = softmax over j for each (t, h)                      (SDPA, no mask: mask=None)
 *   H1[t] = H[t] + sum_{h,j} P[t, h*r + j] v_out[:, h*r + j]
 * Block 1: H2 = H1 + b2 + W2 geglu(W1 LN(H1) + b1).
 * Shapes: H, out [T, d]; per chunk of n rows the scratch holds
 * xn [n, d], logits [n, h*r], y [n, 2F], g [n, F]. */
#include <math.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "model/model.h"

void llmbed_cpu_softmax_rows(const llmbed_softmax_params *p, float *x) {
    const int N = p->n_rows, R = p->row_len;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        float *row = x + (size_t)r * R;
        float max = row[0];
        for (int j = 1; j < R; j++) max = row[j] > max ? row[j] : max;
        double sum = 0.0;
        for (int j = 0; j < R; j++) sum += exp((double)row[j] - max);
        for (int j = 0; j < R; j++) row[j] = (float)(exp((double)row[j] - max) / sum);
    }
}

static int chunk_of(const llmbed_latent_attention_params *p) {
    const int chunk = p->chunk_tokens > 0 ? p->chunk_tokens : 128;
    return chunk < p->n_tokens ? chunk : (p->n_tokens > 0 ? p->n_tokens : 1);
}

/* GEMM scratch for the largest n_in of the block's projections. */
static int max_n_in(const llmbed_latent_attention_params *p) {
    const int hr = p->n_heads * p->n_latents, a = p->hidden > hr ? p->hidden : hr;
    return a > p->ff_inner ? a : p->ff_inner;
}

size_t llmbed_cpu_latent_attention_scratch_floats(const llmbed_latent_attention_params *p, int n_threads) {
    const size_t n = (size_t)chunk_of(p);
    return n * ((size_t)p->hidden + (size_t)p->n_heads * p->n_latents + 3 * (size_t)p->ff_inner) +
           llmbed_cpu_gemm_scratch_floats(max_n_in(p), n_threads);
}

void llmbed_cpu_latent_attention(const llmbed_latent_attention_params *p, const llmbed_latent_weights *w,
                                 const float *hidden, float *out, float *scratch) {
    const int d = p->hidden, HR = p->n_heads * p->n_latents, F = p->ff_inner, chunk = chunk_of(p);
    const size_t rows_max = (size_t)chunk;
    float *xn = scratch, *logits = xn + rows_max * d, *y = logits + rows_max * HR, *g = y + rows_max * 2 * F;
    float *gemm = g + rows_max * F;
    for (int t0 = 0; t0 < p->n_tokens; t0 += chunk) {
        const int n = p->n_tokens - t0 < chunk ? p->n_tokens - t0 : chunk;
        const float *H = hidden + (size_t)t0 * d;
        float *H1 = out + (size_t)t0 * d;
        /* block 0: PreNorm(norm) -> Attention(to_q, to_kv, to_out) folded -> + hiddens */
        const llmbed_layernorm_params ln = {n, d, p->eps};
        llmbed_cpu_layernorm(&ln, H, w->norm_w, w->norm_b, xn);
        llmbed_cpu_linear(n, d, HR, xn, w->q_logits, NULL, 1.0f, 0, logits, HR, gemm);
        const llmbed_softmax_params sm = {n * p->n_heads, p->n_latents};
        llmbed_cpu_softmax_rows(&sm, logits);
        memcpy(H1, H, sizeof(float) * (size_t)n * d);
        llmbed_cpu_linear(n, HR, d, logits, w->v_out, NULL, 1.0f, 1, H1, d, gemm);
        /* block 1: PreNorm(norm) -> FeedForward(Linear, GEGLU, Linear) -> + hiddens */
        llmbed_cpu_layernorm(&ln, H1, w->ff_norm_w, w->ff_norm_b, xn);
        llmbed_cpu_linear(n, d, 2 * F, xn, w->w1, w->b1, 1.0f, 0, y, 2 * F, gemm);
        const llmbed_geglu_params gp = {n, F};
        llmbed_cpu_geglu(&gp, y, NULL, g);
        for (int t = 0; t < n; t++)
            for (int c = 0; c < d; c++) H1[(size_t)t * d + c] += w->b2[c];
        llmbed_cpu_linear(n, F, d, g, w->w2, NULL, 1.0f, 1, H1, d, gemm);
    }
}
