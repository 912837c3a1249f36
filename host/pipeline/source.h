/* The pipeline's sources (pipeline/job.h llmbed_job_source): a line file,
 * in-memory texts or token ids, and Arrow record batches. Each fills a
 * llmbed_job_source that stays valid while its state lives. */
#ifndef LLMBED_PIPELINE_SOURCE_H
#define LLMBED_PIPELINE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "io/line_reader.h"
#include "pipeline/job.h"

/* A file of text / JSONL lines, or stdin for "-" (io/input_record.h rules).
 * The file is opened by the first seek or next (a resumed job seeks to the
 * manifest's position and checks the lines before it). */
typedef struct llmbed_lines_source {
    const char *path;
    llmbed_input_parse_options parse;
    size_t max_line_bytes;
    llmbed_line_reader *reader;
} llmbed_lines_source;

llmbed_status llmbed_lines_source_init(llmbed_lines_source *state, const char *path, const char *text_field,
                                       const char *id_field, int strict_utf8, int accept_spans, size_t max_line_bytes,
                                       llmbed_job_source *source, llmbed_error *error);
void llmbed_lines_source_close(llmbed_lines_source *state);

/* In-memory inputs: texts[i] of lengths[i] bytes, or ids[i] of lengths[i]
 * ids (texts NULL); spans (may be NULL) per input for late chunking. Items
 * are named "<name> <index>". The inputs must outlive the job. */
typedef struct llmbed_memory_source {
    const char *const *texts;
    const int32_t *const *ids;
    const size_t *lengths;
    int64_t n;
    const int32_t *const *spans;
    const int *n_spans;
    int64_t next;
} llmbed_memory_source;

void llmbed_memory_source_init(llmbed_memory_source *state, const char *name, const char *const *texts,
                               const int32_t *const *ids, const size_t *lengths, int64_t n,
                               const int32_t *const *spans, const int *n_spans, llmbed_job_source *source);

#endif
