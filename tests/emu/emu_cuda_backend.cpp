/* host/cuda (the real CUDA backend's host code, unchanged) compiled against
 * the emulated runtime and cuBLASLt of fake_cuda/ and the emulated kernels,
 * so the emu suite runs the backend end to end: weight upload, arena,
 * staging, GEMM plans, kernel sequence, pooling, download. Its constructor
 * is renamed llmbed_emu_cuda_backend_create so it cannot collide with the
 * nvcc-built backend that libllmbed carries when CUDA is on. */
#define llmbed_cuda_backend_create llmbed_emu_cuda_backend_create

extern "C" {
#include "backend.h"
#include "common/error.h"
}

#define llmbed_cuda_latent_upload llmbed_emu_cuda_latent_upload
#define llmbed_cuda_latent_free llmbed_emu_cuda_latent_free
#define llmbed_cuda_latent_scratch_bytes llmbed_emu_cuda_latent_scratch_bytes
#define llmbed_cuda_latent_run llmbed_emu_cuda_latent_run
#define llmbed_cuda_rope_init llmbed_emu_cuda_rope_init
#define llmbed_cuda_rope_free llmbed_emu_cuda_rope_free
#define llmbed_cuda_rope_prepare llmbed_emu_cuda_rope_prepare
#define llmbed_cuda_rope_reserve_extra llmbed_emu_cuda_rope_reserve_extra
#define llmbed_cuda_graphs_init llmbed_emu_cuda_graphs_init
#define llmbed_cuda_graphs_clear llmbed_emu_cuda_graphs_clear
#define llmbed_cuda_graphs_free llmbed_emu_cuda_graphs_free
#define llmbed_cuda_graphs_record llmbed_emu_cuda_graphs_record
#define llmbed_cuda_graphs_discard llmbed_emu_cuda_graphs_discard
#define llmbed_cuda_graphs_flush llmbed_emu_cuda_graphs_flush

#include "host/cuda/cuda_backend.c"
#include "host/cuda/cuda_gemm.c"
#include "host/cuda/cuda_latent.c"
#include "host/cuda/cuda_rope.c"
#include "host/cuda/cuda_graph.c"

/* The latent pooling block of host/cuda/cuda_latent.c on host buffers, for
 * the op harness: upload, one cuBLASLt handle, device copies, run, download. */
extern "C" llmbed_status llmbed_emu_latent_block(const struct llmbed_model *model, int n_tokens, const float *hidden,
                                                 float *out, int chunk_tokens, llmbed_error *error) {
    llmbed_cuda_latent latent;
    llmbed_gemm gemm;
    memset(&gemm, 0, sizeof gemm);
    void *scratch = nullptr;
    float *d_in = nullptr, *d_out = nullptr;
    const size_t bytes = (size_t)n_tokens * model->config.hidden_size * 4;
    llmbed_status st = llmbed_cuda_latent_upload(&latent, model, nullptr, error);
    if (st == LLMBED_OK) st = llmbed_gemm_init(&gemm, (size_t)1 << 20, error);
    if (st == LLMBED_OK && (cudaMalloc(&scratch, llmbed_cuda_latent_scratch_bytes(&latent, chunk_tokens)) != cudaSuccess ||
                            cudaMalloc((void **)&d_in, bytes + 4) != cudaSuccess ||
                            cudaMalloc((void **)&d_out, bytes + 4) != cudaSuccess))
        st = llmbed_fail(error, LLMBED_ERR_OUT_OF_MEMORY, "emu latent: out of memory");
    if (st == LLMBED_OK && cudaMemcpy(d_in, hidden, bytes, cudaMemcpyHostToDevice) != cudaSuccess)
        st = llmbed_fail(error, LLMBED_ERR_CUDA, "emu latent: upload failed");
    if (st == LLMBED_OK)
        st = llmbed_cuda_latent_run(&gemm, &latent, n_tokens, d_in, d_out, scratch, chunk_tokens, nullptr, error);
    if (st == LLMBED_OK && cudaMemcpy(out, d_out, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
        st = llmbed_fail(error, LLMBED_ERR_CUDA, "emu latent: download failed");
    if (scratch) cudaFree(scratch);
    if (d_in) cudaFree(d_in);
    if (d_out) cudaFree(d_out);
    llmbed_gemm_free(&gemm);
    llmbed_cuda_latent_free(&latent);
    return st;
}
