/* The key/value bytes table of `llmbed bench --long` per cache dtype x ThinK ratio. */
#ifndef LLMBED_CLI_BENCH_KV_DTYPE_H
#define LLMBED_CLI_BENCH_KV_DTYPE_H

#include "llmbed.h"

/* Prints key and value bytes per token-layer of a long cache (positions older
 * than the recent window: ThinK-pruned keys, KIVI-quantised blocks of
 * `chunk_tokens` tokens; host/cpu/kv_quant.h) for f32, bf16, int8, int4 and
 * each ratio, and the size relative to the bf16 cache without ThinK. */
void cli_bench_kv_dtype_table(const llmbed_model_info *info, const float *ratios, int n_ratios, int chunk_tokens);

#endif
