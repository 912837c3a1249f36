/* Text -> token ids as the model's embedder expects them: the tokenizer
 * (host/tokenizer/) plus the family rule (model/family.h: embedders trained
 * with a final EOS get it appended when the tokenizer's post-processor did
 * not add it), and templates rendered and tokenised whole with their pooled
 * span (host/template/). The public llmbed_tokenize, llmbed_tokenize_offsets,
 * llmbed_tokenize_template and llmbed_prompt_length are these functions;
 * the pipeline's tokenise stage calls them on worker threads. Any thread,
 * concurrently on one model. */
#ifndef LLMBED_PIPELINE_ENCODE_H
#define LLMBED_PIPELINE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"

/* llmbed_tokenize / llmbed_tokenize_offsets (out_offsets NULL = no offsets). */
llmbed_status llmbed_encode_text(const llmbed_model *model, const char *text, size_t text_len, int add_special,
                                 int parse_special, int32_t *out_ids, int64_t *out_offsets, size_t capacity,
                                 size_t *n_ids, size_t *n_invalid, llmbed_error *error);

/* llmbed_encode_text into a malloc'd buffer of the right size (*ids owned by the caller). */
llmbed_status llmbed_encode_alloc(const llmbed_model *model, const char *text, size_t len, int add_special,
                                  int32_t **ids, size_t *n_ids, llmbed_error *error);

/* llmbed_tokenize_template (params checked by the caller). With add_special,
 * the family's EOS is appended like llmbed_encode_text's (a span "all" then
 * covers it; max_tokens counts it). */
llmbed_status llmbed_encode_template(const llmbed_model *model, const char *text, size_t text_len,
                                     const llmbed_template_params *params, int32_t *out_ids, size_t capacity,
                                     size_t *n_ids, int32_t *pool_begin, int32_t *pool_end, int *truncated,
                                     llmbed_error *error);

/* Tokens a prompt adds to the front of a sequence: with bare = 0 the special
 * tokens before the text plus the prompt's own (llmbed_prompt_length); with
 * bare = 1 the prompt's tokens alone (NV-Embed counts len(tokenize(instruction)),
 * and a suffix-mode input has no BOS). */
llmbed_status llmbed_encode_prompt_length(const llmbed_model *model, const char *prompt, int bare, int32_t *length,
                                          llmbed_error *error);

/* The id the family appends as its EOS, or -1 when it appends none. */
int32_t llmbed_encode_family_eos(const llmbed_model *model);

#endif
