/* Embedder families (SPEC section 3): the attention mask, pooling, EOS rule
 * and query format a published embedder was trained with, detected from
 * its folder (config.json architectures / auto_map / _name_or_path,
 * modules.json, 1_Pooling/config.json) or forced by name. */
#ifndef LLMBED_MODEL_FAMILY_H
#define LLMBED_MODEL_FAMILY_H

#include <cjson/cJSON.h>

#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

struct llmbed_model;

typedef enum llmbed_family_id {
    LLMBED_FAMILY_GENERIC = 0,
    LLMBED_FAMILY_NV_EMBED,
    LLMBED_FAMILY_GTE_QWEN2,
    LLMBED_FAMILY_LLM2VEC,
    LLMBED_FAMILY_GRITLM,
    LLMBED_FAMILY_QWEN3_EMBEDDING,
    LLMBED_FAMILY_E5_MISTRAL,
    LLMBED_FAMILY_MINICPM_EMBEDDING,
    LLMBED_FAMILY_EMBEDDINGGEMMA,
    LLMBED_FAMILY_COUNT
} llmbed_family_id;

typedef struct llmbed_family {
    llmbed_family_id id;
    const char *name;          /* static: "nv-embed", "gte-qwen2", ... */
    char reason[256];          /* the file/field that selected it */
    int append_eos;            /* the tokenizer path appends config eos_token_id when missing */
    int mask_instruction;      /* the prompt (instruction) stays out of the pool unless the caller says otherwise */
    int mask_bare_instruction; /* NV-Embed: pool mask = len(tokenize(instruction)), no BOS counted */
    const char *query_format;  /* static, "" when none */
} llmbed_family;

/* Chooses the family of a Hugging Face folder, or the one named by `forced`
 * (LLMBED_ERR_INVALID_ARGUMENT for an unknown name), and sets model->family
 * and the model's default pooling/attention/normalisation from it.
 * sentence-transformers files, when present, keep the pooling (1_Pooling)
 * and normalisation (modules.json) they set (llmbed_model_folder_defaults
 * ran first). config_json may be NULL (GGUF: only a forced family applies). */
llmbed_status llmbed_family_select(struct llmbed_model *model, const char *folder, const cJSON *config_json,
                                   const char *forced, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
