/* Gated MLP activation: out[T, I] = act(gate[T, I]) * up[T, I] (HF LlamaMLP /
 * Gemma3MLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))), with
 *   silu(g) = g / (1 + exp(-g))
 *   gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2 / pi) (g + 0.044715 g^3)))
 * (transformers' gelu_pytorch_tanh, Gemma's hidden_activation). exp is the
 * vectorisable llmbed_fast_expf (relative error ~1e-7); tanh is libm's. The
 * silu loop is cloned for AVX-512 and AVX2 because the library is built for
 * baseline x86-64. */
#include <math.h>

#include "cpu/cpu_ops.h"
#include "cpu/fast_exp.h"

LLMBED_SIMD_CLONES
static void silu_gate(long n, const float *gate, const float *up, float *out) {
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = g / (1.0f + llmbed_fast_expf(-g)) * up[i];
    }
}

static void gelu_tanh_gate(long n, const float *gate, const float *up, float *out) {
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = 0.5f * g * (1.0f + tanhf(k * (g + 0.044715f * g * g * g))) * up[i];
    }
}

void llmbed_cpu_swiglu(const llmbed_swiglu_params *p, const float *gate, const float *up, float *out) {
    const long n = (long)p->n_tokens * p->intermediate;
    if (p->activation == LLMBED_GATE_GELU_TANH) gelu_tanh_gate(n, gate, up, out);
    else silu_gate(n, gate, up, out);
}
