/* The streaming source and callback sink of the pipeline (include/llmbed.h
 * llmbed_stream_*), over engine workers: see stream.c. */
#ifndef LLMBED_PIPELINE_STREAM_H
#define LLMBED_PIPELINE_STREAM_H

#include "engine/engine.h"
#include "llmbed.h"

/* llmbed_stream_open over engines (one worker each) of `model`. */
llmbed_status llmbed_stream_start(const llmbed_model *model, llmbed_engine *const *engines, int n_engines,
                                  const llmbed_text_params *text, const llmbed_embed_params *params,
                                  const llmbed_stream_params *stream_params, llmbed_stream_callback callback,
                                  void *user, llmbed_stream **out, llmbed_error *error);

#endif
