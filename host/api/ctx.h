/* The context's layout, shared by the public API files of host/api/ that
 * run work on a context (ctx_api.c, texts_api.c, file_api.c). */
#ifndef LLMBED_API_CTX_H
#define LLMBED_API_CTX_H

#include "engine/engine.h"
#include "llmbed.h"

struct llmbed_ctx {
    llmbed_engine engine; /* holds the model and the backend */
    llmbed_error last_error;
    llmbed_device device; /* where it runs: CPU or CUDA */
    int device_index;
    char device_note[LLMBED_ERROR_MESSAGE_CAPACITY + 64]; /* why AUTO fell back to the CPU, or "" */
};

/* params, or the defaults written to *storage when params is NULL. */
const llmbed_embed_params *llmbed_embed_params_or_default(const llmbed_embed_params *params,
                                                          llmbed_embed_params *storage);

#endif
