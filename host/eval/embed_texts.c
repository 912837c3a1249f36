#include "eval/embed_texts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "scheduler/batch_plan.h"

typedef struct tokenized {
    int32_t *ids;       /* all sequences back to back */
    int64_t *starts;    /* [n + 1] */
    int32_t *begin;     /* [n] pooled span */
    int32_t *end;       /* [n] */
} tokenized;

static void tokenized_free(tokenized *t) {
    free(t->ids);
    free(t->starts);
    free(t->begin);
    free(t->end);
}

static llmbed_status fail_at(llmbed_error *error, llmbed_status st, size_t index, const char *text,
                             const char *message) {
    char copy[LLMBED_ERROR_MESSAGE_CAPACITY];
    snprintf(copy, sizeof copy, "%s", message);
    return llmbed_fail(error, st, "text %zu (\"%.40s%s\"): %s", index, text, strlen(text) > 40 ? "..." : "", copy);
}

static llmbed_status tokenize_all(const llmbed_model *model, const char *const *texts, size_t n,
                                  const llmbed_template_params *tp, tokenized *t, llmbed_error *error) {
    size_t cap = 4096, used = 0;
    t->ids = malloc(cap * sizeof *t->ids);
    t->starts = malloc((n + 1) * sizeof *t->starts);
    t->begin = malloc((n ? n : 1) * sizeof *t->begin);
    t->end = malloc((n ? n : 1) * sizeof *t->end);
    if (!t->ids || !t->starts || !t->begin || !t->end)
        return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory tokenising %zu texts", n);
    t->starts[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(texts[i]);
        size_t n_ids = 0;
        llmbed_error e = {0};
        llmbed_status st;
        for (;;) {
            st = llmbed_tokenize_template(model, texts[i], len, tp, t->ids + used, cap - used, &n_ids, &t->begin[i],
                                          &t->end[i], NULL, &e);
            if (st != LLMBED_ERR_BUFFER_TOO_SMALL) break;
            while (cap - used < n_ids) cap *= 2;
            int32_t *bigger = realloc(t->ids, cap * sizeof *bigger);
            if (bigger == NULL) return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory tokenising");
            t->ids = bigger;
        }
        if (st != LLMBED_OK) return fail_at(error, st, i, texts[i], e.message);
        if (n_ids == 0) return fail_at(error, LLMBED_ERR_EMPTY_SEQUENCE, i, texts[i], "no tokens to embed");
        used += n_ids;
        t->starts[i + 1] = (int64_t)used;
    }
    return LLMBED_OK;
}

llmbed_status llmbed_eval_embed_texts(const llmbed_model *model, llmbed_ctx *ctx, const char *const *texts, size_t n,
                                 const llmbed_text_batch_options *o, float *out, llmbed_error *error) {
    if (n == 0) return LLMBED_OK;
    if (n > (size_t)INT32_MAX / 2 || o->dims <= 0 || o->batch_tokens <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embed_texts: %zu texts, dims %d, budget %lld", n,
                           o->dims, (long long)o->batch_tokens);
    tokenized t = {0};
    int64_t *lengths = malloc(n * sizeof *lengths);
    int *order = malloc(n * sizeof *order), *starts = malloc((n + 1) * sizeof *starts);
    int32_t *tokens = NULL, *begin = malloc(n * sizeof *begin), *end = malloc(n * sizeof *end);
    int64_t *offsets = malloc((n + 1) * sizeof *offsets);
    float *rows = malloc(n * (size_t)o->dims * sizeof *rows);
    llmbed_status st = LLMBED_OK;
    if (!lengths || !order || !starts || !begin || !end || !offsets || !rows) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for %zu texts", n);
        goto done;
    }
    st = tokenize_all(model, texts, n, o->template_params, &t, error);
    if (st != LLMBED_OK) goto done;
    tokens = malloc((size_t)t.starts[n] * sizeof *tokens);
    if (tokens == NULL) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for %lld tokens", (long long)t.starts[n]);
        goto done;
    }
    for (size_t i = 0; i < n; i++) lengths[i] = t.starts[i + 1] - t.starts[i];
    const int n_batches = llmbed_batch_plan(lengths, (int)n, o->batch_tokens, order, starts);
    if (n_batches < 0) {
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory planning batches");
        goto done;
    }
    size_t done_texts = 0;
    int64_t done_tokens = 0;
    for (int k = 0; k < n_batches && st == LLMBED_OK; k++) {
        const int first = starts[k], last = starts[k + 1];
        int any_begin = 0, any_end = 0;
        offsets[0] = 0;
        for (int j = first; j < last; j++) {
            const int i = order[j];
            const int64_t len = lengths[i];
            memcpy(tokens + offsets[j - first], t.ids + t.starts[i], (size_t)len * sizeof *tokens);
            offsets[j - first + 1] = offsets[j - first] + len;
            begin[j - first] = t.begin[i];
            end[j - first] = t.end[i];
            any_begin |= t.begin[i] > 0;
            any_end |= t.end[i] < len;
        }
        const llmbed_batch batch = {.tokens = tokens,
                                    .offsets = offsets,
                                    .n_sequences = last - first,
                                    .instruction_lens = any_begin ? begin : NULL,
                                    .pool_ends = any_end ? end : NULL};
        st = llmbed_embed(ctx, &batch, o->embed_params, rows, (size_t)(last - first) * (size_t)o->dims);
        if (st != LLMBED_OK) {
            st = fail_at(error, st, (size_t)order[first], texts[order[first]], llmbed_last_error(ctx));
            break;
        }
        for (int j = first; j < last; j++)
            memcpy(out + (size_t)order[j] * (size_t)o->dims, rows + (size_t)(j - first) * (size_t)o->dims,
                   (size_t)o->dims * sizeof *out);
        done_texts += (size_t)(last - first);
        done_tokens += offsets[last - first];
        if (o->on_progress != NULL) o->on_progress(o->user, done_texts, n, done_tokens);
    }
done:
    tokenized_free(&t);
    free(lengths);
    free(order);
    free(starts);
    free(tokens);
    free(begin);
    free(end);
    free(offsets);
    free(rows);
    return st;
}
