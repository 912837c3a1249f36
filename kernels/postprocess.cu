#include "kernels/postprocess.cuh"

#include "kernels/common/cuda_compat.cuh"
#include "kernels/common/launch.cuh"
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

LLMBED_KERNEL_API llmbed_status llmbed_cuda_postprocess(const llmbed_postprocess_params *p, const float *in,
                                                        float *out, cudaStream_t stream, llmbed_error *error) {
    if (p->n_rows < 0 || p->dims <= 0 || p->dims > p->in_dims)
        return llmbed_fail(error, LLMBED_ERR_INVALID_ARGUMENT, "postprocess: %d rows of %d to %d dims", p->n_rows,
                           p->in_dims, p->dims);
    if (p->n_rows == 0) return LLMBED_OK;
    const double n = (double)p->n_rows * p->dims;
    const llmbed::Launch l = {{"postprocess", 3 * n, 8 * n}, p->n_rows, 1, 1, 128, 0};
    return llmbed::launch(l, postprocess_kernel, stream, error, in, out, p->in_dims, p->dims, p->normalize);
}
