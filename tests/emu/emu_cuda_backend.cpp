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

#include "host/cuda/cuda_backend.c"
#include "host/cuda/cuda_gemm.c"
