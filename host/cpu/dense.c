/* A sentence-transformers Dense module on pooled rows
 * (sentence_transformers/models/Dense.py forward: activation(linear(x))):
 * out = act(in W^T + b), act tanh or identity. Rows are few (one per
 * sequence), so this is one small GEMM in fp32 on the host for every backend
 * (EmbeddingGemma's 768 -> 3072 -> 768 is ~4.7 MFLOP per row against
 * ~0.6 GFLOP per token of its decoder). */
#include <cblas.h>
#include <math.h>

#include "cpu/cpu_ops.h"
#include "model/st_dense.h"

void llmbed_cpu_dense(const llmbed_dense_layer *layer, int n_rows, const float *in, float *out) {
    const int n_in = layer->in_features, n_out = layer->out_features;
    if (n_rows <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_rows, n_out, n_in, 1.0f, in, n_in, layer->weight, n_in,
                0.0f, out, n_out);
    for (int r = 0; r < n_rows; r++) {
        float *row = out + (size_t)r * n_out;
        for (int c = 0; c < n_out; c++) {
            const float y = layer->bias != NULL ? row[c] + layer->bias[c] : row[c];
            row[c] = layer->tanh ? tanhf(y) : y;
        }
    }
}
