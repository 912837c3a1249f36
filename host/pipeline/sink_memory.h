/* The caller's memory as a pipeline sink: rows encoded to the stored
 * precision into out[input index] (llmbed_embed_texts / llmbed_embed_ids),
 * or handed window by window to a row callback (late chunking, Python's
 * Arrow writer). */
#ifndef LLMBED_PIPELINE_SINK_MEMORY_H
#define LLMBED_PIPELINE_SINK_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "llmbed.h"
#include "pipeline/job.h"

typedef struct llmbed_memory_sink {
    llmbed_precision precision;
    int dims;
    size_t row_bytes;
    unsigned char *out; /* n_inputs rows, when callback is NULL */
    float *scales;      /* [n_inputs] (may be NULL) */
    llmbed_row_callback callback;
    void *user;
    /* the window's rows for the callback */
    unsigned char *rows;
    int64_t *inputs;
    int32_t *spans;
    float *row_scales;
    int n_rows, capacity;
    int any_spans;
} llmbed_memory_sink;

void llmbed_memory_sink_init(llmbed_memory_sink *state, llmbed_precision precision, int dims, void *out,
                             float *scales, llmbed_row_callback callback, void *user, llmbed_job_sink *sink);
void llmbed_memory_sink_free(llmbed_memory_sink *state);

#endif
