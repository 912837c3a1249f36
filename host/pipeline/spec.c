#include "pipeline/spec.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json_file.h"
#include "common/path.h"
#include "io/crc32.h"
#include "model/model.h"
#include "model/weight.h"
#include "pipeline/encode.h"
#include "template/template.h"

llmbed_status llmbed_embed_options_resolve(const llmbed_model *model, const llmbed_embed_params *params,
                                           llmbed_embed_options *options, llmbed_error *error) {
    if (params == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: NULL");
    const llmbed_config *cfg = &model->config;
    if (params->struct_size != sizeof(llmbed_embed_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed params: struct_size %zu, expected %zu (call llmbed_embed_params_default)",
                           params->struct_size, sizeof(llmbed_embed_params));
    if ((int)params->pooling < LLMBED_POOLING_DEFAULT || params->pooling > LLMBED_POOLING_LATENT)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: pooling %d is not an llmbed_pooling",
                           (int)params->pooling);
    if ((int)params->attention < LLMBED_ATTENTION_DEFAULT || params->attention > LLMBED_ATTENTION_BIDIRECTIONAL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed params: attention %d is not an llmbed_attention", (int)params->attention);
    if (params->normalize < -1 || params->normalize > 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: normalize %d is not -1, 0 or 1",
                           params->normalize);
    const int pooled_width = llmbed_dense_output_width(model);
    if (params->dims < 0 || params->dims > pooled_width)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: dims %d outside [0, %d] (%s)",
                           params->dims, pooled_width,
                           model->n_dense > 0 ? "the last Dense module's out_features" : "hidden size");
    if (params->layer < 0 || params->layer > cfg->n_layers)
        return llmbed_fail(error, LLMBED_ERR_LAYER_OUT_OF_RANGE,
                           "embed params: layer %d outside [0, %d] (0 = all %d layers)", params->layer,
                           cfg->n_layers, cfg->n_layers);
    if (params->mask_prefix_tokens < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: mask_prefix_tokens %d is negative",
                           params->mask_prefix_tokens);
    if (params->chunk_tokens < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: chunk_tokens %d is negative (0 = automatic)",
                           params->chunk_tokens);
    if (!(params->think_ratio >= 0.0f && params->think_ratio < 1.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: think_ratio %g outside [0, 1)",
                           (double)params->think_ratio);
    if (!(params->attention_temperature > 0.0f) || !isfinite(params->attention_temperature))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed params: attention_temperature %g must be finite and > 0 (1 = plain attention)",
                           (double)params->attention_temperature);

    /* DEFAULT follows the model family (SPEC §3); a model without a family
     * preference embeds like Qwen3-Embedding/e5-mistral: causal, last token. */
    llmbed_pooling pooling = params->pooling;
    if (pooling == LLMBED_POOLING_DEFAULT) pooling = model->default_pooling;
    if (pooling == LLMBED_POOLING_DEFAULT) pooling = LLMBED_POOLING_LAST;
    llmbed_attention attention = params->attention;
    if (attention == LLMBED_ATTENTION_DEFAULT) attention = model->default_attention;
    if (pooling == LLMBED_POOLING_LATENT && model->weights.latent.q_logits == NULL)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "pooling latent: %s has no latent pooling block (NV-Embed's latent_attention_model.* "
                           "weights and latent_attention_config)",
                           model->path != NULL ? model->path : "the model");
    options->pooling = pooling;
    options->mask_prefix_tokens = params->mask_prefix_tokens;
    options->causal = attention != LLMBED_ATTENTION_BIDIRECTIONAL;
    options->normalize = params->normalize == -1 ? (model->default_normalize != 0) : params->normalize;
    options->n_layers = params->layer == 0 ? cfg->n_layers : params->layer;
    options->out_dims = pooling == LLMBED_POOLING_NONE ? cfg->hidden_size : params->dims == 0 ? pooled_width : params->dims;
    options->attention_temperature = params->attention_temperature;
    options->chunk_tokens = params->chunk_tokens;
    options->think_ratio = params->think_ratio;
    options->continue_document = params->continue_document != 0;
    /* chunks continue a causal cache: a bidirectional token would need the keys of later chunks */
    if (!options->causal && params->continue_document)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed params: continue_document needs causal attention (the document's cache is causal)");
    if (!options->causal && (params->chunk_tokens > 0 || params->think_ratio > 0.0f))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "embed params: %s needs causal attention (bidirectional attention has no reusable cache)",
                           params->chunk_tokens > 0 ? "chunk_tokens" : "think_ratio");
    return LLMBED_OK;
}

static llmbed_status check_text_params(const llmbed_text_params *t, llmbed_error *error) {
    if (t->struct_size != sizeof(llmbed_text_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: struct_size %zu, expected %zu (call llmbed_text_params_default)",
                           t->struct_size, sizeof(llmbed_text_params));
    if (t->exclude_prompt < -1 || t->exclude_prompt > 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: exclude_prompt %d is not -1, 0 or 1",
                           t->exclude_prompt);
    if (t->truncate != 0 && t->truncate != 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: truncate %d is not 0 or 1", t->truncate);
    if (t->max_tokens < -1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: max_tokens %" PRId64 " (0 = the model's limit, -1 = none)", t->max_tokens);
    if (llmbed_precision_row_bytes(t->precision, 1) == 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: precision %d is not an llmbed_precision",
                           (int)t->precision);
    if ((int)t->pool_span < LLMBED_POOL_SPAN_DEFAULT || t->pool_span > LLMBED_POOL_SPAN_LAST_TEXT)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: pool_span %d is not an llmbed_pool_span",
                           (int)t->pool_span);
    if (t->late_chunking < -1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: late_chunking %d (0 = off, N > 0 = spans of N tokens, -1 = given spans)",
                           t->late_chunking);
    if (t->document != NULL && t->document_len == 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: document is empty (suffix mode needs a document to continue)");
    if (t->template_text != NULL) {
        llmbed_template parsed;
        llmbed_status st = llmbed_template_parse(t->template_text, "template", &parsed, error);
        llmbed_template_free(&parsed);
        if (st != LLMBED_OK) return st;
    }
    return LLMBED_OK;
}

/* 1_Pooling/config.json "include_prompt": false (sentence-transformers) leaves a prompt out of the pool. */
static llmbed_status folder_excludes_prompt(const llmbed_model *model, int *excludes, llmbed_error *error) {
    *excludes = 0;
    if (model->path == NULL || !llmbed_path_is_dir(model->path)) return LLMBED_OK;
    char *path = llmbed_path_join(model->path, "1_Pooling/config.json");
    if (path == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "%s: out of memory", model->path);
    cJSON *root = NULL;
    llmbed_status st = llmbed_path_is_file(path) ? llmbed_json_parse_file(path, &root, error) : LLMBED_OK;
    free(path);
    *excludes = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "include_prompt"));
    cJSON_Delete(root);
    return st;
}

static char *copy_string(const char *text) { return text != NULL ? strdup(text) : NULL; }

/* The EOS a suffix-mode input and a document follow the family rule with:
 * the config's eos_token_id when the family appends one. */
static int32_t config_family_eos(const llmbed_model *model) {
    return model->family.append_eos && model->config.eos_token_id >= 0 ? model->config.eos_token_id : -1;
}

/* Prompt, exclusion and the instruction length (SPEC §3): the family's rule
 * (NV-Embed, LLM2Vec, GritLM mask the instruction), else 1_Pooling's
 * include_prompt; NV-Embed counts len(tokenize(instruction)) without BOS,
 * and so does a suffix-mode input, which has none. */
static llmbed_status resolve_prompt(llmbed_job_spec *spec, const llmbed_text_params *t, llmbed_error *error) {
    const llmbed_model *model = spec->model;
    if (t->prompt == NULL || t->prompt[0] == '\0') return LLMBED_OK;
    spec->prompt = copy_string(t->prompt);
    if (spec->prompt == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "prompt: out of memory");
    int exclude = t->exclude_prompt;
    if (exclude < 0) {
        LLMBED_TRY(folder_excludes_prompt(model, &exclude, error));
        if (model->family.mask_instruction) exclude = 1;
    }
    spec->exclude_prompt = exclude;
    if (!exclude) return LLMBED_OK;
    const int bare = model->family.mask_bare_instruction || t->document != NULL;
    return llmbed_encode_prompt_length(model, spec->prompt, bare, &spec->instruction_len, error);
}

/* Template and span, from the caller or the method; the prompt goes in
 * front of the template as literal text. */
static llmbed_status resolve_template(llmbed_job_spec *spec, const llmbed_text_params *t, const llmbed_method *m,
                                      llmbed_error *error) {
    const char *body = t->template_text != NULL ? t->template_text : m != NULL ? m->template_text : NULL;
    spec->pool_span = t->pool_span != LLMBED_POOL_SPAN_DEFAULT ? t->pool_span
                      : m != NULL                              ? m->pool_span
                                                               : LLMBED_POOL_SPAN_ALL;
    spec->templated = body != NULL || spec->pool_span != LLMBED_POOL_SPAN_ALL;
    if (!spec->templated) return LLMBED_OK;
    if (body == NULL) body = "{text}";
    char *escaped = llmbed_template_escape(spec->prompt != NULL ? spec->prompt : "");
    spec->template_body = copy_string(body);
    spec->template_text = escaped != NULL ? malloc(strlen(escaped) + strlen(body) + 1) : NULL;
    if (spec->template_text == NULL || spec->template_body == NULL) {
        free(escaped);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "template: out of memory");
    }
    strcpy(spec->template_text, escaped);
    strcat(spec->template_text, body);
    free(escaped);
    return LLMBED_OK;
}

/* The suffix-mode document: tokenised with the special tokens, less the
 * family's final EOS (it ends the whole input, i.e. each query), never
 * truncated. */
static llmbed_status resolve_document(llmbed_job_spec *spec, const llmbed_text_params *t, llmbed_error *error) {
    if (t->document == NULL) return LLMBED_OK;
    if (!spec->engine.causal)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "document: suffix mode needs causal attention (bidirectional attention has no reusable "
                           "cache)");
    LLMBED_TRY(llmbed_encode_alloc(spec->model, t->document, t->document_len, 1, &spec->document, &spec->n_document,
                                   error));
    const int32_t eos = config_family_eos(spec->model);
    if (eos >= 0 && spec->n_document > 1 && spec->document[spec->n_document - 1] == eos) spec->n_document--;
    spec->document_bytes = t->document_len;
    spec->document_crc32 = llmbed_crc32_update(0, t->document, t->document_len);
    if (spec->max_tokens > 0 && (int64_t)spec->n_document > spec->max_tokens)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG,
                           "document: %zu tokens, more than --max-tokens %" PRId64
                           " (max_tokens; the document is never truncated: raise it)",
                           spec->n_document, spec->max_tokens);
    if ((int64_t)spec->n_document > INT32_MAX / 2)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "document: %zu tokens, limit %d", spec->n_document,
                           INT32_MAX / 2);
    spec->engine.continue_document = 1;
    spec->add_special = 0;
    spec->continuation_eos = eos;
    return LLMBED_OK;
}

/* Late chunking pools spans of the input as given: nothing may add to it or mask part of it. */
static llmbed_status check_late_chunking(const llmbed_job_spec *spec, const llmbed_text_params *t,
                                         llmbed_error *error) {
    if (t->late_chunking == 0) return LLMBED_OK;
    const char *conflict = t->document != NULL                   ? "document (suffix mode)"
                           : spec->prompt != NULL                ? "prompt"
                           : spec->templated                     ? "template/method"
                           : spec->engine.mask_prefix_tokens > 0 ? "mask_prefix_tokens"
                                                                 : NULL;
    if (conflict != NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "late_chunking: cannot be combined with %s (spans are token positions of the input as given)",
                           conflict);
    if (spec->engine.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "late_chunking: pooling none has no spans to pool");
    return LLMBED_OK;
}

llmbed_status llmbed_spec_resolve(const llmbed_model *model, const llmbed_embed_params *embed,
                                  const llmbed_text_params *text, int64_t batch_tokens, llmbed_job_spec *spec,
                                  llmbed_error *error) {
    memset(spec, 0, sizeof *spec);
    spec->model = model;
    spec->continuation_eos = -1;
    spec->add_special = 1;
    spec->batch_tokens = batch_tokens;
    llmbed_embed_params embed_defaults;
    llmbed_text_params text_defaults;
    if (embed == NULL) {
        llmbed_embed_params_default(&embed_defaults);
        embed = &embed_defaults;
    }
    if (text == NULL) {
        llmbed_text_params_default(&text_defaults);
        text = &text_defaults;
    }
    LLMBED_TRY(check_text_params(text, error));
    const llmbed_method *method = NULL;
    if (text->method != NULL && (method = llmbed_method_find(text->method)) == NULL) {
        char names[128] = "";
        for (int i = 0; llmbed_method_at(i) != NULL; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     llmbed_method_at(i)->name);
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "method '%s': unknown method (known: %s)", text->method,
                           names);
    }
    llmbed_embed_params params = *embed;
    if (method != NULL && params.pooling == LLMBED_POOLING_DEFAULT) params.pooling = method->pooling;
    if (method != NULL && method->needs_attention_temperature && params.attention_temperature == 1.0f)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "method %s: needs an attention temperature other than 1 (attention_temperature)",
                           method->name);
    LLMBED_TRY(llmbed_embed_options_resolve(model, &params, &spec->engine, error));
    spec->dims = spec->engine.out_dims;
    spec->precision = text->precision;
    spec->truncate = text->truncate;
    spec->max_tokens = text->max_tokens == 0 ? model->config.max_positions : text->max_tokens < 0 ? 0 : text->max_tokens;
    spec->late_chunking = text->late_chunking;
    llmbed_status st = resolve_prompt(spec, text, error);
    if (st == LLMBED_OK) st = resolve_template(spec, text, method, error);
    if (st == LLMBED_OK) st = check_late_chunking(spec, text, error);
    if (st == LLMBED_OK) st = resolve_document(spec, text, error);
    if (st != LLMBED_OK) llmbed_spec_free(spec);
    return st;
}

void llmbed_spec_free(llmbed_job_spec *spec) {
    free(spec->prompt);
    free(spec->template_text);
    free(spec->template_body);
    free(spec->document);
    spec->prompt = spec->template_text = spec->template_body = NULL;
    spec->document = NULL;
}

/* "type:factor:original" of the RoPE scaling the model runs with. */
static void rope_identity(const llmbed_config *c, char *buf, size_t cap) {
    static const char *const names[] = {"none", "linear", "dynamic", "yarn", "llama3"};
    const llmbed_rope_scaling *rs = &c->rope_scaling;
    if (rs->type == LLMBED_ROPE_NONE) {
        snprintf(buf, cap, "none");
        return;
    }
    snprintf(buf, cap, "%s:%.9g:%d", (unsigned)rs->type < 5 ? names[rs->type] : "?", rs->factor,
             rs->original_max_positions);
}

llmbed_status llmbed_spec_identity(const llmbed_job_spec *spec, cJSON *job, llmbed_error *error) {
    const llmbed_model *model = spec->model;
    const llmbed_embed_options *o = &spec->engine;
    char *real = model->path != NULL ? realpath(model->path, NULL) : NULL;
    char rope[96];
    rope_identity(&model->config, rope, sizeof rope);
    int ok = cJSON_AddStringToObject(job, "model", real != NULL ? real : model->path != NULL ? model->path : "") != NULL;
    free(real);
    ok = ok && cJSON_AddNumberToObject(job, "model_parameters", (double)model->n_parameters) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "family", model->family.name != NULL ? model->family.name : "generic");
    ok = ok && cJSON_AddStringToObject(job, "rope_scaling", rope) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "adapters", model->adapter_paths != NULL ? model->adapter_paths : "");
    /* native and f32 give the same rows bit for bit (tests/cpu/test_weights.cpp): only bf16 changes them */
    if (model->weights_mode == LLMBED_WEIGHTS_BF16)
        ok = ok && cJSON_AddStringToObject(job, "weights", llmbed_weights_name(model->weights_mode)) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "pooling", llmbed_pooling_name(o->pooling)) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "attention", o->causal ? "causal" : "bidirectional") != NULL;
    ok = ok && cJSON_AddBoolToObject(job, "normalize", o->normalize) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "dims", spec->dims) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "layer", o->n_layers) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "dtype", llmbed_precision_name(spec->precision)) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "attention_temperature", o->attention_temperature) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "mask_prefix_tokens", o->mask_prefix_tokens) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "chunk_tokens", o->chunk_tokens) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "think_ratio", o->think_ratio) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "prompt", spec->prompt != NULL ? spec->prompt : "") != NULL;
    ok = ok && cJSON_AddBoolToObject(job, "exclude_prompt", spec->exclude_prompt) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "max_tokens", (double)spec->max_tokens) != NULL;
    ok = ok && cJSON_AddBoolToObject(job, "truncate", spec->truncate) != NULL;
    ok = ok && cJSON_AddStringToObject(job, "template", spec->templated ? spec->template_body : "") != NULL;
    ok = ok && cJSON_AddStringToObject(job, "pool_span", llmbed_pool_span_name(spec->pool_span)) != NULL;
    ok = ok && cJSON_AddNumberToObject(job, "late_chunking", spec->late_chunking) != NULL;
    if (ok && spec->document != NULL) {
        char document[64];
        snprintf(document, sizeof document, "%zu bytes, crc32 %" PRIu32, spec->document_bytes, spec->document_crc32);
        ok = cJSON_AddStringToObject(job, "document", document) != NULL;
    } else if (ok) {
        ok = cJSON_AddStringToObject(job, "document", "") != NULL;
    }
    return ok ? LLMBED_OK : llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "job identity: out of memory");
}
