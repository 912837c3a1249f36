#!/usr/bin/env bash
# The GPU check in one call (issue 20 item 8, SPEC §8). On a machine without
# a GPU (this one, CI):
#
#   bench/gpu_check.sh --prepare DIR [--build-dir BUILD] [--no-build] [--jobs N]
#
# builds llmbed with CUDA (sm_80 + sm_90a, tests on) in BUILD (default
# build/gpu-check; an existing CUDA-enabled build such as build/release is
# reused; --no-build takes its files as they are) and writes a
# self-contained bundle to DIR:
#
#   DIR/run.sh            the check to run on the GPU machine (run.sh --dry-run lists its steps)
#   DIR/payload.tar.xz    bin/  llmbed, llmbed_test_gpu, llmbed_gpu_kernel_bench (RUNPATH $ORIGIN/../lib)
#                         lib/  libllmbed_cuda.so and every shared library the binaries need that is not
#                               glibc or CUDA (cJSON, OpenBLAS + gfortran, PCRE2, utf8proc, simdjson,
#                               libgomp, libstdc++), so the GPU image needs none of Debian's
#                         data/ tests/data (tiny models and goldens of the GPU suite)
#                         scripts/ make_random_model.py, compare_transformers.py
#   DIR/MANIFEST.txt      commit, build, files and sizes
#
# The bundle must stay within 48 MiB (checked here). The device tool copies the
# repository's working tree to the GPU machine, so DIR should be an ignored
# folder of the repository named in the tool's `carry`, e.g.
#   bench/gpu_check.sh --prepare .gpu-check     (.gpu-check/ is in .gitignore)
#   device run: command "bash .gpu-check/run.sh", carry [".gpu-check"], timeout 600
# and the results come back from $OUT (summary.txt first).
set -euo pipefail

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "$0")/.." && pwd)
dir="" build="$root/build/gpu-check" jobs=${LLMBED_JOBS:-2} do_build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare) dir=${2:?--prepare needs a folder}; shift 2 ;;
        --build-dir) build=${2:?--build-dir needs a folder}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --no-build) do_build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
    esac
done
[ -n "$dir" ] || { usage >&2; exit 1; }
limit_bytes=$((48 * 1024 * 1024))
for tool in patchelf xz ldd; do
    command -v "$tool" >/dev/null || { echo "gpu_check.sh: '$tool' is missing (bash .ci/install-deps)" >&2; exit 1; }
done
export PATH="$PATH:/usr/local/cuda/bin"

# ---------------------------------------------------------------- build
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLMBED_CUDA=ON -DLLMBED_BUILD_TESTS=ON >/dev/null
fi
grep -q '^LLMBED_CUDA:STRING=\(ON\|AUTO\)' "$build/CMakeCache.txt" &&
    grep -q 'CMAKE_CUDA_COMPILER:' "$build/CMakeCache.txt" ||
    { echo "gpu_check.sh: $build is not a CUDA-enabled build" >&2; exit 1; }
if [ "$do_build" = 1 ]; then
    cmake --build "$build" -j "$jobs" --target llmbed_cli llmbed_cuda llmbed_test_gpu llmbed_gpu_kernel_bench
fi

# -------------------------------------------------------------- payload
stage=$(mktemp -d "${TMPDIR:-/tmp}/llmbed-gpu-check-XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/data" "$stage/scripts"
cp "$build/llmbed" "$build/tests/gpu/llmbed_test_gpu" "$build/llmbed_gpu_kernel_bench" "$stage/bin/"
cp "$build/libllmbed_cuda.so" "$stage/lib/"
cp -r "$root/tests/data/models" "$root/tests/data/goldens" "$stage/data/"
cp "$root/bench/make_random_model.py" "$root/bench/compare_transformers.py" "$stage/scripts/"

# Shared libraries any Linux has (glibc) or the GPU machine brings (its driver and CUDA).
system_library() {
    case "$1" in
        linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*) return 0 ;;
        libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*|libnvidia*) return 0 ;;
    esac
    return 1
}
for elf in "$stage"/bin/* "$stage/lib/libllmbed_cuda.so"; do
    # ldd lists the transitive closure: "name => /path (address)".
    ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
        system_library "$name" && continue
        [ -f "$stage/lib/$name" ] || cp -L "$path" "$stage/lib/$name"
    done
done
for elf in "$stage"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$elf"; done
for elf in "$stage"/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$elf"; done
strip --strip-unneeded "$stage"/bin/* "$stage"/lib/*.so* 2>/dev/null || true

# ---------------------------------------------------------------- bundle
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$stage" -cf - bin lib data scripts | xz -T2 -3 > "$dir/payload.tar.xz"
cp "$root/bench/gpu_check_run.sh" "$dir/run.sh"
chmod +x "$dir/run.sh"
{
    echo "llmbed GPU check bundle"
    echo "made:      $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
    echo "commit:    $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "build:     $build ($(grep '^CMAKE_CUDA_ARCHITECTURES' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2 || echo '80;90a'))"
    echo "nvcc:      $(nvcc --version 2>/dev/null | tail -1)"
    echo "files (unpacked bytes):"
    (cd "$stage" && find bin lib scripts -type f -printf '  %10s  %p\n' | sort -k2)
    echo "  $(du -sb "$stage/data" | cut -f1)  data/ (tests/data models + goldens)"
} > "$dir/MANIFEST.txt"
bytes=$(du -sb "$dir" | cut -f1)
unpacked=$(du -sb "$stage" | cut -f1)
echo "bundle $dir: $bytes bytes ($((bytes / 1024 / 1024)) MiB; unpacked $((unpacked / 1024 / 1024)) MiB), limit 48 MiB"
if [ "$bytes" -gt "$limit_bytes" ]; then
    echo "gpu_check.sh: the bundle is larger than 48 MiB" >&2
    exit 1
fi
