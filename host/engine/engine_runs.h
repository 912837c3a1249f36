/* The engine's runs (internal to host/engine/): a packed run of sequences
 * that fit one forward (with a shared prefix computed once, or continuing
 * the cached document), and one sequence in chunks. Each writes its rows of
 * the caller's buffer, post-processed. */
#ifndef LLMBED_ENGINE_ENGINE_RUNS_H
#define LLMBED_ENGINE_ENGINE_RUNS_H

#include "engine/engine.h"

/* Sequences [first, first + n) of the batch in one forward. */
llmbed_status llmbed_engine_run_packed(llmbed_engine *engine, const llmbed_batch *batch, int first, int n,
                                       const llmbed_embed_options *opt, float *out, llmbed_error *error);

/* Sequence s of the batch in chunks of `chunk` tokens. */
llmbed_status llmbed_engine_run_chunked(llmbed_engine *engine, const llmbed_batch *batch, int s,
                                        const llmbed_embed_options *opt, int chunk, float *out, llmbed_error *error);

/* One sequence pooled over n_spans ordered, disjoint spans [spans[2p],
 * spans[2p + 1]) into out[n_spans, dims]: in chunks of `chunk` tokens over
 * the cache, or (chunk 0) in one forward that fits the activations. */
llmbed_status llmbed_engine_run_spans(llmbed_engine *engine, const int32_t *tokens, int n_tokens,
                                      const int32_t *spans, int n_spans, const llmbed_embed_options *opt, int chunk,
                                      float *out, llmbed_error *error);

#endif
