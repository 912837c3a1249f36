/* One read-ahead window of a job: up to window_lines records (about
 * window_bytes of text) from the source, each prepared on
 * tokenize_threads threads into a sequence of ids ready to embed (prompt,
 * template span, truncation, late-chunking spans) or a rejected record
 * with its message. */
#ifndef LLMBED_PIPELINE_WINDOW_H
#define LLMBED_PIPELINE_WINDOW_H

#include <stdint.h>

#include "pipeline/job.h"

/* Reads and prepares the next window. Per-record problems land in the
 * items; only a read failure sets window->status. */
void llmbed_window_fill(llmbed_window *window, const llmbed_job_source *source, const llmbed_job_engine *engine,
                        const llmbed_job_options *options);

/* Prepares items [0, window->n) already filled by the caller (a streaming
 * source) on the calling thread. */
void llmbed_window_prepare(llmbed_window *window, const llmbed_job_source *source, const llmbed_job_engine *engine,
                           const llmbed_job_options *options, int n_threads);

/* "file:line" or "text 12": how messages name an item. */
void llmbed_window_item_name(const llmbed_job_source *source, const llmbed_job_item *item, char *out, size_t cap);

void llmbed_window_clear(llmbed_window *window);

#endif
