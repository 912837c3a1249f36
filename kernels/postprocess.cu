#include "kernels/postprocess.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/reduce.cuh"

namespace {

/* One block per row. The norm is taken after truncation, as
 * sentence-transformers' truncate_dim followed by normalize_embeddings. */
__global__ void postprocess_kernel(const float *__restrict__ in, float *__restrict__ out, int in_dims, int dims,
                                   int normalize) {
    const float *x = in + (int64_t)blockIdx.x * in_dims;
    float *o = out + (int64_t)blockIdx.x * dims;
    float scale = 1.0f;
    if (normalize) {
        float sum_sq = 0.0f;
        for (int i = threadIdx.x; i < dims; i += blockDim.x) sum_sq += x[i] * x[i];
        float norm = sqrtf(block_sum(sum_sq));
        scale = norm > 0.0f ? 1.0f / norm : 0.0f;
    }
    for (int i = threadIdx.x; i < dims; i += blockDim.x) o[i] = x[i] * scale;
}

} // namespace

LLMBED_KERNEL_API llmbed_status llmbed_cuda_postprocess(const llmbed_postprocess_params *p, const float *in, float *out,
                                                 cudaStream_t stream) {
    if (p->n_rows < 0 || p->dims <= 0 || p->dims > p->in_dims) return LLMBED_ERR_INVALID_ARGUMENT;
    if (p->n_rows == 0) return LLMBED_OK;
    auto kernel = postprocess_kernel;
    LLMBED_LAUNCH(kernel, dim3((unsigned)p->n_rows), dim3(128), stream, in, out, p->in_dims, p->dims, p->normalize);
    return llmbed_cuda_launch_status();
}
