/* `llmbed bench --ledger`: the cost ledger of SPEC §7. One batch of the
 * real CUDA host code runs dry on the emulated device (kernels, GEMMs and
 * copies recorded, not executed); each launch's declared FLOPs and bytes are
 * summed per op and timed at a device profile's roofline. */
#ifndef LLMBED_CLI_BENCH_LEDGER_H
#define LLMBED_CLI_BENCH_LEDGER_H

#include <stdint.h>

typedef struct cli_bench_ledger_args {
    const char *model;
    const char *profile;  /* "h100" (default), "h200", "a100" */
    int64_t tokens;       /* tokens per sequence */
    int64_t batch_tokens; /* the batch: batch_tokens / tokens sequences */
    int64_t threads;
} cli_bench_ledger_args;

int cli_bench_ledger(const cli_bench_ledger_args *args);

#endif
