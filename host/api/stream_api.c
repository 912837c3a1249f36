/* llmbed_stream_open (include/llmbed.h): the contexts' engines as the
 * stream's workers (host/pipeline/stream.c holds the rest of the API). */
#include "api/ctx.h"
#include "common/error.h"
#include "pipeline/stream.h"

llmbed_status llmbed_stream_open(llmbed_ctx *const *ctxs, int n_ctxs, const llmbed_text_params *text,
                                 const llmbed_embed_params *params, const llmbed_stream_params *stream_params,
                                 llmbed_stream_callback callback, void *user, llmbed_stream **out,
                                 llmbed_error *error) {
    llmbed_error_clear(error);
    if (out == NULL) return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream_open: out is NULL");
    *out = NULL;
    enum { MAX_CONTEXTS = 64 };
    if (ctxs == NULL || n_ctxs < 1 || n_ctxs > MAX_CONTEXTS)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream_open: 1..%d contexts are required", MAX_CONTEXTS);
    llmbed_engine *engines[MAX_CONTEXTS];
    for (int i = 0; i < n_ctxs; i++) {
        if (ctxs[i] == NULL || ctxs[i]->engine.model != ctxs[0]->engine.model)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "stream_open: context %d is NULL or over another model", i);
        engines[i] = &ctxs[i]->engine;
    }
    llmbed_stream_params defaults;
    if (stream_params == NULL) {
        llmbed_stream_params_default(&defaults);
        stream_params = &defaults;
    }
    return llmbed_stream_start(ctxs[0]->engine.model, engines, n_ctxs, text, params, stream_params, callback, user, out,
                               error);
}
