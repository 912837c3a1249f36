/* RoPE inverse frequencies: model maths (the config's rope_theta and
 * rope_scaling), shared by the decoder loop and every backend's tests. */
#ifndef LLMBED_MODEL_ROPE_FREQUENCIES_H
#define LLMBED_MODEL_ROPE_FREQUENCIES_H

#include "llmbed.h"
#include "model/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head_dim whose frequencies are computed (HF models use 64..256;
 * the backends accept the same, LLMBED_CPU_MAX_HEAD_DIM). */
#define LLMBED_ROPE_MAX_HEAD_DIM 1024

/* inv_freq[head_dim / 2] and the cos/sin multiplier for a sequence of
 * `seq_len` tokens, as transformers' modeling_rope_utils.py computes them for
 * config's rope scaling type (dynamic NTK depends on seq_len; others do not). */
llmbed_status llmbed_rope_frequencies(const llmbed_config *config, int seq_len, float *inv_freq,
                                      float *attention_scaling, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
