/* `llmbed embed --late-chunking tokens:N|spans`: every input line is one
 * long forward, pooled over several spans, one output row per span, and a
 * row index file "<output stem>.rows.jsonl" saying which line and span each
 * row comes from. */
#ifndef LLMBED_CLI_LATE_CHUNKING_H
#define LLMBED_CLI_LATE_CHUNKING_H

#include <signal.h>
#include <stdint.h>

#include "io/output_format.h"
#include "llmbed.h"

typedef struct cli_late_chunking_job {
    const llmbed_model *model;
    llmbed_ctx *ctx;
    const llmbed_embed_params *params;
    int dims;
    const char *input, *output;
    llmbed_output_format format;
    llmbed_output_dtype dtype;
    const char *text_field, *id_field;
    int strict_utf8;
    int64_t max_tokens;  /* longest input; longer ones fail (a span list would be cut) */
    int span_tokens;     /* N of tokens:N; 0 = "spans": every record carries its own */
    const volatile sig_atomic_t *stop;
} cli_late_chunking_job;

typedef struct cli_late_chunking_stats {
    int64_t lines, rows, tokens;
} cli_late_chunking_stats;

/* "tokens:N" (N >= 1) -> *span_tokens = N; "spans" -> 0. -1 when `spec` is neither. */
int cli_parse_late_chunking(const char *spec, int *span_tokens);

/* "<path without its extension>.rows.jsonl" (malloc'ed; NULL when out of memory). */
char *cli_late_chunking_index_path(const char *output);

/* Runs the job, printing the error line on failure; nothing is left on disk then. */
llmbed_status cli_run_late_chunking(const cli_late_chunking_job *job, cli_late_chunking_stats *stats);

#endif
