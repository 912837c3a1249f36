/* Token embedding gather: tokens[T] -> out[T, hidden], each row converted
 * from the table's stored representation to its fp32 values. MiniCPM
 * multiplies by scale_emb (modeling_minicpm.py: inputs_embeds =
 * embed_tokens(ids) * scale_emb). */
#include "cpu/cpu_ops.h"

void llmbed_cpu_embedding(const llmbed_embedding_params *p, const int32_t *tokens,
                          const llmbed_weight *table, float *out) {
    const int T = p->n_tokens, C = p->hidden;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * C;
        llmbed_weight_rows_to_f32(table, tokens[t], 1, o);
        for (int c = 0; c < C; c++) o[c] *= p->scale;
    }
}
