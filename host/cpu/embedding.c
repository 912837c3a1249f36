/* Token embedding gather: tokens[T] -> out[T, hidden]. MiniCPM multiplies by
 * scale_emb (modeling_minicpm.py: inputs_embeds = embed_tokens(ids) * scale_emb). */
#include "cpu/cpu_ops.h"

void llmbed_cpu_embedding(const llmbed_embedding_params *p, const int32_t *tokens,
                          const float *table, float *out) {
    const int T = p->n_tokens, C = p->hidden;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *row = table + (size_t)tokens[t] * C;
        float *o = out + (size_t)t * C;
        for (int c = 0; c < C; c++) o[c] = row[c] * p->scale;
    }
}
