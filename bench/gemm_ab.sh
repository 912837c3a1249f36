#!/usr/bin/env bash
# GEMM library A/B on this machine (bench/gemm_ab.c): llmbed's tiled kernel
# (fp32, bf16-held, Q8_0 and Q4_1 weights dequantised per panel) against
# Debian's OpenBLAS 0.3.21, BLIS 0.9.0 and oneDNN 2.6.3 (apt: libopenblas-dev
# libblis-dev libdnnl-dev) and PyPI's scipy-openblas32 and MKL (pip into
# VENV: scipy-openblas32 mkl-devel), all in one process, rounds interleaved.
#   bash bench/gemm_ab.sh BUILD_DIR VENV [gemm_ab options...]
# Writes bench/results/gemm_ab_<date>.txt.
set -euo pipefail
build=${1:?build dir}; venv=${2:?venv with scipy-openblas32 and mkl-devel}; shift 2
site=$(echo "$venv"/lib/python3*/site-packages)
out=bench/results/gemm_ab_$(date +%F).txt
args=(--lib "openblas-0.3.21 (Debian)=libopenblas.so.0:cblas_sgemm:openblas_set_num_threads"
      --lib "scipy-openblas32 $(ls "$site" | sed -n 's/^scipy_openblas32-\(.*\)\.dist-info$/\1/p')=$site/scipy_openblas32/lib/libscipy_openblas.so:scipy_cblas_sgemm:scipy_openblas_set_num_threads"
      --lib "BLIS 0.9.0 (Debian)=libblis.so.4:cblas_sgemm:bli_thread_set_num_threads"
      --lib "oneDNN 2.6.3 (Debian)=libdnnl.so.2:dnnl_sgemm"
      --lib "MKL $(ls "$site" | sed -n 's/^mkl-\(.*\)\.dist-info$/\1/p') (PyPI)=$venv/lib/libmkl_rt.so.3:cblas_sgemm:MKL_Set_Num_Threads")
{
  echo "# GEMM A/B: y[T, N] = x[T, K] W^T on the projection shapes, one process, rounds interleaved"
  echo "command: bash bench/gemm_ab.sh $build $venv $*"
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, flags:$(grep -o -w 'avx512f\|avx512_bf16\|amx_bf16\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' '); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "note: the machine is shared by other builds; GFLOP/s are by process CPU time (per thread), which time-slicing does not inflate; wall-time figures are noisier"
  MKL_INTERFACE_LAYER=LP64 MKL_THREADING_LAYER=SEQUENTIAL LD_LIBRARY_PATH=$venv/lib "$build/llmbed_gemm_ab" "$@" "${args[@]}"
  echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
