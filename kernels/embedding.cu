#include "kernels/embedding.cuh"

#include "kernels/common/cuda_compat.cuh"

namespace {

/* One block per token; threads stride over the hidden dimension. */
__global__ void embedding_kernel(const int32_t *__restrict__ tokens, const __nv_bfloat16 *__restrict__ table,
                                 float *__restrict__ out, int hidden, float scale) {
    int64_t t = blockIdx.x;
    const __nv_bfloat16 *row = table + (int64_t)tokens[t] * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) out[t * hidden + i] = __bfloat162float(row[i]) * scale;
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_embedding(const llmbed_embedding_params *p, const int32_t *tokens,
                                               const uint16_t *table, float *out, cudaStream_t stream) {
    if (p->n_tokens < 0 || p->hidden <= 0 || p->vocab <= 0) return LLMBED_ERR_INVALID_ARGUMENT;
    if (p->n_tokens == 0) return LLMBED_OK;
    const __nv_bfloat16 *t = reinterpret_cast<const __nv_bfloat16 *>(table);
    auto kernel = embedding_kernel;
    LLMBED_LAUNCH(kernel, dim3(p->n_tokens), dim3(128), stream, tokens, t, out, p->hidden, p->scale);
    return llmbed_cuda_launch_status();
}
