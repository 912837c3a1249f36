/* POSIX/GNU declarations (realpath, readlink, mkdtemp, sigaction): the CLI
 * target is built as strict C11, unlike the library that defines this for us. */
#define _GNU_SOURCE
#include "cli/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

void cli_progress_init(cli_progress *p, int quiet) {
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    const char *interval = getenv("LLMBED_PROGRESS_INTERVAL");
    p->interval = interval != NULL ? atof(interval) : 10.0;
    p->last_print = cli_now();
    p->line_open = 0;
    p->skipped_printed = 0;
}

static void format_eta(char *out, size_t n, const llmbed_file_stats *s, double rate_bytes) {
    if (s->input_bytes <= 0 || rate_bytes <= 0) {
        snprintf(out, n, "ETA ?");
        return;
    }
    double left = (double)(s->input_bytes - s->input_offset) / rate_bytes;
    if (left < 0) left = 0;
    snprintf(out, n, "ETA %02d:%02d:%02d", (int)(left / 3600), (int)(left / 60) % 60, (int)left % 60);
}

void cli_progress_update(void *user, const llmbed_file_stats *s) {
    cli_progress *p = user;
    if (p->quiet) return;
    double t = cli_now();
    if (t - p->last_print < (p->tty ? 0.2 : p->interval)) return;
    p->last_print = t;
    double tokens_per_s = s->seconds > 0 ? (double)s->tokens / s->seconds : 0;
    char eta[32];
    format_eta(eta, sizeof eta, s, s->seconds > 0 ? (double)s->input_offset / s->seconds : 0);
    char percent[16] = "";
    if (s->input_bytes > 0) snprintf(percent, sizeof percent, "%5.1f%% ", 100.0 * (double)s->input_offset / (double)s->input_bytes);
    if (p->tty) {
        fprintf(stderr, "\r\033[Kllmbed: %s%lld sequences, %.0f tokens/s, %s", percent,
                (long long)(s->sequences + s->resumed_rows), tokens_per_s, eta);
        p->line_open = 1;
    } else {
        fprintf(stderr, "llmbed: progress %s%lld sequences, %lld tokens, %.0f tokens/s, %s\n", percent,
                (long long)(s->sequences + s->resumed_rows), (long long)s->tokens, tokens_per_s, eta);
    }
    fflush(stderr);
}

void cli_progress_close(cli_progress *p) {
    if (p->line_open) fputc('\n', stderr);
    p->line_open = 0;
}

void cli_progress_skip(void *user, const char *message) {
    cli_progress *p = user;
    if (p->quiet || p->skipped_printed >= 10) return;
    cli_progress_close(p);
    fprintf(stderr, "llmbed: warning: skipped %s%s\n", message,
            ++p->skipped_printed == 10 ? " (further skipped lines are only counted)" : "");
}
