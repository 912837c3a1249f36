/* RoPE scaling chosen by the caller instead of the config's (LongEmbed's
 * comparison of context-extension methods on models trained short). */
#ifndef LLMBED_MODEL_ROPE_OVERRIDE_H
#define LLMBED_MODEL_ROPE_OVERRIDE_H

#include "llmbed.h"
#include "model/model_config.h"

/* Applies `spec` to config->rope_scaling as if config.json held
 * "rope_scaling": {"rope_type": TYPE, "factor": F, ...}:
 *   "none"                           no scaling (the config's is dropped)
 *   "linear:F" | "dynamic:F"         positions / F | NTK base growth past max_positions
 *   "yarn:F[:ORIG]"                  YaRN, beta_fast 32, beta_slow 1, mscale from F
 *   "llama3:F[:ORIG]"                Llama 3.1 rule, low_freq_factor 1, high_freq_factor 4
 * ORIG is original_max_position_embeddings (default: the config's
 * max_position_embeddings, the trained length). rope_theta is kept.
 * LLMBED_ERR_INVALID_ARGUMENT naming `spec` when it does not parse. */
llmbed_status llmbed_rope_override_apply(const char *spec, llmbed_config *config, llmbed_error *error);

#endif
