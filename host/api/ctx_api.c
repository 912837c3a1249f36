/* Public context and embedding API (include/llmbed.h): argument checks and
 * the context's last-error buffer around the engine (host/engine/), with
 * the options resolved and the sequences checked by the pipeline's code
 * (host/pipeline/) before the engine sees them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/ctx.h"
#include "common/error.h"
#include "engine/engine.h"
#include "model/model.h"
#include "pipeline/batch_check.h"
#include "pipeline/batch_plan.h"
#include "pipeline/spec.h"

/* The one default token budget (llmbed.h: batch_tokens 0, and `llmbed
 * embed` without --batch-tokens): activations of one forward pass (the
 * residual stream, q/k/v/o, the gated MLP, all fp32; about 4 * (6 * hidden
 * + 3 * intermediate) bytes per token) should take at most an eighth of the
 * memory available now, between 1024 and 16384 tokens (larger batches buy
 * the CPU backend nothing; the CUDA backend sizes its own scratch). */
int64_t llmbed_suggested_batch_tokens(const llmbed_model *model) {
    if (model == NULL) return 0;
    const llmbed_config *c = &model->config;
    double per_token = 4.0 * (6.0 * c->hidden_size + 3.0 * c->intermediate_size);
    double available = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    int64_t budget = 16384;
    while (budget > 1024 && (double)budget * per_token > available / 8) budget /= 2;
    return budget;
}

static llmbed_status create_engines(llmbed_ctx *ctx, const llmbed_model *model, const llmbed_ctx_params *params,
                                   int64_t budget, llmbed_error *error);

void llmbed_ctx_params_default(llmbed_ctx_params *params) {
    if (params == NULL) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->device = LLMBED_DEVICE_AUTO;
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
    if (params->device != LLMBED_DEVICE_CPU && params->device != LLMBED_DEVICE_CUDA &&
        params->device != LLMBED_DEVICE_AUTO)
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
    const int64_t budget = params->batch_tokens > 0 ? params->batch_tokens : llmbed_suggested_batch_tokens(model);
    llmbed_status st = create_engines(ctx, model, params, budget, error);
    if (st != LLMBED_OK) {
        free(ctx);
        return st;
    }
    *out_ctx = ctx;
    return LLMBED_OK;
}

/* The data parallel fields of the params (llmbed.h): a GPU list only for
 * CUDA/AUTO, distinct ordinals, replicas within the threads there are. */
static llmbed_status check_data_parallel(const llmbed_ctx_params *params, int *threads, llmbed_error *error) {
    if (params->n_devices < LLMBED_ALL_DEVICES || params->n_devices > LLMBED_MAX_DEVICES)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: n_devices %d outside [%d, %d]",
                           params->n_devices, LLMBED_ALL_DEVICES, LLMBED_MAX_DEVICES);
    if (params->n_devices != 0 && params->device == LLMBED_DEVICE_CPU)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "ctx params: a GPU list (n_devices %d) on device cpu; CPU data parallel is replicas "
                           "(--replicas N)",
                           params->n_devices);
    for (int i = 0; i < params->n_devices; i++) {
        if (params->devices[i] < 0)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: devices[%d] = %d is negative", i,
                               params->devices[i]);
        for (int j = 0; j < i; j++)
            if (params->devices[j] == params->devices[i])
                return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "ctx params: device cuda:%d is listed twice",
                                   params->devices[i]);
    }
    if (params->replicas < 0 || params->replicas > LLMBED_MAX_DEVICES)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "replicas %d: expected 1..%d (--replicas)",
                           params->replicas, LLMBED_MAX_DEVICES);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *threads = params->n_threads > 0 ? params->n_threads : cores > 0 ? (int)cores : 1;
    if (params->replicas > *threads)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "replicas %d: more than the %d CPU threads (--threads); each replica needs threads of its "
                           "own",
                           params->replicas, *threads);
    return LLMBED_OK;
}

/* CPU replicas asked for on a context that runs on a GPU. */
static llmbed_status replicas_on_gpu(const llmbed_ctx_params *params, int ordinal, llmbed_error *error) {
    return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                       "replicas %d: CPU replicas, but the context runs on cuda:%d; several GPUs are a device list "
                       "(--device cuda:0,1 or cuda:all), or use --device cpu",
                       params->replicas, ordinal);
}

static void release_engines(llmbed_ctx *ctx) {
    for (int i = 0; i < ctx->n_engines; i++) llmbed_engine_release(&ctx->engines[i]);
    ctx->n_engines = 0;
}

/* One engine per listed GPU (every GPU for LLMBED_ALL_DEVICES), each with
 * its own upload of the weights; the first failure (naming its ordinal)
 * releases the others. */
static llmbed_status create_gpu_engines(llmbed_ctx *ctx, const llmbed_model *model, const llmbed_ctx_params *params,
                                        int64_t budget, llmbed_error *error) {
    int ordinals[LLMBED_MAX_DEVICES], n = 1;
    ordinals[0] = params->device_index;
    if (params->n_devices == LLMBED_ALL_DEVICES) {
        int count = 0;
        LLMBED_TRY(llmbed_cuda_device_count(&count, error));
        n = count < LLMBED_MAX_DEVICES ? count : LLMBED_MAX_DEVICES;
        for (int i = 0; i < n; i++) ordinals[i] = i;
    } else if (params->n_devices > 0) {
        n = params->n_devices;
        memcpy(ordinals, params->devices, sizeof ordinals[0] * (size_t)n);
    }
    /* AUTO with replicas falls back to the CPU where no GPU is usable, so it is refused only once one is. */
    if (params->replicas > 1 && params->device == LLMBED_DEVICE_CUDA) return replicas_on_gpu(params, ordinals[0], error);
    for (int i = 0; i < n; i++) {
        ctx->n_engines = i + 1;
        llmbed_status st = llmbed_engine_init(&ctx->engines[i], model, LLMBED_DEVICE_CUDA, ordinals[i],
                                              params->n_threads, budget, params->memory_limit_bytes, error);
        if (st != LLMBED_OK) {
            release_engines(ctx);
            return st;
        }
    }
    if (params->replicas > 1) {
        release_engines(ctx);
        return replicas_on_gpu(params, ordinals[0], error);
    }
    ctx->device = LLMBED_DEVICE_CUDA;
    ctx->device_index = ordinals[0];
    return LLMBED_OK;
}

/* `replicas` CPU engines over disjoint shares of the threads (the
 * remainder to the first ones); one replica keeps n_threads as given. */
static llmbed_status create_cpu_engines(llmbed_ctx *ctx, const llmbed_model *model, const llmbed_ctx_params *params,
                                        int threads, int64_t budget, llmbed_error *error) {
    const int replicas = params->replicas > 1 ? params->replicas : 1;
    for (int r = 0; r < replicas; r++) {
        const int share = replicas == 1 ? params->n_threads : threads / replicas + (r < threads % replicas);
        ctx->n_engines = r + 1;
        llmbed_status st = llmbed_engine_init(&ctx->engines[r], model, LLMBED_DEVICE_CPU, 0, share, budget,
                                              params->memory_limit_bytes, error);
        if (st != LLMBED_OK) {
            release_engines(ctx);
            return st;
        }
    }
    ctx->device = LLMBED_DEVICE_CPU;
    ctx->device_index = 0;
    return LLMBED_OK;
}

/* The engines on the device asked for; AUTO tries the GPU(s) and falls back
 * to the CPU when none is usable (no driver, no GPU, no CUDA build or
 * backend module, or a model the GPU kernels do not take), recording the
 * reason. */
static llmbed_status create_engines(llmbed_ctx *ctx, const llmbed_model *model, const llmbed_ctx_params *params,
                                   int64_t budget, llmbed_error *error) {
    int threads = 1;
    LLMBED_TRY(check_data_parallel(params, &threads, error));
    if (params->device == LLMBED_DEVICE_CPU) return create_cpu_engines(ctx, model, params, threads, budget, error);
    llmbed_error attempt;
    llmbed_error_clear(&attempt);
    llmbed_status st = create_gpu_engines(ctx, model, params, budget, &attempt);
    if (st == LLMBED_OK) return LLMBED_OK;
    if (params->device != LLMBED_DEVICE_AUTO || (st != LLMBED_ERR_NO_DEVICE && st != LLMBED_ERR_UNSUPPORTED)) {
        if (error != NULL) *error = attempt;
        return st;
    }
    snprintf(ctx->device_note, sizeof ctx->device_note, "device auto: no usable GPU, running on the CPU (%s)",
             attempt.message);
    return create_cpu_engines(ctx, model, params, threads, budget, error);
}

void llmbed_ctx_free(llmbed_ctx *ctx) {
    if (ctx == NULL) return;
    release_engines(ctx);
    free(ctx);
}

int llmbed_ctx_workers(const llmbed_ctx *ctx) { return ctx != NULL ? ctx->n_engines : 0; }

int llmbed_ctx_engines(llmbed_ctx *ctx, llmbed_engine **engines) {
    for (int i = 0; i < ctx->n_engines; i++) engines[i] = &ctx->engines[i];
    return ctx->n_engines;
}

llmbed_device llmbed_ctx_device(const llmbed_ctx *ctx, int *device_index) {
    if (device_index != NULL) *device_index = ctx != NULL ? ctx->device_index : 0;
    return ctx != NULL ? ctx->device : LLMBED_DEVICE_CPU;
}

const char *llmbed_ctx_device_note(const llmbed_ctx *ctx) { return ctx != NULL ? ctx->device_note : ""; }

int64_t llmbed_ctx_batch_tokens(const llmbed_ctx *ctx) { return ctx != NULL ? ctx->engines[0].batch_tokens : 0; }

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
    if (llmbed_embed_options_resolve(model, llmbed_embed_params_or_default(params, &defaults), &options, NULL) !=
        LLMBED_OK)
        return 0;
    return options.out_dims;
}

/* A caller's batch: checked, then cut in its own order under the budget
 * (a public batch keeps the order it was given), each run on the engine. */
static llmbed_status embed_batch(llmbed_engine *engine, const llmbed_batch *batch, const llmbed_embed_options *opt,
                                 float *out, size_t out_capacity, llmbed_error *error) {
    int64_t total = 0, longest = 0;
    LLMBED_TRY(llmbed_batch_check(engine->model, batch, &total, &longest, error));
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
    LLMBED_TRY(llmbed_batch_check_pool(batch, opt->mask_prefix_tokens, error));
    const int token_rows = opt->pooling == LLMBED_POOLING_NONE;
    const size_t rows = token_rows ? (size_t)total : (size_t)batch->n_sequences;
    if (rows > SIZE_MAX / (size_t)opt->out_dims || rows * (size_t)opt->out_dims > out_capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "out_capacity: %zu floats given, %zu x %d = %zu needed",
                           out_capacity, rows, opt->out_dims, rows * (size_t)opt->out_dims);
    LLMBED_TRY(llmbed_engine_check_options(engine, opt, error));
    const int n = batch->n_sequences;
    int64_t *lengths = malloc(sizeof *lengths * (size_t)n);
    int *order = malloc(sizeof *order * (size_t)n), *starts = malloc(sizeof *starts * ((size_t)n + 1));
    llmbed_status st = LLMBED_OK;
    if (lengths == NULL || order == NULL || starts == NULL)
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed: out of memory for %d sequences", n);
    for (int s = 0; st == LLMBED_OK && s < n; s++) lengths[s] = batch->offsets[s + 1] - batch->offsets[s];
    const int n_runs = st == LLMBED_OK ? llmbed_batch_plan_in_order(lengths, n, engine->batch_tokens,
                                                                      llmbed_engine_alone_above(engine, opt), order,
                                                                      starts)
                                       : 0;
    for (int k = 0; st == LLMBED_OK && k < n_runs; k++) {
        const int first = starts[k], count = starts[k + 1] - first;
        /* a run is a batch of its own: offsets from 0, the same per-sequence fields */
        int64_t *offsets = malloc(sizeof *offsets * ((size_t)count + 1));
        if (offsets == NULL) {
            st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed: out of memory");
            break;
        }
        const int64_t base = batch->offsets[first];
        for (int s = 0; s <= count; s++) offsets[s] = batch->offsets[first + s] - base;
        const llmbed_batch run = {
            .tokens = batch->tokens + base,
            .offsets = offsets,
            .n_sequences = count,
            .instruction_lens = batch->instruction_lens != NULL ? batch->instruction_lens + first : NULL,
            .pool_ends = batch->pool_ends != NULL ? batch->pool_ends + first : NULL,
        };
        st = llmbed_engine_run(engine, &run, opt, out + (token_rows ? (size_t)base : (size_t)first) * (size_t)opt->out_dims,
                               error);
        free(offsets);
    }
    free(lengths);
    free(order);
    free(starts);
    return st;
}

llmbed_status llmbed_embed(llmbed_ctx *ctx, const llmbed_batch *batch,
                           const llmbed_embed_params *params, float *out, size_t out_capacity) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error_clear(&ctx->last_error);
    llmbed_embed_params defaults;
    llmbed_embed_options opt;
    LLMBED_TRY(llmbed_embed_options_resolve(ctx->engines[0].model, llmbed_embed_params_or_default(params, &defaults), &opt,
                                            &ctx->last_error));
    return embed_batch(&ctx->engines[0], batch, &opt, out, out_capacity, &ctx->last_error);
}

llmbed_status llmbed_embed_spans(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens, const int32_t *spans,
                                 int n_spans, const llmbed_embed_params *params, float *out, size_t out_capacity) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error *error = &ctx->last_error;
    llmbed_error_clear(error);
    llmbed_embed_params defaults;
    llmbed_embed_options opt;
    LLMBED_TRY(llmbed_embed_options_resolve(ctx->engines[0].model, llmbed_embed_params_or_default(params, &defaults), &opt,
                                            error));
    if (opt.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "spans: pooling none has no spans to pool");
    if (opt.continue_document || opt.mask_prefix_tokens > 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "spans: %s does not apply (the spans say what is pooled)",
                           opt.continue_document ? "continue_document" : "mask_prefix_tokens");
    const int64_t offsets[2] = {0, (int64_t)n_tokens};
    const llmbed_batch batch = {.tokens = tokens, .offsets = offsets, .n_sequences = 1};
    int64_t total = 0, longest = 0;
    LLMBED_TRY(llmbed_batch_check(ctx->engines[0].model, &batch, &total, &longest, error));
    LLMBED_TRY(llmbed_spans_check(spans, n_spans, n_tokens, error));
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "out: NULL output buffer");
    if ((size_t)n_spans * (size_t)opt.out_dims > out_capacity)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "out_capacity: %zu floats given, %d x %d needed",
                           out_capacity, n_spans, opt.out_dims);
    return llmbed_engine_embed_spans(&ctx->engines[0], tokens, n_tokens, spans, n_spans, &opt, out, error);
}

int64_t llmbed_kv_cache_bytes(const llmbed_ctx *ctx, int64_t n_tokens, int chunk_tokens, float think_ratio) {
    if (ctx == NULL || n_tokens < 1 || n_tokens > INT32_MAX / 2 || chunk_tokens < 1 ||
        !(think_ratio >= 0.0f && think_ratio < 1.0f))
        return -1;
    const size_t bytes = llmbed_decoder_cache_bytes(&ctx->engines[0].decoder, (int)n_tokens, chunk_tokens, think_ratio);
    return bytes > (size_t)INT64_MAX ? -1 : (int64_t)bytes;
}

llmbed_status llmbed_cache_document(llmbed_ctx *ctx, const int32_t *tokens, size_t n_tokens,
                                    const llmbed_embed_params *params) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error *error = &ctx->last_error;
    llmbed_error_clear(error);
    llmbed_embed_params defaults;
    llmbed_embed_options opt;
    LLMBED_TRY(llmbed_embed_options_resolve(ctx->engines[0].model, llmbed_embed_params_or_default(params, &defaults), &opt,
                                            error));
    if (tokens == NULL || n_tokens == 0)
        return llmbed_fail(error, LLMBED_ERR_EMPTY_SEQUENCE, "cache_document: the document has no tokens");
    if (n_tokens > INT32_MAX / 2)
        return llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG, "cache_document: %zu tokens, limit %d", n_tokens,
                           INT32_MAX / 2);
    const int vocab = ctx->engines[0].model->config.vocab_size;
    for (size_t t = 0; t < n_tokens; t++)
        if (tokens[t] < 0 || tokens[t] >= vocab)
            return llmbed_fail(error, LLMBED_ERR_TOKEN_OUT_OF_RANGE,
                               "cache_document: position %zu: token id %d outside the vocabulary [0, %d)", t,
                               tokens[t], vocab);
    return llmbed_engine_cache_document(&ctx->engines[0], tokens, n_tokens, &opt, error);
}
