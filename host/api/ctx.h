/* The context's layout, shared by the public API files of host/api/ that
 * run work on a context (ctx_api.c, texts_api.c, file_api.c). */
#ifndef LLMBED_API_CTX_H
#define LLMBED_API_CTX_H

#include "engine/engine.h"
#include "llmbed.h"

struct llmbed_ctx {
    /* The data parallel workers (llmbed.h llmbed_ctx_params): one engine per
     * GPU or CPU replica, each holding the model and a backend; engines[0]
     * runs the calls that take one engine (llmbed_embed, cache_document). */
    llmbed_engine engines[LLMBED_MAX_DEVICES];
    int n_engines;
    llmbed_error last_error;
    llmbed_device device; /* where it runs: CPU or CUDA */
    int device_index;     /* CUDA ordinal of engines[0] */
    char device_note[LLMBED_ERROR_MESSAGE_CAPACITY + 64]; /* why AUTO fell back to the CPU, or "" */
};

/* The context's engines as the pipeline's workers (pipeline/bind.h):
 * engines[0..n) into `engines`, which holds LLMBED_MAX_DEVICES; returns n. */
int llmbed_ctx_engines(llmbed_ctx *ctx, llmbed_engine **engines);

/* params, or the defaults written to *storage when params is NULL. */
const llmbed_embed_params *llmbed_embed_params_or_default(const llmbed_embed_params *params,
                                                          llmbed_embed_params *storage);

#endif
