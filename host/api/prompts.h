/* Internal helpers of the prompt/text API files (host/api/). */
#ifndef LLMBED_API_PROMPTS_H
#define LLMBED_API_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

/* *excludes = 1 when the model folder's 1_Pooling/config.json says
 * "include_prompt": false (0 for single-file models and other folders). */
llmbed_status llmbed_model_excludes_prompt(const llmbed_model *model, int *excludes, llmbed_error *error);

/* llmbed_tokenize into a malloc'd buffer of the right size (*ids owned by the caller). */
llmbed_status llmbed_tokenize_all(const llmbed_model *model, const char *text, size_t len, int add_special,
                                  int32_t **ids, size_t *n_ids, llmbed_error *error);

/* Resolves text params against the model: the instruction length of the
 * prompt (0 when none or included in the pool) and the token limit
 * (0 = none). */
llmbed_status llmbed_text_params_apply(const llmbed_model *model, const llmbed_text_params *params,
                                       int32_t *instruction_len, int64_t *max_tokens, llmbed_error *error);

#endif
