/* Compiled instead of the C files of host/cuda when llmbed is configured without CUDA
 * (LLMBED_CUDA=OFF, or AUTO without nvcc): asking for the CUDA device then
 * fails with a message that says how to get it. */
#include "backend.h"
#include "common/error.h"

llmbed_status llmbed_cuda_backend_create(const struct llmbed_model *model, int device_index,
                                         int64_t max_tokens, llmbed_backend **out,
                                         llmbed_error *error) {
    (void)model;
    (void)max_tokens;
    if (out) *out = NULL;
    return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                       "device cuda:%d: llmbed was built without CUDA (configure with -DLLMBED_CUDA=ON "
                       "where nvcc is installed)",
                       device_index);
}
