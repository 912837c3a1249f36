/* cuBLASLt is column-major: the row-major product y[T, n_out] = x[T, n_in] W^T
 * is, read column-major, y^T (n_out x T) = op(W) x^T with W seen as a
 * column-major n_in x n_out matrix (ld n_in) transposed, and x^T a
 * column-major n_in x T matrix (ld n_in). */
#include "cuda/cuda_gemm.h"

#include <string.h>

#include "cuda/cuda_check.h"

static void destroy_plan(llmbed_gemm_plan *plan) {
    if (!plan->used) return;
    cublasLtMatrixLayoutDestroy(plan->w_layout);
    cublasLtMatrixLayoutDestroy(plan->x_layout);
    cublasLtMatrixLayoutDestroy(plan->y_layout);
    cublasLtMatmulDescDestroy(plan->desc);
    memset(plan, 0, sizeof *plan);
}

llmbed_status llmbed_gemm_init(llmbed_gemm *gemm, size_t workspace_bytes, llmbed_error *error) {
    memset(gemm, 0, sizeof *gemm);
    LLMBED_CUBLAS_TRY(cublasLtCreate(&gemm->handle));
    LLMBED_CUDA_TRY(cudaMalloc(&gemm->workspace, workspace_bytes));
    gemm->workspace_bytes = workspace_bytes;
    return LLMBED_OK;
}

void llmbed_gemm_free(llmbed_gemm *gemm) {
    if (gemm == NULL) return;
    for (int i = 0; i < LLMBED_GEMM_CACHE_SIZE; i++) destroy_plan(&gemm->plans[i]);
    if (gemm->workspace) cudaFree(gemm->workspace);
    if (gemm->handle) cublasLtDestroy(gemm->handle);
    memset(gemm, 0, sizeof *gemm);
}

static llmbed_status build_plan(llmbed_gemm *gemm, llmbed_gemm_plan *plan, int n_tokens, int n_in, int n_out,
                                int out_f32, int bias, llmbed_error *error) {
    plan->n_tokens = n_tokens, plan->n_in = n_in, plan->n_out = n_out, plan->out_f32 = out_f32, plan->bias = bias;
    LLMBED_CUBLAS_TRY(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    plan->used = 1; /* from here destroy_plan releases what exists */
    const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
    LLMBED_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                                     sizeof transpose));
    LLMBED_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep));
    if (bias) {
        /* y^T's rows are the output features: a bias of n_out, broadcast over tokens, in D's type (bf16) */
        const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        LLMBED_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                                         sizeof epilogue));
    }
    LLMBED_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&plan->w_layout, CUDA_R_16BF, (uint64_t)n_in, (uint64_t)n_out, n_in));
    LLMBED_CUBLAS_TRY(
        cublasLtMatrixLayoutCreate(&plan->x_layout, CUDA_R_16BF, (uint64_t)n_in, (uint64_t)n_tokens, n_in));
    LLMBED_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&plan->y_layout, out_f32 ? CUDA_R_32F : CUDA_R_16BF,
                                                 (uint64_t)n_out, (uint64_t)n_tokens, n_out));
    cublasLtMatmulPreference_t pref;
    LLMBED_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
    cublasStatus_t rc = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                             &gemm->workspace_bytes, sizeof gemm->workspace_bytes);
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    if (rc == CUBLAS_STATUS_SUCCESS)
        rc = cublasLtMatmulAlgoGetHeuristic(gemm->handle, plan->desc, plan->w_layout, plan->x_layout,
                                            plan->y_layout, plan->y_layout, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    LLMBED_CUBLAS_TRY(rc);
    if (found < 1)
        return llmbed_fail(error, LLMBED_ERR_UNSUPPORTED,
                           "cuBLASLt: no algorithm for a bf16 GEMM of %d tokens, %d -> %d features", n_tokens,
                           n_in, n_out);
    plan->algo = result.algo;
    return LLMBED_OK;
}

static llmbed_status find_plan(llmbed_gemm *gemm, int n_tokens, int n_in, int n_out, int out_f32, int bias,
                               llmbed_gemm_plan **out, llmbed_error *error) {
    for (int i = 0; i < LLMBED_GEMM_CACHE_SIZE; i++) {
        llmbed_gemm_plan *p = &gemm->plans[i];
        if (p->used && p->n_tokens == n_tokens && p->n_in == n_in && p->n_out == n_out && p->out_f32 == out_f32 &&
            p->bias == bias) {
            *out = p;
            return LLMBED_OK;
        }
    }
    llmbed_gemm_plan *slot = NULL;
    for (int i = 0; i < LLMBED_GEMM_CACHE_SIZE && slot == NULL; i++)
        if (!gemm->plans[i].used) slot = &gemm->plans[i];
    if (slot == NULL) {
        slot = &gemm->plans[gemm->next_victim];
        gemm->next_victim = (gemm->next_victim + 1) % LLMBED_GEMM_CACHE_SIZE;
        destroy_plan(slot);
    }
    llmbed_status st = build_plan(gemm, slot, n_tokens, n_in, n_out, out_f32, bias, error);
    if (st != LLMBED_OK) {
        destroy_plan(slot);
        return st;
    }
    *out = slot;
    return LLMBED_OK;
}

/* 2 T n_in n_out flops; x, W (and the bias) read, y written (and read with beta != 0). */
static llmbed_launch_cost gemm_cost(const char *op, int n_tokens, int n_in, int n_out, int out_f32, float beta,
                                    int bias) {
    const double T = n_tokens, y_bytes = (double)n_tokens * n_out * (out_f32 ? 4 : 2);
    const llmbed_launch_cost cost = {op, 2.0 * T * n_in * n_out,
                                     T * n_in * 2 + (double)n_in * n_out * 2 + y_bytes * (beta != 0.0f ? 2 : 1) +
                                         (bias ? (double)n_out * 2 : 0.0)};
    return cost;
}

llmbed_status llmbed_gemm_run(llmbed_gemm *gemm, const char *op, int n_tokens, int n_in, int n_out,
                              const uint16_t *x, const uint16_t *w, const uint16_t *bias, void *y, int out_f32,
                              float alpha, float beta, cudaStream_t stream, llmbed_error *error) {
    if (n_tokens == 0) return LLMBED_OK;
    if (bias != NULL && out_f32)
        return llmbed_fail(error, LLMBED_ERR_INTERNAL, "%s: a bias epilogue needs a bf16 output", op);
    llmbed_gemm_plan *plan;
    llmbed_status st = find_plan(gemm, n_tokens, n_in, n_out, out_f32, bias != NULL, &plan, error);
    if (st != LLMBED_OK) return st;
    if (bias != NULL)
        LLMBED_CUBLAS_TRY(
            cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const llmbed_launch_cost cost = gemm_cost(op, n_tokens, n_in, n_out, out_f32, beta, bias != NULL);
    LLMBED_DECLARE_COST(&cost);
    LLMBED_CUBLAS_TRY(cublasLtMatmul(gemm->handle, plan->desc, &alpha, w, plan->w_layout, x, plan->x_layout, &beta, y,
                                     plan->y_layout, y, plan->y_layout, &plan->algo, gemm->workspace,
                                     gemm->workspace_bytes, stream));
    if (llmbed_cuda_sync_each_launch()) {
        const cudaError_t rc = cudaStreamSynchronize(stream);
        if (rc != cudaSuccess)
            return llmbed_fail(error, LLMBED_ERR_CUDA, "%s: asynchronous fault of a %d x %d -> %d GEMM (LLMBED_CUDA_SYNC): %s",
                               op, n_tokens, n_in, n_out, cudaGetErrorString(rc));
    }
    return LLMBED_OK;
}
