/* PEFT LoRA adapters merged into the fp32 base weights at load, as peft's
 * LoraLayer.merge / merge_and_unload do for nn.Linear targets:
 *   W += scaling * B A,  scaling = lora_alpha / r  (lora_alpha / sqrt(r) with use_rslora)
 * with A = lora_A.weight [r, in_features], B = lora_B.weight [out_features, r].
 *
 * Files (peft's save_pretrained): adapter_config.json (peft_type "LORA", r,
 * lora_alpha, target_modules, use_rslora, fan_in_fan_out, use_dora, ...) and
 * adapter_model.safetensors with tensors
 *   base_model.model.<module path>.lora_A.weight / .lora_B.weight
 * where <module path> is the base model's own name: "model.layers.3.self_attn.q_proj"
 * for XForCausalLM, "layers.3..." for a bare XModel (LLM2Vec's encoders).
 * fan_in_fan_out only applies to GPT-2 style Conv1D weights; for nn.Linear
 * peft itself resets it to False (with a warning), so it is ignored here.
 * Adapters are applied in the order given (LLM2Vec: MNTP, then supervised). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "model/lora.h"
#include "container/safetensors.h"

typedef struct lora_config {
    int r;
    double alpha;
    int use_rslora;
} lora_config;

static const cJSON *field(const cJSON *json, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(json, key);
    return cJSON_IsNull(it) ? NULL : it;
}

/* A non-empty list/object/string under `key` (peft writes null, [] or {} when unused). */
static int non_empty(const cJSON *json, const char *key) {
    const cJSON *it = field(json, key);
    if (it == NULL) return 0;
    if (cJSON_IsArray(it) || cJSON_IsObject(it)) return cJSON_GetArraySize(it) > 0;
    if (cJSON_IsString(it)) return it->valuestring[0] != '\0';
    return 1;
}

static llmbed_status read_config(const char *path, lora_config *c, llmbed_error *error) {
    cJSON *json;
    LLMBED_TRY(llmbed_json_parse_file(path, &json, error));
    llmbed_status st = LLMBED_OK;
    const cJSON *type = field(json, "peft_type"), *r = field(json, "r"), *alpha = field(json, "lora_alpha");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA") != 0)
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                         "%s: peft_type %s is not supported (only LORA adapters merge into the weights)", path,
                         cJSON_IsString(type) ? type->valuestring : "(missing)");
    else if (cJSON_IsTrue(field(json, "use_dora")))
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                         "%s: use_dora: DoRA adapters (magnitude-rescaled LoRA) are not supported", path);
    else if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 1 || r->valuedouble > 65536)
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"r\" must be an integer in [1, 65536]", path);
    else if (!cJSON_IsNumber(alpha) || !isfinite(alpha->valuedouble))
        st = llmbed_fail(error, LLMBED_ERR_BAD_CONFIG, "%s: field \"lora_alpha\" must be a number", path);
    else if (non_empty(json, "rank_pattern") || non_empty(json, "alpha_pattern"))
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                         "%s: rank_pattern / alpha_pattern (per-module ranks) are not supported", path);
    else if (non_empty(json, "modules_to_save"))
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                         "%s: modules_to_save (fully trained extra modules) is not supported", path);
    else if (cJSON_IsString(field(json, "bias")) && strcmp(field(json, "bias")->valuestring, "none") != 0)
        st = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "%s: bias \"%s\" is not supported (only \"none\")", path,
                         field(json, "bias")->valuestring);
    if (st == LLMBED_OK) {
        c->r = (int)r->valuedouble;
        c->alpha = alpha->valuedouble;
        c->use_rslora = cJSON_IsTrue(field(json, "use_rslora"));
    }
    cJSON_Delete(json);
    return st;
}

/* The base weight a PEFT module path names. */
static llmbed_weight *target_weight(llmbed_model *m, const char *module) {
    static const char *const prefixes[] = {"model.", "embedding_model.", ""};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        const size_t n = strlen(prefixes[p]);
        if (strncmp(module, prefixes[p], n) != 0) continue;
        int layer = -1, used = 0;
        char name[64];
        if (sscanf(module + n, "layers.%d.%63s%n", &layer, name, &used) != 2 || module[n + (size_t)used] != '\0')
            continue;
        if (layer < 0 || layer >= m->config.n_layers) return NULL;
        llmbed_layer_weights *w = &m->weights.layers[layer];
        const struct {
            const char *name;
            llmbed_weight *w;
        } T[] = {
            {"self_attn.q_proj", &w->wq}, {"self_attn.k_proj", &w->wk},  {"self_attn.v_proj", &w->wv},
            {"self_attn.o_proj", &w->wo}, {"mlp.gate_proj", &w->w_gate}, {"mlp.up_proj", &w->w_up},
            {"mlp.down_proj", &w->w_down},
        };
        for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
            if (strcmp(name, T[i].name) == 0) return T[i].w;
    }
    return NULL;
}

static llmbed_status to_f32(const llmbed_tensor_ref *t, float **out, const char *file, llmbed_error *error) {
    const int64_t n = llmbed_tensor_n_elements(t);
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (*out == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: tensor '%s': out of memory", file, t->name);
    llmbed_status st = llmbed_tensor_to_f32(t, *out, error);
    if (st != LLMBED_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* One lora_A tensor and its lora_B partner merged into their base weight. */
static llmbed_status merge_pair(llmbed_model *m, const llmbed_safetensors *st, const llmbed_tensor_ref *a_ref,
                                const lora_config *c, const char *file, llmbed_error *error) {
    static const char A_SUFFIX[] = ".lora_A.weight", PREFIX[] = "base_model.model.";
    const char *name = a_ref->name;
    const size_t len = strlen(name), plen = sizeof PREFIX - 1, slen = sizeof A_SUFFIX - 1;
    if (strncmp(name, PREFIX, plen) != 0 || len <= plen + slen)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "%s: tensor '%s' does not start with '%s' (a peft LoRA save)",
                           file, name, PREFIX);
    char module[256], b_name[300];
    snprintf(module, sizeof module, "%.*s", (int)(len - plen - slen), name + plen);
    snprintf(b_name, sizeof b_name, "%s%s.lora_B.weight", PREFIX, module);
    const llmbed_tensor_ref *b_ref = llmbed_safetensors_find_tensor(st, b_name);
    if (b_ref == NULL)
        return llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: tensor '%s' has no partner '%s'", file, name, b_name);
    const llmbed_weight *target = target_weight(m, module);
    if (target == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: tensor '%s': module '%s' is not a projection of this %d-layer model "
                           "(q/k/v/o_proj, gate/up/down_proj)",
                           file, name, module, m->config.n_layers);
    float *w = (float *)llmbed_weight_f32(target);
    if (w == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "%s: module '%s': the base weight is held as %s; LoRA merges into fp32 weights only "
                           "(load with weights f32)",
                           file, module, llmbed_dtype_name(target->dtype));
    const int64_t rows = target->rows, cols = target->cols;
    if (a_ref->n_dims != 2 || b_ref->n_dims != 2 || a_ref->shape[0] != c->r || b_ref->shape[1] != c->r ||
        a_ref->shape[1] != cols || b_ref->shape[0] != rows)
        return llmbed_fail(error, LLMBED_ERR_TENSOR_SHAPE,
                           "%s: module '%s': lora_A [%lld, %lld] and lora_B [%lld, %lld] do not fit the base weight "
                           "[%lld, %lld] with r = %d (an adapter for another base model?)",
                           file, module, (long long)a_ref->shape[0], (long long)(a_ref->n_dims > 1 ? a_ref->shape[1] : 0),
                           (long long)b_ref->shape[0], (long long)(b_ref->n_dims > 1 ? b_ref->shape[1] : 0),
                           (long long)rows, (long long)cols, c->r);
    float *a = NULL, *b = NULL;
    llmbed_status status = to_f32(a_ref, &a, file, error);
    if (status == LLMBED_OK) status = to_f32(b_ref, &b, file, error);
    if (status == LLMBED_OK) {
        /* peft LoraLayer.update_layer: scaling = lora_alpha / r, or / sqrt(r) with use_rslora */
        const double scaling = c->use_rslora ? c->alpha / sqrt((double)c->r) : c->alpha / (double)c->r;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, c->r, (float)scaling, b, c->r, a,
                    (int)cols, 1.0f, w, (int)cols);
    }
    free(a);
    free(b);
    return status;
}

static llmbed_status merge_one(llmbed_model *m, const char *dir, llmbed_error *error) {
    if (!llmbed_path_is_dir(dir))
        return llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: adapter folder not found", dir);
    char *config_path = llmbed_path_join(dir, "adapter_config.json");
    char *weights_path = llmbed_path_join(dir, "adapter_model.safetensors");
    llmbed_status status = config_path && weights_path ? LLMBED_OK
                                                       : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    lora_config c = {0, 0.0, 0};
    if (status == LLMBED_OK && !llmbed_path_is_file(config_path))
        status = llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: missing (not a peft adapter folder)", config_path);
    if (status == LLMBED_OK) status = read_config(config_path, &c, error);
    if (status == LLMBED_OK && !llmbed_path_is_file(weights_path))
        status = llmbed_fail(error, LLMBED_ERR_FILE_NOT_FOUND, "%s: missing (adapter weights)", weights_path);
    llmbed_safetensors *st = NULL;
    if (status == LLMBED_OK) status = llmbed_safetensors_open(weights_path, &st, error);
    int merged = 0;
    for (int64_t i = 0; status == LLMBED_OK && i < llmbed_safetensors_n_tensors(st); i++) {
        const llmbed_tensor_ref *t = llmbed_safetensors_tensor(st, i);
        const size_t n = strlen(t->name);
        if (n > 14 && strcmp(t->name + n - 14, ".lora_A.weight") == 0) {
            status = merge_pair(m, st, t, &c, weights_path, error);
            merged++;
        } else if (!(n > 14 && strcmp(t->name + n - 14, ".lora_B.weight") == 0)) {
            status = llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                                 "%s: tensor '%s' is not a lora_A/lora_B weight (embedding or prompt-tuning adapters "
                                 "are not supported)",
                                 weights_path, t->name);
        }
    }
    if (status == LLMBED_OK && merged == 0)
        status = llmbed_fail(error, LLMBED_ERR_MISSING_TENSOR, "%s: no lora_A/lora_B tensors", weights_path);
    llmbed_safetensors_close(st);
    free(config_path);
    free(weights_path);
    return status;
}

llmbed_status llmbed_lora_merge(llmbed_model *m, const char *const *dirs, int n_dirs, llmbed_error *error) {
    if (n_dirs > 0 && dirs == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model params: n_adapters %d with adapters NULL", n_dirs);
    if (n_dirs > 0 && m->weights.layers == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "%s: adapters need the weights (not vocab_only)", m->path);
    for (int i = 0; i < n_dirs; i++) {
        if (dirs[i] == NULL)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "model params: adapters[%d] is NULL", i);
        LLMBED_TRY(merge_one(m, dirs[i], error));
    }
    return LLMBED_OK;
}
