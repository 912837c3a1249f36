/* Public model API (include/llmbed.h): argument checks around the loader
 * (host/model/model_load.c), the tokenizer loaded beside the model from the
 * same folder or GGUF file, and the model's description. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/path.h"
#include "model/model_load.h"
#include "tokenizer/tokenizer.h"

void llmbed_model_params_default(llmbed_model_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->n_threads = 0;
    params->vocab_only = 0;
    params->adapters = NULL;
    params->n_adapters = 0;
    params->family = NULL;
    params->rope_scaling = NULL;
    params->weights = LLMBED_WEIGHTS_DEFAULT;
}

/* A model without a tokenizer is valid (pre-tokenised input); a broken one is not. */
static llmbed_status finish_tokenizer(llmbed_model *m, llmbed_status st, llmbed_error *error) {
    if (st == LLMBED_ERR_TOKENIZER_MISSING) {
        llmbed_error_clear(error);
        m->tokenizer = NULL;
        return LLMBED_OK;
    }
    return st;
}

/* The adapters' real paths, one a line: part of the identity of a job's rows (host/pipeline/spec.c). */
static llmbed_status remember_adapters(llmbed_model *m, const llmbed_model_params *p, llmbed_error *error) {
    size_t length = 0;
    char *paths = NULL;
    for (int i = 0; i < p->n_adapters; i++) {
        char *real = realpath(p->adapters[i], NULL);
        const char *name = real != NULL ? real : p->adapters[i];
        char *grown = realloc(paths, length + strlen(name) + 2);
        if (grown == NULL) {
            free(real);
            free(paths);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", m->path);
        }
        paths = grown;
        length += (size_t)sprintf(paths + length, "%s\n", name);
        free(real);
    }
    m->adapter_paths = paths;
    return LLMBED_OK;
}

static llmbed_status load_into(llmbed_model *m, const char *path, const llmbed_model_params *p,
                               llmbed_error *error) {
    m->path = strdup(path);
    if (m->path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    LLMBED_TRY(remember_adapters(m, p, error));
    if (llmbed_path_is_dir(path)) {
        LLMBED_TRY(llmbed_model_load_folder(m, path, p, error));
        return finish_tokenizer(m, llmbed_tokenizer_load_folder(path, &m->tokenizer, error), error);
    }
    if (!llmbed_path_is_file(path))
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND,
                           "%s: no such file or folder (expected a Hugging Face model folder or a .gguf file)", path);
    llmbed_gguf *gguf;
    LLMBED_TRY(llmbed_gguf_open(path, &gguf, error));
    llmbed_status st = llmbed_model_load_gguf(m, gguf, path, p, error);
    if (st == LLMBED_OK) st = finish_tokenizer(m, llmbed_tokenizer_load_gguf(gguf, &m->tokenizer, error), error);
    llmbed_gguf_close(gguf); /* the tokenizer copies what it keeps */
    return st;
}

llmbed_status llmbed_model_load(const char *path, const llmbed_model_params *params, llmbed_model **out_model,
                                llmbed_error *error) {
    llmbed_error_clear(error);
    if (out_model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_load: out_model is NULL");
    *out_model = NULL;
    if (path == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model_load: path is NULL");
    llmbed_model_params defaults;
    if (params == NULL) {
        llmbed_model_params_default(&defaults);
        params = &defaults;
    }
    if (params->struct_size != sizeof(llmbed_model_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "model params: struct_size %zu, expected %zu (call llmbed_model_params_default)",
                           params->struct_size, sizeof(llmbed_model_params));
    if (params->n_threads < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model params: n_threads %d is negative",
                           params->n_threads);
    if ((unsigned)params->weights > LLMBED_WEIGHTS_NATIVE)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "model params: weights %d is not an llmbed_weights value", (int)params->weights);
    if (params->n_adapters < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model params: n_adapters %d is negative",
                           params->n_adapters);
    llmbed_model *model = calloc(1, sizeof *model);
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    const llmbed_status st = load_into(model, path, params, error);
    if (st != LLMBED_OK) {
        llmbed_model_free(model);
        return st;
    }
    *out_model = model;
    return LLMBED_OK;
}

void llmbed_model_free(llmbed_model *model) {
    if (model == NULL) return;
    free(model->weight_storage);
    free(model->latent_storage);
    free(model->dense);
    free(model->dense_storage);
    free(model->weights.layers);
    free(model->path);
    free(model->adapter_paths);
    llmbed_tokenizer_free(model->tokenizer);
    free(model);
}

llmbed_status llmbed_model_get_info(const llmbed_model *model, llmbed_model_info *info) {
    if (model == NULL || info == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    if (info->struct_size != sizeof(llmbed_model_info)) return LLMBED_ERR_INVALID_ARGUMENT;
    const llmbed_config *c = &model->config;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->architecture = model->arch_name;
    info->source_format = model->source_format;
    info->weight_dtype = model->weight_dtype;
    info->n_layers = c->n_layers;
    info->hidden_size = c->hidden_size;
    info->n_heads = c->n_heads;
    info->n_kv_heads = c->n_kv_heads;
    info->head_dim = c->head_dim;
    info->intermediate_size = c->intermediate_size;
    info->vocab_size = c->vocab_size;
    info->max_positions = c->max_positions;
    info->rope_theta = c->rope_theta;
    info->rope_scaling = llmbed_rope_type_name(c->rope_scaling.type);
    info->rms_norm_eps = c->rms_norm_eps;
    info->tie_word_embeddings = c->tie_word_embeddings;
    info->n_parameters = model->n_parameters;
    info->default_pooling = model->default_pooling;
    info->default_attention = model->default_attention;
    info->default_normalize = model->default_normalize;
    info->family = model->family.name != NULL ? model->family.name : "generic";
    info->family_reason = model->family.reason;
    info->appends_eos = model->family.append_eos && c->eos_token_id >= 0;
    info->eos_token_id = c->eos_token_id;
    info->query_format = model->family.query_format != NULL ? model->family.query_format : "";
    info->has_latent_pooling = model->weights.latent.q_logits != NULL;
    info->weights = llmbed_weights_name(model->weights_mode);
    info->weight_bytes = (int64_t)model->weight_bytes;
    return LLMBED_OK;
}
