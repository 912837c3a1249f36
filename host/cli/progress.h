/* Progress on stderr while a job runs: one line rewritten in place when
 * stderr is a terminal (at most 5 times a second), a plain line every
 * `interval` seconds otherwise, nothing with --quiet. */
#ifndef LLMBED_CLI_PROGRESS_H
#define LLMBED_CLI_PROGRESS_H

#include <stdint.h>

#include "llmbed.h"

typedef struct cli_progress {
    int quiet;
    int tty;
    double interval; /* seconds between plain lines */
    double last_print;
    int line_open;   /* a \r line is on the terminal */
    int64_t skipped_printed;
} cli_progress;

void cli_progress_init(cli_progress *progress, int quiet);
void cli_progress_update(void *progress, const llmbed_file_stats *stats);
/* Warns about a skipped line (the first 10; the summary has the count). */
void cli_progress_skip(void *progress, const char *message);
/* Ends an open terminal line before other output. */
void cli_progress_close(cli_progress *progress);

#endif
