/* Internal steps of llmbed_model_load (host/api/model_api.c). */
#ifndef LLMBED_MODEL_MODEL_LOAD_H
#define LLMBED_MODEL_MODEL_LOAD_H

#include <cjson/cJSON.h>

#include "container/gguf.h"
#include "container/safetensors.h"
#include "llmbed.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads a Hugging Face folder, or an opened GGUF file named `path`, into
 * `model` (everything but the tokenizer), which the caller allocated zeroed,
 * with model->path set, and frees with llmbed_model_free on failure. */
llmbed_status llmbed_model_load_folder(llmbed_model *model, const char *folder, const llmbed_model_params *params,
                                       llmbed_error *error);
llmbed_status llmbed_model_load_gguf(llmbed_model *model, const llmbed_gguf *gguf, const char *path,
                                     const llmbed_model_params *params, llmbed_error *error);

/* Weights by Hugging Face names ("model." prefix optional) for model->config. */
llmbed_status llmbed_weights_load_hf(llmbed_model *model, const llmbed_safetensors *st, const char *file,
                                     int n_threads, llmbed_error *error);

/* NV-Embed's latent pooling block (latent_attention_model.*), checked
 * against config.latent and folded (weights_latent.c); a no-op for models
 * without one, an error when the tensors exist but the config lacks them. */
llmbed_status llmbed_weights_load_latent(llmbed_model *model, const llmbed_safetensors *st, const char *file,
                                         int n_threads, llmbed_error *error);

/* Weights by llama.cpp names; Llama attn_q/attn_k rows un-permuted (SPEC §10). */
llmbed_status llmbed_weights_load_gguf(llmbed_model *model, const llmbed_gguf *gguf, int n_threads,
                                       llmbed_error *error);

/* Pooling / attention / normalisation defaults from a folder's
 * sentence-transformers files and config.json (see st_defaults.c). */
llmbed_status llmbed_model_folder_defaults(llmbed_model *model, const char *folder, const cJSON *config_json,
                                           llmbed_error *error);

/* Pooling/normalisation of the last adapter folder that carries sentence-transformers'
 * modules.json or 1_Pooling/config.json, over the defaults set so far (st_defaults.c). */
llmbed_status llmbed_adapter_folder_defaults(llmbed_model *model, const char *const *dirs, int n_dirs,
                                             llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
