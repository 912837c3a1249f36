/* One batch of the real CUDA host code (host/cuda, through the engine and
 * the decoder loop) on the emulated device, with its launch log open: the
 * source of the cost ledger (`llmbed bench --ledger`, SPEC §7). In a dry
 * run the kernels, GEMMs and copies are recorded and not executed, so a
 * full-size model costs only the bookkeeping (and its load). Plain C. */
#ifndef LLMBED_TESTS_EMU_EMU_LEDGER_H
#define LLMBED_TESTS_EMU_EMU_LEDGER_H

#include <stdint.h>

#include "launch_log.h"
#include "llmbed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llmbed_ledger_batch {
    int n_sequences;      /* sequences of the batch */
    int sequence_tokens;  /* tokens in each */
    int64_t batch_tokens; /* the context's token budget (>= n_sequences * sequence_tokens for one forward) */
} llmbed_ledger_batch;

/* Creates the emulated CUDA backend for `model` (its weight upload is not
 * logged), then runs the batch through the decoder loop as the engine does
 * (ids t % vocab, the model's default attention and pooling, every layer)
 * with `log` open; the log holds the batch's launches in order. */
llmbed_status llmbed_emu_ledger_run(const llmbed_model *model, const llmbed_ledger_batch *batch, int dry_run,
                                    llmbed_emu_launch_log *log, llmbed_error *error);

#ifdef __cplusplus
}
#endif

#endif
