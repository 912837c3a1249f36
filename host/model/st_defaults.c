/* Model-level defaults for pooling, attention and normalisation.
 *
 * sentence-transformers folders say how the model was trained to embed:
 *   modules.json lists the modules; a "sentence_transformers.models.Pooling"
 *   module's folder (usually 1_Pooling/) holds config.json with one
 *   pooling_mode_* flag set: lasttoken -> LAST, mean_tokens -> MEAN,
 *   cls_token -> FIRST, weightedmean_tokens -> WEIGHTED_MEAN (max and
 *   mean_sqrt_len, or several flags at once, are not supported);
 *   a "sentence_transformers.models.Normalize" module -> normalise.
 * Without these files: LAST pooling and L2 normalisation, the convention of
 * the decoder embedders llmbed targets (Qwen3-Embedding, e5-mistral; SPEC §3).
 * With modules.json but no Normalize module: no normalisation.
 * Attention: CAUSAL, unless config.json says "is_causal": false (as
 * bidirectional conversions such as gte-Qwen2 and LLM2Vec do) -> BIDIRECTIONAL. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "model/model_load.h"

#define ST_POOLING "sentence_transformers.models.Pooling"
#define ST_NORMALIZE "sentence_transformers.models.Normalize"

static const struct {
    const char *key;
    llmbed_pooling pooling;
} POOLING_MODES[] = {
    {"pooling_mode_lasttoken", LLMBED_POOLING_LAST},
    {"pooling_mode_mean_tokens", LLMBED_POOLING_MEAN},
    {"pooling_mode_cls_token", LLMBED_POOLING_FIRST},
    {"pooling_mode_weightedmean_tokens", LLMBED_POOLING_WEIGHTED_MEAN},
    {"pooling_mode_max_tokens", LLMBED_POOLING_DEFAULT},
    {"pooling_mode_mean_sqrt_len_tokens", LLMBED_POOLING_DEFAULT},
};

static llmbed_status read_pooling(llmbed_model *m, const char *path, llmbed_error *error) {
    cJSON *json;
    llmbed_status st = llmbed_json_parse_file(path, &json, error);
    if (st != LLMBED_OK) return st;
    int n_set = 0;
    const char *chosen = NULL;
    for (size_t i = 0; i < sizeof POOLING_MODES / sizeof POOLING_MODES[0]; i++) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, POOLING_MODES[i].key))) continue;
        n_set++;
        chosen = POOLING_MODES[i].key;
        m->default_pooling = POOLING_MODES[i].pooling;
    }
    if (n_set > 1 || (n_set == 1 && m->default_pooling == LLMBED_POOLING_DEFAULT))
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                         "%s: pooling %s is not supported (one of lasttoken, mean_tokens, cls_token, "
                         "weightedmean_tokens)",
                         path, n_set > 1 ? "combining several pooling_mode_* flags" : chosen);
    if (n_set == 0) m->default_pooling = LLMBED_POOLING_LAST;
    cJSON_Delete(json);
    return st;
}

/* Reads modules.json when present: the pooling module's folder and whether a Normalize module follows. */
static llmbed_status read_modules(llmbed_model *m, const char *folder, char **pooling_dir, llmbed_error *error) {
    char *path = llmbed_path_join(folder, "modules.json");
    if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    if (!llmbed_path_is_file(path)) {
        free(path);
        return LLMBED_OK;
    }
    cJSON *json;
    llmbed_status st = llmbed_json_parse_file(path, &json, error);
    if (st != LLMBED_OK) {
        free(path);
        return st;
    }
    m->default_normalize = 0;
    const cJSON *modules = cJSON_IsArray(json) ? json : NULL, *module;
    cJSON_ArrayForEach(module, modules) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(module, "type");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(module, "path");
        if (!cJSON_IsString(type)) continue;
        if (strcmp(type->valuestring, ST_NORMALIZE) == 0) m->default_normalize = 1;
        if (strcmp(type->valuestring, ST_POOLING) == 0 && cJSON_IsString(dir) && *pooling_dir == NULL) {
            *pooling_dir = llmbed_path_join(folder, dir->valuestring);
            if (*pooling_dir == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
    }
    cJSON_Delete(json);
    free(path);
    return st;
}

/* Pooling and normalisation from a folder's modules.json and pooling config (1_Pooling/ unless
 * modules.json names another); untouched when the folder has neither. */
static llmbed_status read_st_files(llmbed_model *m, const char *folder, llmbed_error *error) {
    char *pooling_dir = NULL;
    llmbed_status st = read_modules(m, folder, &pooling_dir, error);
    if (st == LLMBED_OK && pooling_dir == NULL) {
        pooling_dir = llmbed_path_join(folder, "1_Pooling");
        if (pooling_dir == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    }
    if (st == LLMBED_OK) {
        char *pooling_config = llmbed_path_join(pooling_dir, "config.json");
        if (pooling_config == NULL) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
        else if (llmbed_path_is_file(pooling_config)) st = read_pooling(m, pooling_config, error);
        free(pooling_config);
    }
    free(pooling_dir);
    return st;
}

llmbed_status llmbed_model_folder_defaults(llmbed_model *m, const char *folder, const cJSON *config_json,
                                           llmbed_error *error) {
    m->default_pooling = LLMBED_POOLING_LAST;
    m->default_attention = LLMBED_ATTENTION_CAUSAL;
    m->default_normalize = 1;
    const cJSON *is_causal = cJSON_GetObjectItemCaseSensitive(config_json, "is_causal");
    if (is_causal != NULL && !cJSON_IsNull(is_causal)) {
        if (!cJSON_IsBool(is_causal))
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s/config.json: field \"is_causal\" must be true or false",
                               folder);
        if (cJSON_IsFalse(is_causal)) m->default_attention = LLMBED_ATTENTION_BIDIRECTIONAL;
    }
    return read_st_files(m, folder, error);
}

/* An adapter trained as an embedder (llmbed.train writes sentence-transformers'
 * modules.json + 1_Pooling beside adapter_config.json) says how it pools: the
 * last adapter folder that has these files decides, over the base's defaults. */
llmbed_status llmbed_adapter_folder_defaults(llmbed_model *m, const char *const *dirs, int n_dirs,
                                             llmbed_error *error) {
    for (int i = n_dirs - 1; i >= 0; i--) {
        char *modules = llmbed_path_join(dirs[i], "modules.json");
        char *pooling = llmbed_path_join(dirs[i], "1_Pooling/config.json");
        if (modules == NULL || pooling == NULL) {
            free(modules);
            free(pooling);
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", dirs[i]);
        }
        const int has_files = llmbed_path_is_file(modules) || llmbed_path_is_file(pooling);
        free(modules);
        free(pooling);
        if (has_files) return read_st_files(m, dirs[i], error);
    }
    return LLMBED_OK;
}
