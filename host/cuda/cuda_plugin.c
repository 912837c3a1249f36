/* The one symbol libllmbed_cuda.so exports (host/plugin/cuda_plugin.h);
 * everything else in the module is hidden. */
#include <cuda_runtime_api.h>

#include "common/error.h"
#include "plugin/cuda_plugin.h"

__attribute__((visibility("default"))) const llmbed_cuda_plugin *llmbed_cuda_plugin_v1(void);

llmbed_status llmbed_cuda_device_count(int *count, llmbed_error *error) {
    *count = 0;
    const cudaError_t rc = cudaGetDeviceCount(count);
    if (rc != cudaSuccess || *count == 0)
        return llmbed_fail(error, LLMBED_ERR_NO_DEVICE, "device cuda:all: no usable GPU (%s); use --device cpu",
                           rc != cudaSuccess ? cudaGetErrorString(rc) : "no CUDA device found");
    return LLMBED_OK;
}

const llmbed_cuda_plugin *llmbed_cuda_plugin_v1(void) {
    static const llmbed_cuda_plugin plugin =
        LLMBED_CUDA_PLUGIN_INIT(llmbed_cuda_backend_create, llmbed_cuda_device_count);
    return &plugin;
}
