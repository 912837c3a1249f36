/* SwiGLU: out[T, I] = silu(gate[T, I]) * up[T, I], silu(g) = g / (1 + exp(-g))
 * (HF LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))). exp is the
 * vectorisable llmbed_fast_expf (relative error ~1e-7); the function is cloned
 * for AVX-512 and AVX2 because the library is built for baseline x86-64. */
#include "cpu/cpu_ops.h"
#include "cpu/fast_exp.h"

LLMBED_SIMD_CLONES
void llmbed_cpu_swiglu(const llmbed_swiglu_params *p, const float *gate, const float *up,
                       float *out) {
    const long n = (long)p->n_tokens * p->intermediate;
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = g / (1.0f + llmbed_fast_expf(-g)) * up[i];
    }
}
