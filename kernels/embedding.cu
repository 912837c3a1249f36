#include "kernels/embedding.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"

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
                                                      const uint16_t *table, float *out, cudaStream_t stream,
                                                      llmbed_error *error) {
    if (p->n_tokens < 0 || p->hidden <= 0 || p->vocab <= 0)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "embedding: %d tokens, hidden %d, vocab %d",
                           p->n_tokens, p->hidden, p->vocab);
    if (p->n_tokens == 0) return LLMBED_OK;
    const double T = p->n_tokens, H = p->hidden;
    /* ids, then a bf16 table row read and an fp32 row written per token */
    const llmbed::Launch l = {{"embedding", T * H, T * 4 + T * H * (2 + 4)}, p->n_tokens, 1, 1, 128, 0};
    return llmbed::launch(l, embedding_kernel, stream, error, tokens, reinterpret_cast<const __nv_bfloat16 *>(table),
                          out, p->hidden, p->scale);
}
