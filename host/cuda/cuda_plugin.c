/* The one symbol libllmbed_cuda.so exports (host/plugin/cuda_plugin.h);
 * everything else in the module is hidden. */
#include "plugin/cuda_plugin.h"

__attribute__((visibility("default"))) const llmbed_cuda_plugin *llmbed_cuda_plugin_v1(void);

const llmbed_cuda_plugin *llmbed_cuda_plugin_v1(void) {
    static const llmbed_cuda_plugin plugin = LLMBED_CUDA_PLUGIN_INIT(llmbed_cuda_backend_create);
    return &plugin;
}
