/* Building an llmbed_config from a Hugging Face config.json or from GGUF
 * metadata. Defaults are those of the transformers config class of each
 * model_type (transformers 5.x), so a config.json that omits a field means
 * what it means to Hugging Face. */
#ifndef LLMBED_MODEL_CONFIG_PARSE_H
#define LLMBED_MODEL_CONFIG_PARSE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "llmbed.h"
#include "container/gguf.h"
#include "model/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* From a parsed config.json object; `source` names the file in messages.
 * vocab_size is the config's value (the loader replaces it by the
 * embedding's row count). Not validated: call llmbed_config_validate. */
llmbed_status llmbed_config_from_json(const cJSON *json, const char *source, llmbed_config *out,
                                      llmbed_error *error);

/* NV-Embed's "latent_attention_config" object (NULL when absent: then
 * LLMBED_ERR_BAD_CONFIG, as a published NV-Embed folder always has it) into
 * *out with LatentAttentionConfig's defaults for absent fields. */
llmbed_status llmbed_latent_config_from_json(const cJSON *json, const char *source, llmbed_latent_config *out,
                                             llmbed_error *error);

/* Same from JSON text (need not be NUL-terminated), then validated. */
llmbed_status llmbed_config_parse_json(const char *text, size_t length, const char *source,
                                       llmbed_config *out, llmbed_error *error);

/* From GGUF metadata ({arch}.block_count, ...); vocab_size from
 * token_embd.weight's rows when that tensor exists, else the tokenizer's
 * token count. With `partial` (vocab-only files) missing hyper-parameters
 * are left 0 instead of failing and an architecture we cannot run is read
 * as far as its keys go (config->arch is then meaningless). Not validated. */
llmbed_status llmbed_config_from_gguf(const llmbed_gguf *gguf, bool partial, llmbed_config *out,
                                      llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
