/* Embedder family detection (SPEC section 3's table).
 *
 * Conventions, each from the family's public modeling/usage code:
 *   nv-embed          bidirectional Mistral, latent attention then masked mean,
 *                     "Instruct: {task}\nQuery: " + text + "</s>" (modeling_nvembed.py
 *                     input_transform_func always_add_eos), instruction masked with
 *                     len(tokenizer.tokenize(instruction)) positions (prepare_kwargs_from_batch)
 *   gte-qwen2         bidirectional, last token, EOS appended (gte-Qwen2 model card)
 *   llm2vec           bidirectional, mean over non-instruction tokens (llm2vec LLM2Vec.encode)
 *   gritlm            bidirectional, mean over non-instruction tokens, "<|user|>\n{task}\n<|embed|>\n"
 *   qwen3-embedding   causal, last token, <|endoftext|> appended, "Instruct: {task}\nQuery:{q}"
 *   e5-mistral        causal, last token, EOS appended, "Instruct: {task}\nQuery: {q}"
 *   minicpm-embedding bidirectional, position-weighted mean (MiniCPM-Embedding model card)
 *   embeddinggemma    bidirectional (Gemma 3 use_bidirectional_attention, sliding layers
 *                     windowed both ways), mean, then the folder's Dense modules and
 *                     Normalize; prompts "task: search result | query: " from
 *                     config_sentence_transformers.json (EmbeddingGemma model card)
 *   generic           the folder's sentence-transformers files, else causal + last token
 *
 * Detection order (the first rule that matches wins, and is reported):
 *   1. config.json model_type "nvembed" (architectures NVEmbedModel);
 *   2. the checkpoint's name in config.json "_name_or_path" or the folder name;
 *   3. config.json auto_map classes (LLM2Vec's *EncoderModel, gte-Qwen2's
 *      modeling_qwen.Qwen2Model) and architectures (MiniCPMModel);
 *   4. sentence-transformers pooling of an architecture (1_Pooling lasttoken on
 *      qwen3 -> qwen3-embedding, on mistral -> e5-mistral; weightedmean on
 *      minicpm -> minicpm-embedding);
 *   5. a gemma3_text config with use_bidirectional_attention -> embeddinggemma. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "model/family.h"
#include "model/model.h"

typedef struct family_convention {
    const char *name;
    llmbed_pooling pooling;
    llmbed_attention attention;
    int append_eos;
    int mask_instruction; /* NV-Embed is_mask_instruction; LLM2Vec/GritLM mean over non-instruction tokens */
    int mask_bare_instruction;
    const char *query_format;
} family_convention;

static const family_convention CONVENTIONS[LLMBED_FAMILY_COUNT] = {
    [LLMBED_FAMILY_GENERIC] = {"generic", LLMBED_POOLING_DEFAULT, LLMBED_ATTENTION_DEFAULT, 0, 0, 0, ""},
    [LLMBED_FAMILY_NV_EMBED] = {"nv-embed", LLMBED_POOLING_LATENT, LLMBED_ATTENTION_BIDIRECTIONAL, 1, 1, 1,
                                "Instruct: {task}\\nQuery: {q}</s>"},
    [LLMBED_FAMILY_GTE_QWEN2] = {"gte-qwen2", LLMBED_POOLING_LAST, LLMBED_ATTENTION_BIDIRECTIONAL, 1, 0, 0,
                                 "Instruct: {task}\\nQuery: {q}"},
    [LLMBED_FAMILY_LLM2VEC] = {"llm2vec", LLMBED_POOLING_MEAN, LLMBED_ATTENTION_BIDIRECTIONAL, 0, 1, 0,
                               "{task}: {q} (instruction masked from the pool)"},
    [LLMBED_FAMILY_GRITLM] = {"gritlm", LLMBED_POOLING_MEAN, LLMBED_ATTENTION_BIDIRECTIONAL, 0, 1, 0,
                              "<|user|>\\n{task}\\n<|embed|>\\n{q} (instruction masked from the pool)"},
    [LLMBED_FAMILY_QWEN3_EMBEDDING] = {"qwen3-embedding", LLMBED_POOLING_LAST, LLMBED_ATTENTION_CAUSAL, 1, 0, 0,
                                       "Instruct: {task}\\nQuery:{q}"},
    [LLMBED_FAMILY_E5_MISTRAL] = {"e5-mistral", LLMBED_POOLING_LAST, LLMBED_ATTENTION_CAUSAL, 1, 0, 0,
                                  "Instruct: {task}\\nQuery: {q}"},
    [LLMBED_FAMILY_MINICPM_EMBEDDING] = {"minicpm-embedding", LLMBED_POOLING_WEIGHTED_MEAN,
                                         LLMBED_ATTENTION_BIDIRECTIONAL, 0, 0, 0, "Instruction: {task} Query: {q}"},
    [LLMBED_FAMILY_EMBEDDINGGEMMA] = {"embeddinggemma", LLMBED_POOLING_MEAN, LLMBED_ATTENTION_BIDIRECTIONAL, 0, 0, 0,
                                      "task: search result | query: {q}"},
};

const char *const *llmbed_family_names(void) {
    static const char *const names[] = {"generic",           "nv-embed",       "gte-qwen2",       "llm2vec",
                                        "gritlm",            "qwen3-embedding", "e5-mistral",      "minicpm-embedding",
                                        "embeddinggemma",    NULL};
    return names;
}

/* Case-insensitive substring test. */
static int contains(const char *haystack, const char *needle) {
    if (haystack == NULL) return 0;
    const size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static const char *json_string(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* First string in config.json's `key` (an object's values or an array) containing `needle`. */
static const char *find_in(const cJSON *config, const char *key, const char *needle) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(config, key), *it;
    cJSON_ArrayForEach(it, list) {
        if (cJSON_IsString(it) && contains(it->valuestring, needle)) return it->valuestring;
    }
    return NULL;
}

/* The pooling_mode_* flag set in the folder's 1_Pooling/config.json, or NULL. */
static const char *st_pooling_mode(const char *folder, char *buf, size_t cap) {
    char *path = llmbed_path_join(folder, "1_Pooling/config.json");
    cJSON *json = NULL;
    const char *mode = NULL;
    if (path != NULL && llmbed_path_is_file(path) && llmbed_json_parse_file(path, &json, NULL) == LLMBED_OK) {
        const cJSON *it;
        cJSON_ArrayForEach(it, json) {
            if (it->string != NULL && strncmp(it->string, "pooling_mode_", 13) == 0 && cJSON_IsTrue(it)) {
                snprintf(buf, cap, "%s", it->string + 13);
                mode = buf;
            }
        }
    }
    cJSON_Delete(json);
    free(path);
    return mode;
}

static int has_file(const char *folder, const char *name) {
    char *path = llmbed_path_join(folder, name);
    const int found = path != NULL && llmbed_path_is_file(path);
    free(path);
    return found;
}

static llmbed_family_id by_name(const char *text) {
    static const struct {
        const char *needle;
        llmbed_family_id id;
    } NAMES[] = {
        {"nv-embed", LLMBED_FAMILY_NV_EMBED},     {"gte-qwen2", LLMBED_FAMILY_GTE_QWEN2},
        {"gte_qwen2", LLMBED_FAMILY_GTE_QWEN2},   {"llm2vec", LLMBED_FAMILY_LLM2VEC},
        {"gritlm", LLMBED_FAMILY_GRITLM},         {"qwen3-embedding", LLMBED_FAMILY_QWEN3_EMBEDDING},
        {"e5-mistral", LLMBED_FAMILY_E5_MISTRAL}, {"minicpm-embedding", LLMBED_FAMILY_MINICPM_EMBEDDING},
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (contains(text, NAMES[i].needle)) return NAMES[i].id;
    return LLMBED_FAMILY_GENERIC;
}

/* Rules 1-4 of the header comment; writes the reason. */
static llmbed_family_id detect(const llmbed_model *m, const char *folder, const cJSON *config, char *reason,
                               size_t cap) {
    if (m->config.latent.present) {
        snprintf(reason, cap, "config.json model_type \"nvembed\" with latent_attention_config (NVEmbedModel)");
        return LLMBED_FAMILY_NV_EMBED;
    }
    const char *name_or_path = json_string(config, "_name_or_path");
    llmbed_family_id id = by_name(name_or_path);
    if (id != LLMBED_FAMILY_GENERIC) {
        snprintf(reason, cap, "config.json _name_or_path \"%.160s\"", name_or_path);
        return id;
    }
    const char *base = strrchr(folder, '/');
    base = base != NULL && base[1] != '\0' ? base + 1 : folder;
    id = by_name(base);
    if (id != LLMBED_FAMILY_GENERIC) {
        snprintf(reason, cap, "model folder name \"%.160s\"", base);
        return id;
    }
    const char *cls;
    if ((cls = find_in(config, "auto_map", "EncoderModel")) != NULL ||
        (cls = find_in(config, "auto_map", "llm2vec")) != NULL) {
        snprintf(reason, cap, "config.json auto_map class \"%.160s\" (LLM2Vec's bidirectional encoder)", cls);
        return LLMBED_FAMILY_LLM2VEC;
    }
    if (m->config.arch == LLMBED_ARCH_QWEN2 && (cls = find_in(config, "auto_map", "modeling_qwen.Qwen2Model")) != NULL) {
        snprintf(reason, cap, "config.json auto_map class \"%.160s\" (gte-Qwen2's remote code)", cls);
        return LLMBED_FAMILY_GTE_QWEN2;
    }
    if (m->config.arch == LLMBED_ARCH_MINICPM && (cls = find_in(config, "architectures", "MiniCPMModel")) != NULL) {
        snprintf(reason, cap, "config.json architectures \"%.160s\" (the bare MiniCPM encoder)", cls);
        return LLMBED_FAMILY_MINICPM_EMBEDDING;
    }
    char mode_buf[64];
    const char *mode = st_pooling_mode(folder, mode_buf, sizeof mode_buf);
    if (mode != NULL) {
        id = LLMBED_FAMILY_GENERIC;
        if (strcmp(mode, "lasttoken") == 0 && m->config.arch == LLMBED_ARCH_QWEN3) id = LLMBED_FAMILY_QWEN3_EMBEDDING;
        if (strcmp(mode, "lasttoken") == 0 && m->config.arch == LLMBED_ARCH_MISTRAL) id = LLMBED_FAMILY_E5_MISTRAL;
        if (strcmp(mode, "weightedmean_tokens") == 0 && m->config.arch == LLMBED_ARCH_MINICPM)
            id = LLMBED_FAMILY_MINICPM_EMBEDDING;
        if (id != LLMBED_FAMILY_GENERIC) {
            snprintf(reason, cap, "1_Pooling/config.json pooling_mode_%s on a %s model", mode,
                     llmbed_arch_name(m->config.arch));
            return id;
        }
    }
    if (m->config.arch == LLMBED_ARCH_GEMMA3 && m->config.bidirectional) {
        snprintf(reason, cap, "config.json use_bidirectional_attention on a gemma3_text model");
        return LLMBED_FAMILY_EMBEDDINGGEMMA;
    }
    snprintf(reason, cap, "no family marker in config.json or the sentence-transformers files");
    return LLMBED_FAMILY_GENERIC;
}

llmbed_status llmbed_family_select(llmbed_model *m, const char *folder, const cJSON *config, const char *forced,
                                   llmbed_error *error) {
    llmbed_family *f = &m->family;
    memset(f, 0, sizeof *f);
    llmbed_family_id id = LLMBED_FAMILY_GENERIC;
    if (forced != NULL) {
        const char *const *names = llmbed_family_names();
        int found = -1;
        for (int i = 0; names[i] != NULL; i++)
            if (strcmp(names[i], forced) == 0) found = i;
        if (found < 0)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "family \"%s\" is unknown (generic, nv-embed, gte-qwen2, llm2vec, gritlm, "
                               "qwen3-embedding, e5-mistral, minicpm-embedding, embeddinggemma)",
                               forced);
        id = (llmbed_family_id)found;
        if (id == LLMBED_FAMILY_NV_EMBED && !m->config.latent.present)
            return llmbed_fail(error, LLMBED_ERR_BAD_CONFIG,
                               "%s: family nv-embed needs the latent pooling block (model_type \"nvembed\" with "
                               "latent_attention_config and latent_attention_model.* weights)",
                               m->path);
        snprintf(f->reason, sizeof f->reason, "forced by the caller (--family %s)", forced);
    } else if (config != NULL) {
        id = detect(m, folder, config, f->reason, sizeof f->reason);
    } else {
        snprintf(f->reason, sizeof f->reason, "GGUF file: no family marker");
    }
    const family_convention *c = &CONVENTIONS[id];
    f->id = id;
    f->name = c->name;
    f->append_eos = c->append_eos;
    f->mask_instruction = c->mask_instruction;
    f->mask_bare_instruction = c->mask_bare_instruction;
    f->query_format = c->query_format;
    if (id == LLMBED_FAMILY_GENERIC) return LLMBED_OK; /* st_defaults.c's choice stands */
    m->default_attention = c->attention;
    /* A folder's own 1_Pooling / modules.json are more specific than the family
     * (they exist for these models and agree with the table). */
    const int st_pooling = folder != NULL && has_file(folder, "1_Pooling/config.json");
    if (!st_pooling || id == LLMBED_FAMILY_NV_EMBED) m->default_pooling = c->pooling;
    if (folder == NULL || !has_file(folder, "modules.json")) m->default_normalize = 1;
    return LLMBED_OK;
}
