/* Validation of llmbed_embed's params and batch, before any work is done, so
 * a bad input fails with a message naming the field, sequence and position
 * rather than reading out of bounds. */
#include <math.h>

#include "common/error.h"
#include "engine/engine.h"
#include "model/model.h"

llmbed_status llmbed_engine_resolve_options(const llmbed_model *model,
                                            const llmbed_embed_params *params,
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
    if (params->dims < 0 || params->dims > cfg->hidden_size)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed params: dims %d outside [0, %d] (hidden size)",
                           params->dims, cfg->hidden_size);
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
    options->out_dims = pooling == LLMBED_POOLING_NONE || params->dims == 0 ? cfg->hidden_size : params->dims;
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

llmbed_status llmbed_engine_validate_batch(const llmbed_model *model, const llmbed_batch *batch,
                                           int64_t *total_tokens, int64_t *longest,
                                           llmbed_error *error) {
    if (batch == NULL || batch->offsets == NULL || batch->tokens == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch: batch, tokens and offsets are required");
    if (batch->n_sequences <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch.n_sequences: %d, need at least 1",
                           batch->n_sequences);
    if (batch->offsets[0] != 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "batch.offsets[0]: %lld, must be 0",
                           (long long)batch->offsets[0]);
    const int vocab = model->config.vocab_size;
    *longest = 0;
    for (int s = 0; s < batch->n_sequences; s++) {
        const int64_t begin = batch->offsets[s], end = batch->offsets[s + 1];
        if (end < begin)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.offsets[%d]: %lld is below offsets[%d] = %lld (offsets must not decrease)",
                               s + 1, (long long)end, s, (long long)begin);
        if (end == begin)
            return llmbed_fail(error, LLMBED_ERR_EMPTY_SEQUENCE, "batch: sequence %d is empty (offsets[%d] == offsets[%d] == %lld)",
                               s, s, s + 1, (long long)begin);
        if (end - begin > INT32_MAX / 2)
            return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "batch: sequence %d has %lld tokens, limit %d", s,
                               (long long)(end - begin), INT32_MAX / 2);
        for (int64_t t = begin; t < end; t++) {
            const int32_t id = batch->tokens[t];
            if (id < 0 || id >= vocab)
                return llmbed_fail(error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                                   "batch: sequence %d, position %lld: token id %d outside the vocabulary [0, %d)",
                                   s, (long long)(t - begin), id, vocab);
        }
        if (batch->instruction_lens != NULL &&
            (batch->instruction_lens[s] < 0 || batch->instruction_lens[s] > end - begin))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.instruction_lens[%d]: %d outside [0, %lld] (the sequence's length)", s,
                               batch->instruction_lens[s], (long long)(end - begin));
        const int32_t instruction_len = batch->instruction_lens != NULL ? batch->instruction_lens[s] : 0;
        if (batch->pool_ends != NULL &&
            (batch->pool_ends[s] < instruction_len || batch->pool_ends[s] > end - begin))
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "batch.pool_ends[%d]: %d outside [%d, %lld] (instruction length, sequence length)", s,
                               batch->pool_ends[s], instruction_len, (long long)(end - begin));
        if (end - begin > *longest) *longest = end - begin;
    }
    *total_tokens = batch->offsets[batch->n_sequences];
    return LLMBED_OK;
}
