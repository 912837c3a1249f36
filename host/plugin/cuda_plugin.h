/* The seam between libllmbed and its CUDA backend, which is built as a
 * separate module (libllmbed_cuda.so: host/cuda/ + kernels/, linked to
 * cuBLASLt and the static CUDA runtime) and loaded with dlopen only when a
 * context asks for a CUDA device (host/plugin/cuda_loader.c). A process that
 * runs on the CPU therefore never maps the CUDA libraries (~150 MiB of
 * cuBLASLt alone), and a CUDA-enabled build runs where they are missing.
 *
 * The module exports one symbol, LLMBED_CUDA_PLUGIN_ENTRY, returning the
 * table below. Both sides include this header and the model structs, so the
 * table carries what they must agree on (version and struct sizes): a module
 * from another build is refused instead of misreading the model. */
#ifndef LLMBED_PLUGIN_CUDA_PLUGIN_H
#define LLMBED_PLUGIN_CUDA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define LLMBED_CUDA_PLUGIN_FILE "libllmbed_cuda.so"
#define LLMBED_CUDA_PLUGIN_ENTRY "llmbed_cuda_plugin_v1"
/* Environment variable naming the module's path (tests, unusual installs). */
#define LLMBED_CUDA_PLUGIN_ENV "LLMBED_CUDA_PLUGIN"

typedef struct llmbed_cuda_plugin {
    int version_number;       /* LLMBED_VERSION_NUMBER the module was built as */
    size_t model_bytes;       /* sizeof(llmbed_model) */
    size_t backend_ops_bytes; /* sizeof(llmbed_backend_ops) */
    /* The CUDA backend's constructor (host/backend.h: llmbed_cuda_backend_create). */
    llmbed_status (*backend_create)(const struct llmbed_model *model, int device_index, int64_t max_tokens,
                                    llmbed_backend **out, llmbed_error *error);
    /* GPUs the runtime sees (host/backend.h: llmbed_cuda_device_count). */
    llmbed_status (*device_count)(int *count, llmbed_error *error);
} llmbed_cuda_plugin;

typedef const llmbed_cuda_plugin *(*llmbed_cuda_plugin_entry_fn)(void);

#define LLMBED_CUDA_PLUGIN_INIT(create, count)                                                      \
    {LLMBED_VERSION_NUMBER, sizeof(struct llmbed_model), sizeof(llmbed_backend_ops), (create), (count)}

#endif
