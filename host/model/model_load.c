/* llmbed_model_load's two paths: a Hugging Face folder (config.json +
 * safetensors) or an opened GGUF file (metadata and tensors). Weights are
 * checked against the config and held as llmbed_model_params.weights asks
 * (fp32, bf16, or the file's own blocks). The tokenizer is
 * loaded beside the model by host/api/model_api.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "model/config_parse.h"
#include "model/lora.h"
#include "model/model_load.h"
#include "model/rope_override.h"

static llmbed_status alloc_layers(llmbed_model *m, llmbed_error *error) {
    m->weights.layers = calloc((size_t)m->config.n_layers, sizeof *m->weights.layers);
    if (m->weights.layers == NULL)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory for %d layers", m->path,
                           m->config.n_layers);
    return LLMBED_OK;
}

/* LLMBED_WEIGHTS_DEFAULT -> native (rows bit-identical to f32 in less
 * memory, at the GEMM speed of f32: bench/results/gemm_ab_*.txt), or f32
 * when LoRA adapters are merged: the merge needs fp32 matrices. */
static llmbed_status resolve_weights(llmbed_model *m, const char *path, const llmbed_model_params *p,
                                     llmbed_error *error) {
    if (p->weights == LLMBED_WEIGHTS_DEFAULT) {
        m->weights_mode = p->n_adapters > 0 ? LLMBED_WEIGHTS_F32 : LLMBED_WEIGHTS_NATIVE;
        return LLMBED_OK;
    }
    if (p->n_adapters > 0 && p->weights != LLMBED_WEIGHTS_F32)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "%s: weights %s: LoRA adapters merge into fp32 weights (use weights f32 or the default)",
                           path, llmbed_weights_name(p->weights));
    m->weights_mode = p->weights;
    return LLMBED_OK;
}

llmbed_status llmbed_model_load_folder(llmbed_model *m, const char *folder, const llmbed_model_params *p,
                                 llmbed_error *error) {
    LLMBED_TRY(resolve_weights(m, folder, p, error));
    char *config_path = llmbed_path_join(folder, "config.json");
    if (config_path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    cJSON *json = NULL;
    llmbed_status st = llmbed_json_parse_file(config_path, &json, error);
    if (st == LLMBED_OK) st = llmbed_config_from_json(json, config_path, &m->config, error);
    if (st == LLMBED_OK && p->rope_scaling != NULL) st = llmbed_rope_override_apply(p->rope_scaling, &m->config, error);
    if (st == LLMBED_OK) st = llmbed_config_validate(&m->config, config_path, error);
    if (st == LLMBED_OK) st = llmbed_latent_config_validate(&m->config, config_path, error);
    if (st == LLMBED_OK) st = llmbed_model_folder_defaults(m, folder, json, error);
    if (st == LLMBED_OK) st = llmbed_family_select(m, folder, json, p->family, error);
    cJSON_Delete(json);
    free(config_path);
    if (st != LLMBED_OK) return st;
    snprintf(m->arch_name, sizeof m->arch_name, "%s", llmbed_arch_name(m->config.arch));
    m->source_format = "safetensors";
    m->weight_dtype = "none";
    if (!p->vocab_only) {
        llmbed_safetensors *weights;
        st = llmbed_safetensors_open_folder(folder, &weights, error);
        if (st != LLMBED_OK) return st;
        st = alloc_layers(m, error);
        if (st == LLMBED_OK) st = llmbed_weights_load_hf(m, weights, folder, p->n_threads, error);
        llmbed_safetensors_close(weights);
        if (st == LLMBED_OK) st = llmbed_dense_load(m, folder, error);
        if (st == LLMBED_OK) st = llmbed_lora_merge(m, p->adapters, p->n_adapters, error);
        if (st == LLMBED_OK) st = llmbed_adapter_folder_defaults(m, p->adapters, p->n_adapters, error);
        if (st != LLMBED_OK) return st;
    } else if (p->n_adapters > 0) {
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: adapters need the weights (not vocab_only)", folder);
    }
    return LLMBED_OK;
}

llmbed_status llmbed_model_load_gguf(llmbed_model *m, const llmbed_gguf *gguf, const char *path,
                                     const llmbed_model_params *p, llmbed_error *error) {
    LLMBED_TRY(resolve_weights(m, path, p, error));
    /* Vocab-only loads (the tokenizer's vocab.gguf files have no tensors and
     * often another architecture) keep whatever hyper-parameters are there. */
    const bool partial = p->vocab_only != 0;
    llmbed_status st = llmbed_config_from_gguf(gguf, partial, &m->config, error);
    /* vocab_size comes from token_embd: say it is missing rather than "vocab_size 0". */
    if (st == LLMBED_OK && !p->vocab_only && llmbed_gguf_find_tensor(gguf, "token_embd.weight") == NULL)
        st = llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor 'token_embd.weight' is missing", path);
    if (st == LLMBED_OK && !partial && p->rope_scaling != NULL)
        st = llmbed_rope_override_apply(p->rope_scaling, &m->config, error);
    if (st == LLMBED_OK && !partial) st = llmbed_config_validate(&m->config, path, error);
    llmbed_gguf_string arch = {"", 0};
    llmbed_gguf_get_string(gguf, "general.architecture", &arch);
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)(arch.length < 31 ? arch.length : 31), arch.data);
    m->source_format = "gguf";
    m->weight_dtype = "none";
    /* GGUF carries no sentence-transformers files: the defaults of st_defaults.c. */
    m->default_pooling = LLMBED_POOLING_LAST;
    m->default_attention = LLMBED_ATTENTION_CAUSAL;
    m->default_normalize = 1;
    if (st == LLMBED_OK) st = llmbed_family_select(m, NULL, NULL, p->family, error);
    if (st == LLMBED_OK && !p->vocab_only) {
        st = alloc_layers(m, error);
        if (st == LLMBED_OK) st = llmbed_weights_load_gguf(m, gguf, p->n_threads, error);
        if (st == LLMBED_OK) st = llmbed_lora_merge(m, p->adapters, p->n_adapters, error);
        if (st == LLMBED_OK) st = llmbed_adapter_folder_defaults(m, p->adapters, p->n_adapters, error);
    } else if (st == LLMBED_OK && p->n_adapters > 0) {
        st = llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: adapters need the weights (not vocab_only)", path);
    }
    return st;
}
