/* sentence-transformers Dense modules: modules.json entries of type
 * "sentence_transformers.models.Dense" in file order, each from its folder:
 *   config.json        in_features, out_features, bias (default true),
 *                      activation_function (default torch.nn.modules.activation.Tanh,
 *                      Dense.__init__'s nn.Tanh(); EmbeddingGemma writes
 *                      torch.nn.modules.linear.Identity)
 *   model.safetensors  linear.weight [out, in] (+ linear.bias [out])
 * sentence-transformers >= 3 saves safetensors; older folders keep
 * pytorch_model.bin (a pickle), which is refused with a message saying so. */
#include "model/st_dense.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "container/safetensors.h"
#include "model/model.h"

#define ST_DENSE "sentence_transformers.models.Dense"
#define MAX_FEATURES (1 << 20)

/* One module's shape and activation from its config.json. */
static llmbed_status read_dense_config(const char *path, llmbed_dense_layer *layer, int *has_bias, llmbed_error *error) {
    cJSON *json;
    LLMBED_TRY(llmbed_json_parse_file(path, &json, error));
    llmbed_status st = LLMBED_OK;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(json, "in_features");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(json, "out_features");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(json, "bias");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(json, "activation_function");
    if (!cJSON_IsNumber(in) || !cJSON_IsNumber(out) || in->valuedouble < 1 || out->valuedouble < 1 ||
        in->valuedouble > MAX_FEATURES || out->valuedouble > MAX_FEATURES || in->valuedouble != (int)in->valuedouble ||
        out->valuedouble != (int)out->valuedouble)
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: in_features and out_features must be integers in [1, %d]",
                         path, MAX_FEATURES);
    else if (bias != NULL && !cJSON_IsBool(bias))
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"bias\" must be true or false", path);
    else if (act != NULL && !cJSON_IsString(act))
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"activation_function\" must be a string", path);
    if (st == LLMBED_OK) {
        layer->in_features = (int)in->valuedouble;
        layer->out_features = (int)out->valuedouble;
        *has_bias = bias == NULL || cJSON_IsTrue(bias);
        const char *name = act != NULL ? act->valuestring : "torch.nn.modules.activation.Tanh";
        if (strcmp(name, "torch.nn.modules.activation.Tanh") == 0) layer->tanh = 1;
        else if (strcmp(name, "torch.nn.modules.linear.Identity") == 0) layer->tanh = 0;
        else
            st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                             "%s: activation_function \"%s\" is not supported (torch.nn.modules.linear.Identity, "
                             "torch.nn.modules.activation.Tanh)",
                             path, name);
    }
    cJSON_Delete(json);
    return st;
}

/* The weight (and bias) tensors of one module folder, checked against its config. */
static llmbed_status find_dense_tensors(const llmbed_safetensors *st, const char *file, const llmbed_dense_layer *l,
                                        int has_bias, const llmbed_tensor_ref **w, const llmbed_tensor_ref **b,
                                        llmbed_error *error) {
    *w = llmbed_safetensors_find_tensor(st, "linear.weight");
    *b = llmbed_safetensors_find_tensor(st, "linear.bias");
    if (*w == NULL)
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor 'linear.weight' is missing", file);
    if ((*w)->n_dims != 2 || (*w)->shape[0] != l->out_features || (*w)->shape[1] != l->in_features)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: tensor 'linear.weight' must be [%d, %d] (out_features, in_features)", file,
                           l->out_features, l->in_features);
    if (has_bias && *b == NULL)
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor 'linear.bias' is missing (config bias true)",
                           file);
    if (has_bias && ((*b)->n_dims != 1 || (*b)->shape[0] != l->out_features))
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE, "%s: tensor 'linear.bias' must be [%d]", file,
                           l->out_features);
    if (!has_bias) *b = NULL;
    return LLMBED_OK;
}

/* Loads one Dense folder into layer: its weights are appended to *storage
 * (grown; *used floats in use) at offsets[0] (bias at offsets[1], or
 * SIZE_MAX), turned into pointers once the block stops moving. */
static llmbed_status load_dense(const char *dir, int expected_in, llmbed_dense_layer *layer, float **storage,
                                size_t *used, size_t offsets[2], llmbed_error *error) {
    char *config = llmbed_path_join(dir, "config.json"), *weights = llmbed_path_join(dir, "model.safetensors");
    char *pickle = llmbed_path_join(dir, "pytorch_model.bin");
    llmbed_status st = config && weights && pickle ? LLMBED_OK
                                                   : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    int has_bias = 0;
    if (st == LLMBED_OK) st = read_dense_config(config, layer, &has_bias, error);
    if (st == LLMBED_OK && layer->in_features != expected_in)
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                         "%s: in_features %d does not match the %d values it receives (hidden size or the previous "
                         "Dense module's out_features)",
                         config, layer->in_features, expected_in);
    if (st == LLMBED_OK && !llmbed_path_is_file(weights))
        st = llmbed_path_is_file(pickle)
                 ? llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                               "%s: weights only in pytorch_model.bin (a pickle) are not read; save the model with "
                               "sentence-transformers >= 3 (safetensors)",
                               dir)
                 : llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: no such file", weights);
    llmbed_safetensors *file = NULL;
    if (st == LLMBED_OK) st = llmbed_safetensors_open(weights, &file, error);
    const llmbed_tensor_ref *w = NULL, *b = NULL;
    if (st == LLMBED_OK) st = find_dense_tensors(file, weights, layer, has_bias, &w, &b, error);
    if (st == LLMBED_OK) {
        const size_t n_w = (size_t)layer->in_features * (size_t)layer->out_features, n_b = b ? (size_t)layer->out_features : 0;
        float *grown = realloc(*storage, sizeof(float) * (*used + n_w + n_b));
        if (grown == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", weights);
        else *storage = grown;
        if (st == LLMBED_OK) st = llmbed_tensor_to_f32(w, *storage + *used, error);
        if (st == LLMBED_OK && b != NULL) st = llmbed_tensor_to_f32(b, *storage + *used + n_w, error);
        offsets[0] = *used;
        offsets[1] = b != NULL ? *used + n_w : SIZE_MAX;
        *used += n_w + n_b;
    }
    llmbed_safetensors_close(file);
    free(config);
    free(weights);
    free(pickle);
    return st;
}

llmbed_status llmbed_dense_load(llmbed_model *m, const char *folder, llmbed_error *error) {
    char *path = llmbed_path_join(folder, "modules.json");
    if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    cJSON *json = NULL;
    llmbed_status st = llmbed_path_is_file(path) ? llmbed_json_parse_file(path, &json, error) : LLMBED_OK;
    const cJSON *module, *list = cJSON_IsArray(json) ? json : NULL;
    int n = 0;
    cJSON_ArrayForEach(module, list) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(module, "type");
        n += cJSON_IsString(type) && strcmp(type->valuestring, ST_DENSE) == 0;
    }
    llmbed_dense_layer *layers = n > 0 ? calloc((size_t)n, sizeof *layers) : NULL;
    size_t(*offsets)[2] = n > 0 ? calloc((size_t)n, sizeof *offsets) : NULL;
    if (n > 0 && (layers == NULL || offsets == NULL))
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    float *storage = NULL;
    size_t used = 0;
    int loaded = 0, width = m->config.hidden_size;
    if (st != LLMBED_OK) list = NULL;
    cJSON_ArrayForEach(module, list) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(module, "type");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(module, "path");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, ST_DENSE) != 0) continue;
        if (!cJSON_IsString(dir)) {
            st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: a Dense module has no \"path\"", path);
            break;
        }
        char *module_dir = llmbed_path_join(folder, dir->valuestring);
        st = module_dir != NULL ? load_dense(module_dir, width, &layers[loaded], &storage, &used, offsets[loaded], error)
                                : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
        free(module_dir);
        if (st != LLMBED_OK) break;
        width = layers[loaded++].out_features;
    }
    for (int i = 0; st == LLMBED_OK && i < loaded; i++) {
        layers[i].weight = storage + offsets[i][0];
        layers[i].bias = offsets[i][1] != SIZE_MAX ? storage + offsets[i][1] : NULL;
    }
    free(offsets);
    cJSON_Delete(json);
    free(path);
    if (st != LLMBED_OK) {
        free(layers);
        free(storage);
        return st;
    }
    m->dense = layers;
    m->n_dense = loaded;
    m->dense_storage = storage;
    return LLMBED_OK;
}

int llmbed_dense_output_width(const llmbed_model *m) {
    return m->n_dense > 0 ? m->dense[m->n_dense - 1].out_features : m->config.hidden_size;
}
