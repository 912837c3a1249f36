/* Needle pairs for `llmbed eval needle` (cmd_eval_needle.c), used by the
 * long-context retrieval runner of cmd_eval_passkey.c. */
#ifndef LLMBED_CLI_EVAL_NEEDLE_H
#define LLMBED_CLI_EVAL_NEEDLE_H

#include <stddef.h>

#include "eval/sts_file.h"
#include "eval/text_set.h"
#include "llmbed.h"

typedef struct cli_needle_pairs {
    llmbed_sts_file *files; /* the --needles files (owned) */
    int n_files;
    const char **needles, **queries; /* [n] sentence 1 / sentence 2 of the gold-5 pairs (borrowed from files) */
    size_t n;
    const char **pool;               /* filler without any sentence of the needle files (borrowed) */
    size_t pool_size;
} cli_needle_pairs;

/* Reads the --needles files, keeps the pairs scored >= min_score whose two
 * sentences differ and were not used by an earlier pair, and drops every
 * sentence of these files from `filler`. Prints the error line on failure. */
llmbed_status cli_needle_pairs_read(const char *list, double min_score, const llmbed_text_set *filler,
                                    cli_needle_pairs *out);
void cli_needle_pairs_free(cli_needle_pairs *p);

/* The runner of `llmbed eval passkey` (needle = 0) and `llmbed eval needle` (1). */
int cli_eval_long_retrieval(int argc, char **argv, int needle);

#endif
