/* tokenizer.json "normalizer", "pre_tokenizer" and "decoder" sections ->
 * the tokenizer's pipeline. Every type HF defines that llmbed does not
 * implement is rejected with LLMBED_ERR_TOKENIZER_UNSUPPORTED naming it. */
#ifndef LLMBED_TOKENIZER_LOAD_JSON_PIPELINE_H
#define LLMBED_TOKENIZER_LOAD_JSON_PIPELINE_H

#include <cjson/cJSON.h>

#include "tokenizer/tokenizer_impl.h"

/* GPT-2's split regex, used by ByteLevel(use_regex=true). */
extern const char tok_gpt2_pattern[];

llmbed_status tok_json_normalizer(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                  llmbed_error *error);
/* Sets t->byte_level when a ByteLevel step is present. */
llmbed_status tok_json_pretokenizer(llmbed_tokenizer *t, const cJSON *node, const char *where,
                                    llmbed_error *error);
void tok_json_decoder(llmbed_tokenizer *t, const cJSON *node);

#endif
