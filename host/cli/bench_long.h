/* `llmbed bench --long N`: one synthetic N-token document in chunks over the
 * key/value cache, once per ThinK ratio: key/value bytes per layer with and
 * without ThinK, peak memory, tokens/s and the pooled cosine against ratio
 * 0; then suffix mode's speedup for Q queries over the document against
 * re-encoding document + query for each. */
#ifndef LLMBED_CLI_BENCH_LONG_H
#define LLMBED_CLI_BENCH_LONG_H

#include <stdint.h>

typedef struct cli_bench_long_args {
    const char *model, *device;
    const char *think_ratios; /* comma-separated, each in [0, 1) */
    int64_t tokens;           /* N */
    int64_t chunk_tokens;     /* C */
    int64_t threads, seed;
    int64_t queries;          /* Q for the suffix-mode comparison; 0 = skip it */
    int64_t reencoded;        /* of those, re-encoded with the document for the baseline */
} cli_bench_long_args;

int cli_bench_long(const cli_bench_long_args *args);

#endif
