/* Public context and embedding API (include/llmbed.h): argument checks and
 * the context's last-error buffer around the engine (host/engine/). */
#include <stdlib.h>
#include <string.h>

#include "api/ctx.h"
#include "common/error.h"
#include "engine/engine.h"
#include "model/model.h"

/* Default token budget per forward pass (llmbed.h: batch_tokens 0). */
#define LLMBED_DEFAULT_BATCH_TOKENS 8192

void llmbed_ctx_params_default(llmbed_ctx_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->device = LLMBED_DEVICE_CPU;
    params->device_index = 0;
    params->n_threads = 0;
    params->batch_tokens = 0;
    params->memory_limit_bytes = 0;
}

void llmbed_embed_params_default(llmbed_embed_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->pooling = LLMBED_POOLING_DEFAULT;
    params->attention = LLMBED_ATTENTION_DEFAULT;
    params->normalize = -1;
    params->dims = 0;
    params->layer = 0;
    params->chunk_tokens = 0;
    params->think_ratio = 0.0f;
    params->attention_temperature = 1.0f;
    params->continue_document = 0;
}

const llmbed_embed_params *llmbed_embed_params_or_default(const llmbed_embed_params *params,
                                                          llmbed_embed_params *storage) {
    if (params != NULL) return params;
    llmbed_embed_params_default(storage);
    return storage;
}

llmbed_status llmbed_ctx_create(const llmbed_model *model, const llmbed_ctx_params *params,
                                llmbed_ctx **out_ctx, llmbed_error *error) {
    llmbed_error_clear(error);
    if (out_ctx == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx_create: out_ctx is NULL");
    *out_ctx = NULL;
    if (model == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx_create: model is NULL");
    llmbed_ctx_params defaults;
    if (params == NULL) {
        llmbed_ctx_params_default(&defaults);
        params = &defaults;
    }
    if (params->struct_size != sizeof(llmbed_ctx_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "ctx params: struct_size %zu, expected %zu (call llmbed_ctx_params_default)",
                           params->struct_size, sizeof(llmbed_ctx_params));
    if (params->device != LLMBED_DEVICE_CPU && params->device != LLMBED_DEVICE_CUDA)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: device %d is not an llmbed_device",
                           (int)params->device);
    if (params->n_threads < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: n_threads %d is negative",
                           params->n_threads);
    if (params->batch_tokens < 0 || params->batch_tokens > INT32_MAX)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: batch_tokens %lld outside [0, %d]",
                           (long long)params->batch_tokens, INT32_MAX);
    if (params->memory_limit_bytes < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: memory_limit_bytes %lld is negative",
                           (long long)params->memory_limit_bytes);
    if (params->device_index < 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: device_index %d is negative",
                           params->device_index);
    llmbed_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "ctx_create: out of memory");
    const int64_t budget = params->batch_tokens > 0 ? params->batch_tokens : LLMBED_DEFAULT_BATCH_TOKENS;
    llmbed_status st = llmbed_engine_init(&ctx->engine, model, params->device, params->device_index,
                                          params->n_threads, budget, params->memory_limit_bytes, error);
    if (st != LLMBED_OK) {
        llmbed_engine_release(&ctx->engine);
        free(ctx);
        return st;
    }
    *out_ctx = ctx;
    return LLMBED_OK;
}

void llmbed_ctx_free(llmbed_ctx *ctx) {
    if (ctx == NULL) return;
    llmbed_engine_release(&ctx->engine);
    free(ctx);
}

const char *llmbed_last_error(const llmbed_ctx *ctx) {
    return ctx != NULL ? ctx->last_error.message : "";
}

int llmbed_embed_dims(const llmbed_model *model, const llmbed_embed_params *params) {
    if (model == NULL) return 0;
    const llmbed_pooling pooling = params == NULL || params->pooling == LLMBED_POOLING_DEFAULT ? model->default_pooling
                                                                                               : params->pooling;
    if (pooling == LLMBED_POOLING_LATENT) /* latent rows are pooled like mean rows */
        return params != NULL && params->dims > 0 && params->dims <= model->config.hidden_size ? params->dims
                                                                                               : model->config.hidden_size;
    llmbed_embed_params defaults;
    llmbed_embed_options options;
    if (llmbed_engine_resolve_options(model, llmbed_embed_params_or_default(params, &defaults), &options, NULL) !=
        LLMBED_OK)
        return 0;
    return options.out_dims;
}

llmbed_status llmbed_embed(llmbed_ctx *ctx, const llmbed_batch *batch,
                           const llmbed_embed_params *params, float *out, size_t out_capacity) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error_clear(&ctx->last_error);
    llmbed_embed_params defaults;
    return llmbed_engine_embed(&ctx->engine, batch, llmbed_embed_params_or_default(params, &defaults), out,
                               out_capacity, &ctx->last_error);
}

llmbed_status llmbed_embed_spans(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens, const int32_t *spans,
                                 int n_spans, const llmbed_embed_params *params, float *out, size_t out_capacity) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error_clear(&ctx->last_error);
    llmbed_embed_params defaults;
    return llmbed_engine_embed_spans(&ctx->engine, tokens, n_tokens, spans, n_spans,
                                     llmbed_embed_params_or_default(params, &defaults), out, out_capacity,
                                     &ctx->last_error);
}

int64_t llmbed_kv_cache_bytes(const llmbed_ctx *ctx, int64_t n_tokens, int chunk_tokens, float think_ratio) {
    if (ctx == NULL || n_tokens < 1 || n_tokens > INT32_MAX / 2 || chunk_tokens < 1 ||
        !(think_ratio >= 0.0f && think_ratio < 1.0f))
        return -1;
    const size_t bytes = llmbed_decoder_cache_bytes(&ctx->engine.decoder, (int)n_tokens, chunk_tokens, think_ratio);
    return bytes > (size_t)INT64_MAX ? -1 : (int64_t)bytes;
}

llmbed_status llmbed_cache_document(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens,
                                    const llmbed_embed_params *params) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error_clear(&ctx->last_error);
    llmbed_embed_params defaults;
    return llmbed_engine_cache_document(&ctx->engine, tokens, n_tokens, llmbed_embed_params_or_default(params, &defaults),
                                        &ctx->last_error);
}
