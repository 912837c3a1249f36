/* llmbed_embed_texts (include/llmbed.h): in-memory texts through the same
 * steps as one window of the `llmbed embed` job (host/scheduler/window.c
 * and job.c): prompt prepended, tokenised with the special tokens, cut to
 * max_tokens keeping the specials (scheduler/truncate.h), ordered by length
 * and cut into token-budget batches (scheduler/batch_plan.h), embedded, and
 * each row stored in the requested precision (io/row_encode.h). Rows equal
 * the CLI's for the same lines of a window, bit for bit, since the batches
 * are the same. */
#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/ctx.h"
#include "api/prompts.h"
#include "common/error.h"
#include "io/row_encode.h"
#include "model/model.h"
#include "scheduler/batch_plan.h"
#include "scheduler/truncate.h"

llmbed_status llmbed_text_params_apply(const llmbed_model *model, const llmbed_text_params *params,
                                       int32_t *instruction_len, int64_t *max_tokens, llmbed_error *error) {
    if (params->struct_size != sizeof(llmbed_text_params))
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: struct_size %zu, expected %zu (call llmbed_text_params_default)",
                           params->struct_size, sizeof(llmbed_text_params));
    if (params->exclude_prompt < -1 || params->exclude_prompt > 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: exclude_prompt %d is not -1, 0 or 1",
                           params->exclude_prompt);
    if (params->truncate != 0 && params->truncate != 1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: truncate %d is not 0 or 1",
                           params->truncate);
    if (params->max_tokens < -1)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                           "text params: max_tokens %" PRId64 " (0 = the model's limit, -1 = none)", params->max_tokens);
    if (llmbed_precision_row_bytes(params->precision, 1) == 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "text params: precision %d is not an llmbed_precision",
                           (int)params->precision);
    *max_tokens = params->max_tokens == 0 ? model->config.max_positions : params->max_tokens < 0 ? 0 : params->max_tokens;
    *instruction_len = 0;
    if (params->prompt == NULL || params->prompt[0] == '\0') return LLMBED_OK;
    int exclude = params->exclude_prompt;
    if (exclude < 0) LLMBED_TRY(llmbed_model_excludes_prompt(model, &exclude, error));
    if (exclude) LLMBED_TRY(llmbed_prompt_length(model, params->prompt, instruction_len, error));
    return LLMBED_OK;
}

/* Default token budget of `llmbed embed` (and of the bindings): activations
 * of one forward pass (the residual stream, q/k/v/o, the gated MLP, all
 * fp32; about 4 * (6 * hidden + 3 * intermediate) bytes per token) should
 * take at most an eighth of the memory available now, between 1024 and
 * 16384 tokens (larger batches buy the CPU backend nothing; the CUDA backend
 * sizes its own scratch). */
int64_t llmbed_suggested_batch_tokens(const llmbed_model *model) {
    if (model == NULL) return 0;
    const llmbed_config *c = &model->config;
    double per_token = 4.0 * (6.0 * c->hidden_size + 3.0 * c->intermediate_size);
    double available = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    int64_t budget = 16384;
    while (budget > 1024 && (double)budget * per_token > available / 8) budget /= 2;
    return budget;
}

typedef struct prepared_text {
    int32_t *ids;
    size_t n_ids;
    int32_t instruction_len;
    int truncated;
    llmbed_status status;
    llmbed_error error;
} prepared_text;

/* One text as window.c's prepare_text + validate do it for a text line. */
static void prepare(const llmbed_model *model, const char *text, size_t len, const char *prompt,
                    int32_t instruction_len, int64_t max_tokens, int truncate, int index, prepared_text *p) {
    llmbed_error *error = &p->error;
    char *joined = NULL;
    if (prompt != NULL && prompt[0] != '\0') {
        /* sentence-transformers prepends the prompt string to the text before tokenising. */
        size_t n_prompt = strlen(prompt);
        joined = malloc(n_prompt + len + 1);
        if (joined == NULL) {
            p->status = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "text %d: out of memory", index);
            return;
        }
        memcpy(joined, prompt, n_prompt);
        if (len > 0) memcpy(joined + n_prompt, text, len);
        joined[n_prompt + len] = '\0';
        text = joined;
        len += n_prompt;
        p->instruction_len = instruction_len;
    }
    llmbed_status st = llmbed_tokenize_all(model, text, len, 1, &p->ids, &p->n_ids, error);
    if (st == LLMBED_OK && max_tokens > 0 && p->n_ids > (size_t)max_tokens && truncate) {
        int32_t *content = NULL;
        size_t n_content = 0;
        st = llmbed_tokenize_all(model, text, len, 0, &content, &n_content, error);
        if (st == LLMBED_OK) {
            p->n_ids = llmbed_truncate_ids(p->ids, p->n_ids, content, n_content, (size_t)max_tokens, p->ids);
            p->truncated = 1;
        }
        free(content);
    }
    free(joined);
    if (st != LLMBED_OK) {
        char message[LLMBED_ERROR_MESSAGE_CAPACITY];
        snprintf(message, sizeof message, "%s", error->message);
        p->status = llmbed_fail(error, st, "text %d: %s", index, message);
        return;
    }
    if (p->n_ids == 0) {
        p->status = llmbed_fail(error, LLMBED_ERR_EMPTY_SEQUENCE, "text %d: empty sequence (no tokens to embed)", index);
        return;
    }
    if (max_tokens > 0 && p->n_ids > (size_t)max_tokens) {
        p->status = llmbed_fail(error, LLMBED_ERR_SEQUENCE_TOO_LONG,
                                "text %d: %zu tokens, more than max_tokens %" PRId64 " (truncate to cut it)", index,
                                p->n_ids, max_tokens);
        return;
    }
    /* A prompt cut by truncation must not mask the whole sequence out of the pool. */
    if ((size_t)p->instruction_len >= p->n_ids) p->instruction_len = (int32_t)p->n_ids - 1;
}

typedef struct text_buffers {
    prepared_text *texts;
    int64_t *lengths;
    int *order, *batch_starts;
    int32_t *tokens, *instruction_lens;
    int64_t *offsets;
    float *rows;
} text_buffers;

static void buffers_free(text_buffers *b, int n) {
    for (int i = 0; b->texts != NULL && i < n; i++) free(b->texts[i].ids);
    free(b->texts);
    free(b->lengths);
    free(b->order);
    free(b->batch_starts);
    free(b->tokens);
    free(b->instruction_lens);
    free(b->offsets);
    free(b->rows);
}

static llmbed_status check_args(llmbed_ctx *ctx, const char *const *texts, const size_t *lengths, int n_texts,
                                void *out, size_t row_bytes, size_t out_bytes, const float *scales,
                                llmbed_precision precision, llmbed_error *error) {
    if (n_texts < 0) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_texts: n_texts %d is negative", n_texts);
    if (n_texts == 0) return LLMBED_OK;
    if (texts == NULL || lengths == NULL || out == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_texts: texts, lengths and out are required");
    if (precision == LLMBED_PRECISION_INT8 && scales == NULL)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_texts: int8 needs scales[n_texts]");
    if ((size_t)n_texts > out_bytes / row_bytes)
        return llmbed_fail(error, LLMBED_ERR_BUFFER_TOO_SMALL, "embed_texts: %d rows x %zu bytes, buffer holds %zu",
                           n_texts, row_bytes, out_bytes);
    for (int i = 0; i < n_texts; i++) {
        if (texts[i] == NULL && lengths[i] > 0)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_texts: text %d is NULL", i);
    }
    (void)ctx;
    return LLMBED_OK;
}

llmbed_status llmbed_embed_texts(llmbed_ctx *ctx, const char *const *texts, const size_t *lengths, int n_texts,
                                 const llmbed_text_params *text_params, const llmbed_embed_params *params,
                                 void *out, size_t out_bytes, float *scales, llmbed_text_stats *stats) {
    if (ctx == NULL) return LLMBED_ERR_INVALID_ARGUMENT;
    llmbed_error *error = &ctx->last_error;
    llmbed_error_clear(error);
    if (stats != NULL) memset(stats, 0, sizeof *stats);
    const llmbed_model *model = ctx->engine.model;
    llmbed_text_params defaults;
    if (text_params == NULL) {
        llmbed_text_params_default(&defaults);
        text_params = &defaults;
    }
    int32_t instruction_len = 0;
    int64_t max_tokens = 0;
    LLMBED_TRY(llmbed_text_params_apply(model, text_params, &instruction_len, &max_tokens, error));
    llmbed_embed_params resolved;
    int dims = 0;
    LLMBED_TRY(llmbed_embed_params_resolve(model, params, &resolved, &dims, error));
    if (resolved.pooling == LLMBED_POOLING_NONE)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED, "embed_texts: pooling none (per-token states) is not offered here; "
                                                          "use llmbed_embed");
    const llmbed_precision precision = text_params->precision;
    const llmbed_output_dtype dtype = (llmbed_output_dtype)precision;
    const size_t row_bytes = llmbed_precision_row_bytes(precision, dims);
    LLMBED_TRY(check_args(ctx, texts, lengths, n_texts, out, row_bytes, out_bytes, scales, precision, error));
    if (n_texts == 0) return LLMBED_OK;

    text_buffers b = {0};
    const size_t n = (size_t)n_texts;
    b.texts = calloc(n, sizeof *b.texts);
    b.lengths = malloc(n * sizeof *b.lengths);
    b.order = malloc(n * sizeof *b.order);
    b.batch_starts = malloc((n + 1) * sizeof *b.batch_starts);
    b.offsets = malloc((n + 1) * sizeof *b.offsets);
    b.instruction_lens = malloc(n * sizeof *b.instruction_lens);
    llmbed_status st = LLMBED_OK;
    if (!b.texts || !b.lengths || !b.order || !b.batch_starts || !b.offsets || !b.instruction_lens) {
        buffers_free(&b, 0);
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_texts: out of memory for %d texts", n_texts);
    }
    /* Tokenisation is per text and llmbed_tokenize may run concurrently on one model. */
    const int n_threads = ctx->engine.n_threads;
#pragma omp parallel for schedule(dynamic, 16) num_threads(n_threads > 0 ? n_threads : omp_get_max_threads())
    for (int i = 0; i < n_texts; i++) {
        prepare(model, texts[i] != NULL ? texts[i] : "", lengths[i], text_params->prompt, instruction_len, max_tokens,
                text_params->truncate, i, &b.texts[i]);
    }
    for (int i = 0; i < n_texts && st == LLMBED_OK; i++) {
        if (b.texts[i].status != LLMBED_OK) {
            *error = b.texts[i].error;
            st = b.texts[i].status;
        }
        b.lengths[i] = (int64_t)b.texts[i].n_ids;
    }
    const int n_batches =
        st == LLMBED_OK ? llmbed_batch_plan(b.lengths, n_texts, ctx->engine.batch_tokens, b.order, b.batch_starts) : 0;
    if (n_batches < 0) st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_texts: out of memory planning batches");
    size_t tokens_capacity = 0, rows_capacity = 0;
    for (int k = 0; k < n_batches && st == LLMBED_OK; k++) {
        const int first = b.batch_starts[k], last = b.batch_starts[k + 1];
        size_t n_tokens = 0;
        for (int j = first; j < last; j++) n_tokens += b.texts[b.order[j]].n_ids;
        if (n_tokens > tokens_capacity) {
            int32_t *bigger = realloc(b.tokens, n_tokens * sizeof *b.tokens);
            if (bigger == NULL) {
                st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_texts: out of memory for %zu tokens", n_tokens);
                break;
            }
            b.tokens = bigger;
            tokens_capacity = n_tokens;
        }
        const size_t n_rows = (size_t)(last - first);
        if (n_rows * (size_t)dims > rows_capacity) {
            float *bigger = realloc(b.rows, n_rows * (size_t)dims * sizeof *b.rows);
            if (bigger == NULL) {
                st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "embed_texts: out of memory for %zu rows", n_rows);
                break;
            }
            b.rows = bigger;
            rows_capacity = n_rows * (size_t)dims;
        }
        int any_instruction = 0;
        b.offsets[0] = 0;
        for (int j = first; j < last; j++) {
            const prepared_text *t = &b.texts[b.order[j]];
            memcpy(b.tokens + b.offsets[j - first], t->ids, t->n_ids * sizeof *b.tokens);
            b.offsets[j - first + 1] = b.offsets[j - first] + (int64_t)t->n_ids;
            b.instruction_lens[j - first] = t->instruction_len;
            any_instruction |= t->instruction_len > 0;
        }
        const llmbed_batch batch = {.tokens = b.tokens,
                                    .offsets = b.offsets,
                                    .n_sequences = last - first,
                                    .instruction_lens = any_instruction ? b.instruction_lens : NULL};
        st = llmbed_engine_embed(&ctx->engine, &batch, &resolved, b.rows, rows_capacity, error);
        if (st != LLMBED_OK) {
            char message[LLMBED_ERROR_MESSAGE_CAPACITY];
            snprintf(message, sizeof message, "%s", error->message);
            st = llmbed_fail(error, st, "batch of texts %d...: %s", b.order[first], message);
            break;
        }
        unsigned char *bytes = out;
        for (int j = first; j < last; j++) {
            const int i = b.order[j];
            float scale;
            llmbed_row_encode(dtype, b.rows + (size_t)(j - first) * (size_t)dims, dims, bytes + (size_t)i * row_bytes,
                              &scale);
            if (scales != NULL) scales[i] = scale;
            if (stats != NULL) stats->truncated += b.texts[i].truncated;
        }
        if (stats != NULL) {
            stats->tokens += (int64_t)n_tokens;
            stats->batches++;
        }
    }
    buffers_free(&b, n_texts);
    return st;
}
