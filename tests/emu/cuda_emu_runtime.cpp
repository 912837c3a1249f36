/* The emulated CUDA runtime and cuBLASLt behind fake_cuda/: one synchronous
 * device whose memory is host memory. Streams are tokens; copies are
 * memcpy; cublasLtMatmul widens bf16 operands to fp32, runs cblas_sgemm
 * (column-major, as cuBLASLt) and rounds to the output type with the same
 * round-to-nearest-even as the device. */
#include <cblas.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "fake_cuda/cublasLt.h"
#include "fake_cuda/cuda_runtime_api.h"
#include "emu_graph.h"
#include "launch_log.h"

struct CUstream_st {
    int unused;
};
struct llmbed_emu_lt_context {
    int unused;
};
struct llmbed_emu_lt_desc {
    cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
};
struct llmbed_emu_lt_layout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
struct llmbed_emu_lt_pref {
    size_t workspace = 0;
};

namespace {

float bf16_to_f32(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

size_t type_bytes(cudaDataType_t type) { return type == CUDA_R_32F ? 4 : 2; }

/* A column-major matrix widened to fp32 (same shape and ld). */
std::vector<float> widen(const void *p, const llmbed_emu_lt_layout *l) {
    size_t n = (size_t)l->ld * (l->cols - 1) + l->rows;
    std::vector<float> out(n);
    if (l->type == CUDA_R_32F)
        std::memcpy(out.data(), p, n * 4);
    else
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(static_cast<const uint16_t *>(p)[i]);
    return out;
}

} // namespace

extern "C" {

const char *cudaGetErrorString(cudaError_t error) {
    switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorIllegalState: return "operation not permitted when stream is capturing";
    }
    return "unknown error";
}

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned) {
    *stream = new CUstream_st();
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete stream;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaMalloc(void **ptr, size_t bytes) {
    /* 256-byte alignment, as cudaMalloc guarantees */
    *ptr = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *ptr) {
    std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFreeHost(void *ptr) { return cudaFree(ptr); }
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    const llmbed_emu_launch_kind logged = kind == cudaMemcpyHostToDevice   ? LLMBED_EMU_COPY_H2D
                                          : kind == cudaMemcpyDeviceToHost ? LLMBED_EMU_COPY_D2H
                                                                           : LLMBED_EMU_COPY_D2D;
    if (kind != cudaMemcpyHostToHost && !llmbed_emu_log_copy(logged, bytes)) return cudaSuccess; /* a dry run */
    if (bytes && !llmbed_emu_capture([=]() { std::memcpy(dst, src, bytes); })) std::memcpy(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) {
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    if (attr != cudaDevAttrMaxSharedMemoryPerBlockOptin) return cudaErrorInvalidValue;
    *value = 163 * 1024;
    return cudaSuccess;
}
cudaError_t llmbed_emu_cudaFuncSetAttributeC(const void *func, cudaFuncAttribute attr, int value) {
    if (func == nullptr || attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > 163 * 1024)
        return cudaErrorInvalidValue;
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    *handle = new llmbed_emu_lt_context();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasLtGetStatusString(cublasStatus_t status) {
    return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_NOT_SUPPORTED";
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute, cudaDataType_t scale) {
    if (compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    *desc = new llmbed_emu_lt_desc();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    delete desc;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *value, size_t size) {
    if (attr == CUBLASLT_MATMUL_DESC_EPILOGUE) {
        if (size != sizeof(cublasLtEpilogue_t)) return CUBLAS_STATUS_INVALID_VALUE;
        std::memcpy(&desc->epilogue, value, size);
        return desc->epilogue == CUBLASLT_EPILOGUE_DEFAULT || desc->epilogue == CUBLASLT_EPILOGUE_BIAS
                   ? CUBLAS_STATUS_SUCCESS
                   : CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (attr == CUBLASLT_MATMUL_DESC_BIAS_POINTER) {
        if (size != sizeof(void *)) return CUBLAS_STATUS_INVALID_VALUE;
        std::memcpy(&desc->bias, value, size);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (size != sizeof(cublasOperation_t)) return CUBLAS_STATUS_INVALID_VALUE;
    cublasOperation_t op;
    std::memcpy(&op, value, size);
    if (attr == CUBLASLT_MATMUL_DESC_TRANSA)
        desc->trans_a = op;
    else if (attr == CUBLASLT_MATMUL_DESC_TRANSB)
        desc->trans_b = op;
    else
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    if (rows == 0 || cols == 0 || ld < (int64_t)rows) return CUBLAS_STATUS_INVALID_VALUE;
    *layout = new llmbed_emu_lt_layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    delete layout;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    *pref = new llmbed_emu_lt_pref();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    delete pref;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *value,
                                                    size_t size) {
    if (attr != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES || size != sizeof(size_t)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&pref->workspace, value, size);
    return CUBLAS_STATUS_SUCCESS;
}

/* One "algorithm" exists when the shapes chain: op(A) m x k, op(B) k x n, C and D m x n. */
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t d, cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t *results, int *returned) {
    uint64_t m = desc->trans_a == CUBLAS_OP_T ? a->cols : a->rows, k = desc->trans_a == CUBLAS_OP_T ? a->rows : a->cols;
    uint64_t kb = desc->trans_b == CUBLAS_OP_T ? b->cols : b->rows, n = desc->trans_b == CUBLAS_OP_T ? b->rows : b->cols;
    *returned = 0;
    if (requested < 1 || k != kb || c->rows != m || c->cols != n || d->rows != m || d->cols != n)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    std::memset(&results[0], 0, sizeof results[0]);
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t desc, const void *alpha, const void *a,
                              cublasLtMatrixLayout_t al, const void *b, cublasLtMatrixLayout_t bl, const void *beta,
                              const void *c, cublasLtMatrixLayout_t cl, void *d, cublasLtMatrixLayout_t dl,
                              const cublasLtMatmulAlgo_t *, void *, size_t, cudaStream_t) {
    const bool ta = desc->trans_a == CUBLAS_OP_T, tb = desc->trans_b == CUBLAS_OP_T;
    const int m = (int)(ta ? al->cols : al->rows), k = (int)(ta ? al->rows : al->cols);
    const int n = (int)(tb ? bl->rows : bl->cols);
    float alpha_f, beta_f;
    std::memcpy(&alpha_f, alpha, 4);
    std::memcpy(&beta_f, beta, 4);
    const double bytes = (double)m * k * type_bytes(al->type) + (double)k * n * type_bytes(bl->type) +
                         (beta_f != 0.0f ? (double)m * n * type_bytes(cl->type) : 0.0) +
                         (double)m * n * type_bytes(dl->type) +
                         (desc->epilogue == CUBLASLT_EPILOGUE_BIAS ? (double)m * type_bytes(dl->type) : 0.0);
    if (!llmbed_emu_log_gemm(2.0 * m * n * k, bytes)) return CUBLAS_STATUS_SUCCESS; /* a dry run */
    if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS && desc->bias == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    /* the descriptor's epilogue and bias as they are now (a captured matmul runs with them later) */
    const cublasLtEpilogue_t epilogue = desc->epilogue;
    const void *bias_ptr = desc->bias;
    auto run = [=]() {
    std::vector<float> fa = widen(a, al), fb = widen(b, bl);
    std::vector<float> fd((size_t)dl->ld * n, 0.0f);
    if (beta_f != 0.0f) {
        std::vector<float> fc = widen(c, cl);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) fd[(size_t)j * dl->ld + i] = fc[(size_t)j * cl->ld + i];
    }
    cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha_f,
                fa.data(), (int)al->ld, fb.data(), (int)bl->ld, beta_f, fd.data(), (int)dl->ld);
    if (epilogue == CUBLASLT_EPILOGUE_BIAS) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                fd[(size_t)j * dl->ld + i] += dl->type == CUDA_R_32F ? static_cast<const float *>(bias_ptr)[i]
                                                                      : bf16_to_f32(static_cast<const uint16_t *>(bias_ptr)[i]);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            size_t at = (size_t)j * dl->ld + i;
            if (dl->type == CUDA_R_32F)
                static_cast<float *>(d)[at] = fd[at];
            else
                static_cast<uint16_t *>(d)[at] = f32_to_bf16(fd[at]);
        }
    };
    if (!llmbed_emu_capture(run)) run();
    return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
