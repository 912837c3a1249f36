#include "pipeline/sink_memory.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "io/row_encode.h"

static int grow(void **p, size_t n, size_t size) {
    void *bigger = realloc(*p, n * size);
    if (bigger == NULL) return -1;
    *p = bigger;
    return 0;
}

static llmbed_status buffer_rows(void *user, const llmbed_job_item *item, const float *rows, int n_rows,
                                 llmbed_error *error) {
    llmbed_memory_sink *s = user;
    const int64_t input = item->line_no - 1;
    const llmbed_output_dtype dtype = (llmbed_output_dtype)s->precision;
    if (s->callback == NULL) {
        float scale;
        llmbed_row_encode(dtype, rows, s->dims, s->out + (size_t)input * s->row_bytes, &scale);
        if (s->scales != NULL) s->scales[input] = scale;
        return LLMBED_OK;
    }
    if (s->n_rows + n_rows > s->capacity) {
        const int capacity = 2 * (s->n_rows + n_rows);
        if (grow((void **)&s->rows, (size_t)capacity, s->row_bytes) ||
            grow((void **)&s->inputs, (size_t)capacity, sizeof *s->inputs) ||
            grow((void **)&s->spans, 2 * (size_t)capacity, sizeof *s->spans) ||
            grow((void **)&s->row_scales, (size_t)capacity, sizeof *s->row_scales))
            return llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "out of memory for %d rows", capacity);
        s->capacity = capacity;
    }
    for (int r = 0; r < n_rows; r++) {
        const int at = s->n_rows + r;
        llmbed_row_encode(dtype, rows + (size_t)r * (size_t)s->dims, s->dims, s->rows + (size_t)at * s->row_bytes,
                          &s->row_scales[at]);
        s->inputs[at] = input;
        s->spans[2 * at] = item->n_spans > 0 ? item->spans[2 * r] : 0;
        s->spans[2 * at + 1] = item->n_spans > 0 ? item->spans[2 * r + 1] : (int32_t)item->n_ids;
    }
    s->any_spans |= item->n_spans > 0;
    s->n_rows += n_rows;
    return LLMBED_OK;
}

static void buffer_skip(void *user, const llmbed_job_item *item) {
    (void)user;
    (void)item;
}

static llmbed_status buffer_flush(void *user, llmbed_error *error) {
    llmbed_memory_sink *s = user;
    if (s->callback == NULL || s->n_rows == 0) return LLMBED_OK;
    const llmbed_row_batch batch = {s->n_rows, s->inputs, s->any_spans ? s->spans : NULL, s->rows, s->row_scales,
                                    s->dims};
    const llmbed_status st = s->callback(s->user, &batch);
    s->n_rows = 0;
    s->any_spans = 0;
    return st == LLMBED_OK ? LLMBED_OK : llmbed_fail(error, st, "the row callback returned %s", llmbed_status_str(st));
}

void llmbed_memory_sink_init(llmbed_memory_sink *state, llmbed_precision precision, int dims, void *out,
                             float *scales, llmbed_row_callback callback, void *user, llmbed_job_sink *sink) {
    memset(state, 0, sizeof *state);
    state->precision = precision;
    state->dims = dims;
    state->row_bytes = llmbed_precision_row_bytes(precision, dims);
    state->out = out;
    state->scales = scales;
    state->callback = callback;
    state->user = user;
    *sink = (llmbed_job_sink){state, buffer_rows, buffer_skip, buffer_flush};
}

void llmbed_memory_sink_free(llmbed_memory_sink *state) {
    free(state->rows);
    free(state->inputs);
    free(state->spans);
    free(state->row_scales);
}
