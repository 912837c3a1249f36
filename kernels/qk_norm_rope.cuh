/* Qwen3's per-head q/k RMSNorm (when the model has q_norm/k_norm) and RoPE
 * in one pass, in place on the bf16 q and k heads of the fused QKV
 * projection: fp32 arithmetic, one bf16 rounding per element (before, a
 * norm kernel and a RoPE kernel per tensor rounded twice and moved the
 * bytes four times). cos/sin come from the backend's table (one row of
 * head_dim / 2 (cos, sin) pairs per position, built on the host with the
 * CPU reference's own formula, llmbed_cpu_rope_row), selected per token by
 * rope_rows. */
#ifndef LLMBED_KERNELS_QK_NORM_ROPE_CUH
#define LLMBED_KERNELS_QK_NORM_ROPE_CUH

#include "kernels/common/kernel_api.h"

typedef struct llmbed_qk_norm_rope_params {
    int n_tokens;
    int n_heads, n_kv_heads, head_dim; /* head_dim even */
    float eps;                         /* of the q/k norm */
    int rotate_q;                      /* 0: k only (attention.cu rotates q as it loads it) */
} llmbed_qk_norm_rope_params;

/* q and k heads of qkv (v untouched) -> normalised (q_norm/k_norm [head_dim]
 * fp32 weights, both NULL for models without) and rotated. cos_sin
 * [rows, head_dim / 2, 2] fp32; rope_rows [n_tokens] the row of each token. */
LLMBED_KERNEL_API llmbed_status llmbed_cuda_qk_norm_rope(const llmbed_qk_norm_rope_params *p, const llmbed_cuda_qkv *qkv,
                                                         const float *q_norm, const float *k_norm, const float *cos_sin,
                                                         const int32_t *rope_rows, cudaStream_t stream,
                                                         llmbed_error *error);

#endif
