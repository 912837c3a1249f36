#!/usr/bin/env bash
# Runs every test suite llmbed has, from a clean build:
#   0. tokenizer.json files converted from ../shared/testdata/tokenizer (gitignored)
#   1. release build (CUDA backend compiled when nvcc exists) + ctest labels cpu and emu
#   2. ASan + UBSan build of the CPU library + ctest labels cpu and emu
#   3. libFuzzer targets (clang), each run for a bounded time
#   4. the Python package: `pip install ./python` (CPU-only) into a fresh venv, then its pytest suite
# Usage: bash tests/run_all.sh   (from the repository root; see README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${LLMBED_JOBS:-$(nproc)}
fuzz_seconds=${LLMBED_FUZZ_SECONDS:-20}
export PATH="$PATH:/usr/local/cuda/bin"

echo "== tokenizer.json conversions of the shared GGUF vocabularies (tests/tokenizer/gguf_to_hf.py)"
python3 tests/tokenizer/gguf_to_hf.py >/dev/null

echo "== release build"
cmake -S "$root" -B build/release -DCMAKE_BUILD_TYPE=Release -DLLMBED_CUDA=AUTO >/dev/null
cmake --build build/release -j "$jobs"
(cd build/release && ctest -L 'cpu|emu' -j "$jobs" --output-on-failure --timeout 600)

echo "== ASan + UBSan build"
cmake -S "$root" -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMBED_CUDA=OFF -DLLMBED_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'cpu|emu' -j "$jobs" --output-on-failure --timeout 900)

echo "== fuzz targets (${fuzz_seconds}s each)"
export LLMBED_FUZZ_TESTDATA="$root/../shared/testdata/tokenizer"
CC=clang CXX=clang++ cmake -S "$root" -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMBED_CUDA=OFF \
    -DLLMBED_FUZZ=ON -DLLMBED_BUILD_TESTS=ON >/dev/null
cmake --build build/fuzz -j "$jobs" --target $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
for source in tests/fuzz/fuzz_*.c; do
    name=$(basename "$source" .c)
    corpus="build/fuzz/corpus-$name"
    mkdir -p "$corpus"
    seeds="tests/fuzz/seeds/$name"
    [ -d "$seeds" ] || seeds=""
    echo "-- $name"
    build/fuzz/tests/fuzz/"$name" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=0 \
        "$corpus" $seeds 2>&1 | tail -n 2
done
echo "== Python package: pip install ./python into a fresh venv, then pytest python/tests"
# --system-site-packages: pytest, numpy, pyarrow and ray come from
# .ci/install-deps; the venv is new and holds only the llmbed just built.
venv="$root/build/pyvenv"
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root/python" \
    -C cmake.define.LLMBED_CUDA=OFF -C build-dir="$root/build/python"
(cd "$root" && "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests)
echo "all suites passed"
