/* Two GPU ceilings for bench/gpu_check.sh, measured in the same run as the
 * end-to-end numbers (METHOD.md: "measure the two ceilings once"):
 *
 *   1. the bf16 peak: a cuBLASLt GEMM M = N = K = 8192, bf16 inputs, fp32
 *      accumulate and output, on random data (zeros run faster: METHOD.md);
 *   2. llmbed's attention kernel on the 512-token shape of the Qwen3-0.6B
 *      benchmark (packed batch of B sequences, 16 query / 8 key-value heads,
 *      head_dim 128, causal) against the same-shape GEMMs: per sequence and
 *      head, S = Q K^T [512 x 128 x 512] and O = P V [512 x 512 x 128] as two
 *      strided-batched cuBLASLt GEMMs. Attention FLOPs count the causal half
 *      (4 S^2 D / 2 per head), the GEMMs the full 4 S^2 D: the ratio of times
 *      says how far the fused kernel is from two plain tensor-core GEMMs that
 *      do twice the work.
 *
 * Timing: CUDA events around `repeat` launches after `warmup`, median of 5
 * such runs. Prints one `key value` line per result (parsed by run.sh).
 * Usage: llmbed_gpu_kernel_bench [--sequences B] [--seq-len S] */
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.cuh"

namespace {

#define CHECK_CUDA(call)                                                                                   \
    do {                                                                                                   \
        cudaError_t rc_ = (call);                                                                          \
        if (rc_ != cudaSuccess) {                                                                          \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(rc_)); \
            std::exit(1);                                                                                  \
        }                                                                                                  \
    } while (0)

#define CHECK_CUBLAS(call)                                                                                    \
    do {                                                                                                      \
        cublasStatus_t rc_ = (call);                                                                          \
        if (rc_ != CUBLAS_STATUS_SUCCESS) {                                                                   \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cublasLtGetStatusString(rc_)); \
            std::exit(1);                                                                                     \
        }                                                                                                     \
    } while (0)

/* Random bf16 values in [-1, 1) into a new device buffer of n elements. */
uint16_t *random_bf16(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<uint16_t> host(n);
    for (uint16_t &h : host) {
        float f = u(rng);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
    uint16_t *device = nullptr;
    CHECK_CUDA(cudaMalloc(&device, n * 2));
    CHECK_CUDA(cudaMemcpy(device, host.data(), n * 2, cudaMemcpyHostToDevice));
    return device;
}

/* Median milliseconds per call of `body` over 5 runs of `repeat` calls. */
template <typename Body>
double median_ms(int warmup, int repeat, Body body) {
    cudaEvent_t start, stop;
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
    for (int i = 0; i < warmup; i++) body();
    std::vector<double> runs;
    for (int r = 0; r < 5; r++) {
        CHECK_CUDA(cudaEventRecord(start));
        for (int i = 0; i < repeat; i++) body();
        CHECK_CUDA(cudaEventRecord(stop));
        CHECK_CUDA(cudaEventSynchronize(stop));
        float ms = 0.0f;
        CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
        runs.push_back(ms / repeat);
    }
    CHECK_CUDA(cudaGetLastError());
    std::sort(runs.begin(), runs.end());
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return runs[2];
}

/* A column-major bf16 GEMM D[m, n] = A[m, k] B[k, n] (fp32 out), `batch`
 * times with strides between the matrices, planned once. */
struct Gemm {
    cublasLtHandle_t handle;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
    void *workspace;
    size_t workspace_bytes = (size_t)64 << 20;

    Gemm(cublasLtHandle_t h, int m, int n, int k, int batch, cublasOperation_t trans_a) : handle(h) {
        CHECK_CUBLAS(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a));
        const int lda = trans_a == CUBLAS_OP_T ? k : m;
        CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, trans_a == CUBLAS_OP_T ? k : m,
                                                trans_a == CUBLAS_OP_T ? m : k, lda));
        CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, k, n, k));
        CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&d, CUDA_R_32F, m, n, m));
        if (batch > 1) {
            const int64_t stride_a = (int64_t)m * k, stride_b = (int64_t)k * n, stride_d = (int64_t)m * n;
            for (auto layout : {std::make_pair(a, stride_a), std::make_pair(b, stride_b), std::make_pair(d, stride_d)}) {
                CHECK_CUBLAS(cublasLtMatrixLayoutSetAttribute(layout.first, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                              sizeof batch));
                CHECK_CUBLAS(cublasLtMatrixLayoutSetAttribute(
                    layout.first, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &layout.second, sizeof layout.second));
            }
        }
        CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
        cublasLtMatmulPreference_t pref;
        CHECK_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
        CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                          &workspace_bytes, sizeof workspace_bytes));
        cublasLtMatmulHeuristicResult_t result;
        int found = 0;
        CHECK_CUBLAS(cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, pref, 1, &result, &found));
        if (found == 0) {
            std::fprintf(stderr, "cuBLASLt has no algorithm for %dx%dx%d batch %d\n", m, n, k, batch);
            std::exit(1);
        }
        algo = result.algo;
        cublasLtMatmulPreferenceDestroy(pref);
    }
    void run(const uint16_t *pa, const uint16_t *pb, float *pd) {
        const float alpha = 1.0f, beta = 0.0f;
        CHECK_CUBLAS(cublasLtMatmul(handle, desc, &alpha, pa, a, pb, b, &beta, pd, d, pd, d, &algo, workspace,
                                    workspace_bytes, nullptr));
    }
};

} // namespace

int main(int argc, char **argv) {
    int sequences = 64, seq_len = 512;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--sequences") == 0) sequences = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--seq-len") == 0) seq_len = std::atoi(argv[i + 1]);
    }
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    cublasLtHandle_t handle;
    CHECK_CUBLAS(cublasLtCreate(&handle));

    /* 1. bf16 GEMM peak. */
    const int n = 8192;
    uint16_t *a = random_bf16((size_t)n * n, 1), *b = random_bf16((size_t)n * n, 2);
    float *d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, (size_t)n * n * 4));
    Gemm peak(handle, n, n, n, 1, CUBLAS_OP_N);
    const double peak_ms = median_ms(3, 10, [&] { peak.run(a, b, d); });
    const double peak_tflops = 2.0 * n * n * (double)n / (peak_ms * 1e-3) / 1e12;
    std::printf("gemm_bf16_8192_ms %.4f\n", peak_ms);
    std::printf("gemm_bf16_peak_tflops %.1f\n", peak_tflops);
    CHECK_CUDA(cudaFree(a));
    CHECK_CUDA(cudaFree(b));
    CHECK_CUDA(cudaFree(d));

    /* 2. Attention vs the same-shape GEMMs. */
    const int heads = 16, kv_heads = 8, head_dim = 128;
    const int64_t tokens = (int64_t)sequences * seq_len;
    uint16_t *q = random_bf16((size_t)tokens * heads * head_dim, 3);
    uint16_t *k = random_bf16((size_t)tokens * kv_heads * head_dim, 4);
    uint16_t *v = random_bf16((size_t)tokens * kv_heads * head_dim, 5);
    uint16_t *out = nullptr;
    CHECK_CUDA(cudaMalloc(&out, (size_t)tokens * heads * head_dim * 2));
    std::vector<int32_t> offsets((size_t)sequences + 1);
    for (int s = 0; s <= sequences; s++) offsets[(size_t)s] = s * seq_len;
    int32_t *d_offsets = nullptr;
    CHECK_CUDA(cudaMalloc(&d_offsets, offsets.size() * 4));
    CHECK_CUDA(cudaMemcpy(d_offsets, offsets.data(), offsets.size() * 4, cudaMemcpyHostToDevice));
    llmbed_attention_params p;
    std::memset(&p, 0, sizeof p);
    p.n_seqs = sequences;
    p.seq_offsets = d_offsets;
    p.n_heads = heads;
    p.n_kv_heads = kv_heads;
    p.head_dim = head_dim;
    p.causal = 1;
    p.scale = 1.0f / std::sqrt((float)head_dim);
    /* separate q, k, v buffers; q arrives normalised and rotated (no q_rope) */
    const llmbed_cuda_qkv qkv = {q, k, v, (int64_t)heads * head_dim, (int64_t)kv_heads * head_dim};
    const double attention_ms = median_ms(3, 20, [&] {
        llmbed_error error;
        if (llmbed_cuda_attention(&p, seq_len, &qkv, nullptr, out, nullptr, &error) != LLMBED_OK) {
            std::fprintf(stderr, "llmbed_cuda_attention: %s\n", error.message);
            std::exit(1);
        }
    });
    const double causal_flops = 4.0 * seq_len * (double)seq_len * head_dim / 2.0 * heads * sequences;
    std::printf("attention_ms %.4f\n", attention_ms);
    std::printf("attention_tflops %.1f\n", causal_flops / (attention_ms * 1e-3) / 1e12);

    /* Same shape as GEMMs: per (sequence, head) S = Q K^T then O = P V, strided-batched. */
    const int batch = sequences * heads;
    uint16_t *gq = random_bf16((size_t)batch * seq_len * head_dim, 6);
    uint16_t *gk = random_bf16((size_t)batch * seq_len * head_dim, 7);
    uint16_t *gp = random_bf16((size_t)batch * seq_len * seq_len, 8);
    float *gs = nullptr, *go = nullptr;
    CHECK_CUDA(cudaMalloc(&gs, (size_t)batch * seq_len * seq_len * 4));
    CHECK_CUDA(cudaMalloc(&go, (size_t)batch * seq_len * head_dim * 4));
    Gemm scores(handle, seq_len, seq_len, head_dim, batch, CUBLAS_OP_T); /* [S x D]^T-stored Q times K^T */
    Gemm values(handle, head_dim, seq_len, seq_len, batch, CUBLAS_OP_N); /* V^T [D x S] times P^T [S x S] */
    const double gemm_ms = median_ms(3, 20, [&] {
        scores.run(gq, gk, gs);
        values.run(gk, gp, go);
    });
    const double full_flops = 4.0 * seq_len * (double)seq_len * head_dim * heads * sequences;
    std::printf("attention_gemms_ms %.4f\n", gemm_ms);
    std::printf("attention_gemms_tflops %.1f\n", full_flops / (gemm_ms * 1e-3) / 1e12);
    std::printf("attention_vs_gemms_time %.2f\n", attention_ms / gemm_ms);
    std::printf("shape sequences %d seq_len %d heads %d/%d head_dim %d causal\n", sequences, seq_len, heads, kv_heads,
                head_dim);
    return 0;
}
