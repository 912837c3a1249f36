/* Projections through cuBLASLt: y[T, n_out] = x[T, n_in] W^T with W
 * [n_out, n_in] row-major bf16 (HF nn.Linear), x bf16, fp32 accumulation,
 * y bf16 or fp32. The algorithm for each (T, n_in, n_out, y dtype) is chosen
 * by cublasLtMatmulAlgoGetHeuristic once and cached. */
#ifndef LLMBED_CUDA_CUDA_GEMM_H
#define LLMBED_CUDA_CUDA_GEMM_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/common/launch_cost.h"
#include "llmbed.h"

#define LLMBED_GEMM_CACHE_SIZE 64

typedef struct llmbed_gemm_plan {
    int used;
    int n_tokens, n_in, n_out, out_f32, bias;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t w_layout, x_layout, y_layout;
    cublasLtMatmulAlgo_t algo;
} llmbed_gemm_plan;

typedef struct llmbed_gemm {
    cublasLtHandle_t handle;
    void *workspace; /* device */
    size_t workspace_bytes;
    llmbed_gemm_plan plans[LLMBED_GEMM_CACHE_SIZE];
    int next_victim; /* round-robin replacement once the cache is full */
} llmbed_gemm;

llmbed_status llmbed_gemm_init(llmbed_gemm *gemm, size_t workspace_bytes, llmbed_error *error);
void llmbed_gemm_free(llmbed_gemm *gemm);

/* y = alpha * x W^T (+ bias) (+ beta * y): beta 1 accumulates into an fp32
 * y; bias [n_out] bf16 (NULL = none; bf16 y only) is added in the epilogue
 * (cuBLASLt takes the bias in D's type). `op` (a static string) names the
 * product in the cost ledger and in errors. */
llmbed_status llmbed_gemm_run(llmbed_gemm *gemm, const char *op, int n_tokens, int n_in, int n_out,
                              const uint16_t *x, const uint16_t *w, const uint16_t *bias, void *y, int out_f32,
                              float alpha, float beta, cudaStream_t stream, llmbed_error *error);

#endif
