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
    if (ctxs == NULL || n_ctxs < 1 || n_ctxs > LLMBED_MAX_DEVICES)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream_open: 1..%d contexts are required",
                           LLMBED_MAX_DEVICES);
    /* Every engine of every context is a worker (data parallel contexts bring several). */
    llmbed_engine *engines[LLMBED_MAX_DEVICES], *own[LLMBED_MAX_DEVICES];
    int n_engines = 0;
    for (int i = 0; i < n_ctxs; i++) {
        if (ctxs[i] == NULL || ctxs[i]->engines[0].model != ctxs[0]->engines[0].model)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT,
                               "stream_open: context %d is NULL or over another model", i);
        const int n = llmbed_ctx_engines(ctxs[i], own);
        if (n_engines + n > LLMBED_MAX_DEVICES)
            return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "stream_open: more than %d engines in the contexts",
                               LLMBED_MAX_DEVICES);
        for (int e = 0; e < n; e++) engines[n_engines++] = own[e];
    }
    llmbed_stream_params defaults;
    if (stream_params == NULL) {
        llmbed_stream_params_default(&defaults);
        stream_params = &defaults;
    }
    return llmbed_stream_start(ctxs[0]->engines[0].model, engines, n_engines, text, params, stream_params, callback, user, out,
                               error);
}
