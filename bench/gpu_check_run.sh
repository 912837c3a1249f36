#!/usr/bin/env bash
# llmbed's GPU check (issue 20 item 8): `run.sh` of the bundle that
# bench/gpu_check.sh --prepare writes. It needs nothing but the GPU machine's
# driver, CUDA (cuBLASLt), compute-sanitizer and python3 with torch,
# transformers and numpy (the device image), and finishes within 9 minutes:
# every step runs under its time budget, cut to what is left of the 540 s.
#
#   bash run.sh [--out DIR] [--dry-run]
#
# --dry-run lists the steps and budgets and exits. Results go to one folder:
# --out, else $OUT (the device tool's), else ./gpu-check-out:
#   summary.txt      one line per step (status, seconds, key figures), device and versions
#   gpu_results.txt  the benchmark figures with machine, date and commands (for bench/results/)
#   steps.log        every step's full output
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-check-out}
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; exit 1 ;;
    esac
done

# name|budget seconds|what it does
steps=(
    "unpack|15|unpack payload.tar.xz (binaries, libraries, test data, scripts)"
    "probe|15|GPU, driver, CUDA, cuBLASLt, compute-sanitizer, torch/transformers versions"
    "gpu-tests|90|ctest label gpu: llmbed_test_gpu (ops vs CPU reference incl. chunked/ThinK and latent pooling, end-to-end goldens)"
    "model|60|random Qwen3-0.6B-shaped model (28 layers, bf16) with numpy: scripts/make_random_model.py"
    "kernels|30|bf16 peak of a cuBLASLt GEMM 8192^3; attention TFLOP/s vs the same-shape GEMMs (llmbed_gpu_kernel_bench)"
    "bench-512|70|llmbed bench --device cuda, 128 x 512 tokens, vs transformers bf16 on the same GPU (tokens/s, % of peak, cosine)"
    "bench-mixed|70|the same on mixed lengths 16..2048 (256 sequences)"
    "ledger|20|llmbed bench --ledger (predicted per op and tokens/s) vs the measured tokens/s, when the CLI has --ledger"
    "memcheck|60|compute-sanitizer --tool memcheck over the op harness ([ops])"
    "racecheck|60|compute-sanitizer --tool racecheck over the op harness ([ops])"
    "synccheck|40|compute-sanitizer --tool synccheck over the op harness ([ops])"
)
deadline=540

if [ "$dry_run" = 1 ]; then
    total=0
    printf '%-12s %6s  %s\n' step budget what
    for s in "${steps[@]}"; do
        IFS='|' read -r name budget what <<<"$s"
        printf '%-12s %5ss  %s\n' "$name" "$budget" "$what"
        total=$((total + budget))
    done
    printf '%-12s %5ss  (the run stops starting steps at %ss; results in %s)\n' total "$total" "$deadline" "$out"
    exit 0
fi

export PATH="$PATH:/usr/local/cuda/bin"
mkdir -p "$out"
summary="$out/summary.txt" results="$out/gpu_results.txt" log="$out/steps.log"
: >"$summary"
: >"$log"
work=$(mktemp -d "${TMPDIR:-/tmp}/llmbed-gpu-check-XXXXXX")
trap 'rm -rf "$work"' EXIT
export work here
start=$(date +%s)
declare -A figure

note() { echo "$*" | tee -a "$summary"; }

budget_of() {
    local s name budget
    for s in "${steps[@]}"; do
        IFS='|' read -r name budget _ <<<"$s"
        [ "$name" = "$1" ] && echo "$budget" && return
    done
    echo 0
}

# run_step NAME COMMAND...: runs under min(its budget, time left), logs, records status.
run_step() {
    local name=$1 budget
    budget=$(budget_of "$1")
    shift
    local now left
    now=$(date +%s)
    left=$((deadline - (now - start)))
    if [ "$left" -le 5 ]; then
        note "$(printf '%-12s %-9s %5s  %s' "$name" skipped - 'no time left')"
        return 1
    fi
    [ "$budget" -gt "$left" ] && budget=$left
    echo "===== $name (budget ${budget}s): $*" >>"$log"
    local t0 rc
    t0=$(date +%s)
    if [ "$(type -t "$1")" = function ]; then # timeout runs programs: a function goes through bash
        timeout --kill-after=5 "$budget" bash -c "$(declare -f "$1"); \"\$@\"" _ "$@" >"$work/$name.out" 2>&1
    else
        timeout --kill-after=5 "$budget" "$@" >"$work/$name.out" 2>&1
    fi
    rc=$?
    cat "$work/$name.out" >>"$log"
    local status=ok
    [ "$rc" -ne 0 ] && status="failed($rc)"
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status=timeout
    figure[$name.status]=$status
    figure[$name.seconds]=$(($(date +%s) - t0))
    return "$rc"
}

value() { awk -v k="$1" '$1 == k {print $2}' "$work/$2.out" | tail -1; }

# ---------------------------------------------------------------- steps
unpack() { # without xz(1), Python's lzma reads the archive
    if command -v xz >/dev/null; then
        tar -C "$work" -xJf "$here/payload.tar.xz"
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/payload.tar.xz" "$work"
    fi
}
run_step unpack unpack
bin="$work/bin"
export bin

probe() {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
    nvcc --version | tail -1 || true
    compute-sanitizer --version | head -2 || true
    python3 -c 'import torch, transformers, numpy; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "numpy", numpy.__version__)' || true
    echo "libcuda: $(ldconfig -p | awk '/libcuda.so.1 /{print $NF; exit}')"
    echo "cuBLASLt: ${cublaslt_dir:-not found}"
}
# cuBLASLt for libllmbed_cuda.so: the loader's cache, the toolkit, or the Python wheels (nvidia-cublas).
cublaslt_dir=""
for d in $(ldconfig -p | awk '/libcublasLt.so.13 /{print $NF}' | xargs -r -n1 dirname) /usr/local/cuda/lib64 \
    /usr/local/cuda/targets/x86_64-linux/lib \
    $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null | xargs -r -I{} find {}/nvidia -maxdepth 3 -name 'libcublasLt.so.13*' -printf '%h\n' 2>/dev/null); do
    if [ -e "$d/libcublasLt.so.13" ]; then cublaslt_dir=$d; break; fi
done
export cublaslt_dir
[ -n "$cublaslt_dir" ] && export LD_LIBRARY_PATH="$cublaslt_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libcuda.so.1" ] && ! ldconfig -p | grep -q 'libcuda.so.1 ' && export LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"
done
run_step probe probe
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
export LLMBED_TEST_DATA_DIR="$work/data"

run_step gpu-tests "$bin/llmbed_test_gpu"
model="$work/qwen3-0.6b"
export model
run_step model python3 "$work/scripts/make_random_model.py" --layers 28 --out "$model"
run_step kernels "$bin/llmbed_gpu_kernel_bench"
bench() {
    "$bin/llmbed" bench --model "$model" --device cuda --batch-tokens 32768 --compare transformers \
        --compare-script "$work/scripts/compare_transformers.py" --python python3 --compare-batch 32 "$@"
}
run_step bench-512 bench --tokens 512 --sequences 128
run_step bench-mixed bench --mixed --sequences 256
case "$gpu_name" in *H200*) profile=h200 ;; *A100*) profile=a100 ;; *) profile=h100 ;; esac
if "$bin/llmbed" bench --help 2>&1 | grep -q -- '--ledger'; then
    run_step ledger "$bin/llmbed" bench --model "$model" --ledger --tokens 512 --batch-tokens 32768 --profile "$profile"
else
    note "$(printf '%-12s %-9s %5s  %s' ledger skipped - 'this llmbed has no bench --ledger yet')"
fi
for tool in memcheck racecheck synccheck; do
    run_step "$tool" compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin/llmbed_test_gpu" "[ops]"
done

# -------------------------------------------------------------- figures
peak=$(value gemm_bf16_peak_tflops kernels)
ours() { awk '/^throughput:/{print $2}' "$work/$1.out" 2>/dev/null | tail -1; }
theirs() { awk '/^transformers:/{print $4}' "$work/$1.out" 2>/dev/null | tail -1; }
line_of() { grep -m1 "^$2" "$work/$1.out" 2>/dev/null | sed "s/^$2 *//"; }
# Model FLOPs per token of the Qwen3-0.6B shape: 2 x the 28 layers' projection weights, plus causal
# attention over (S + 1) / 2 keys on average at S = 512 (QK^T and PV: 4 H D per key).
flops_512=$(python3 -c 'L,C,H,KV,D,I=28,1024,16,8,128,3072; lin=2*L*(C*(H+2*KV)*D + H*D*C + 2*C*I + I*C); att=L*4*H*D*(512+1)/2; print(lin+att)')
percent() { python3 -c "import sys; t,f,p=map(float,sys.argv[1:]); print(f'{100*t*f/(p*1e12):.1f}')" "$1" "$2" "$3" 2>/dev/null; }

{
    echo "llmbed GPU check, $(date -u +%Y-%m-%d) on ${gpu_name:-unknown GPU} ($(uname -n))"
    echo "bundle: $(sed -n 's/^commit: *//p' "$here/MANIFEST.txt" 2>/dev/null)"
    sed -n 's/^/  /p' "$work/probe.out" 2>/dev/null
    echo
    echo "ceilings (llmbed_gpu_kernel_bench):"
    echo "  cuBLASLt bf16 GEMM 8192^3: ${peak:-?} TFLOP/s"
    echo "  attention 64 x 512 tokens, 16/8 heads x 128, causal: $(value attention_tflops kernels) TFLOP/s" \
         "(useful FLOPs); same-shape GEMMs $(value attention_gemms_tflops kernels) TFLOP/s;" \
         "attention time / GEMMs time $(value attention_vs_gemms_time kernels)"
    echo
    echo "end to end, random Qwen3-0.6B-shaped model (28 layers, bf16), last-token pooling:"
    for b in bench-512 bench-mixed; do
        t=$(ours "$b") p=$(theirs "$b")
        echo "  $b: llmbed ${t:-?} tokens/s; transformers ${p:-?} tokens/s; $(line_of "$b" 'speedup vs transformers:');" \
             "max cosine deviation $(line_of "$b" 'max cosine deviation:')"
    done
    t=$(ours bench-512)
    [ -n "$t" ] && [ -n "$peak" ] && echo "  bench-512: $(percent "$t" "$flops_512" "$peak")% of the measured bf16 peak" \
        "($(python3 -c "print(round($flops_512/1e6))") MFLOP per token)"
    if [ -s "$work/ledger.out" ]; then
        echo
        echo "ledger (--profile $profile) vs measured:"
        sed 's/^/  /' "$work/ledger.out"
        echo "  measured tokens/s at 512: ${t:-?}"
    fi
    echo
    echo "commands: run.sh of the bundle; llmbed bench --model M --device cuda --batch-tokens 32768"
    echo "  --compare transformers --compare-batch 32 (--tokens 512 --sequences 128 | --mixed --sequences 256);"
    echo "  llmbed_gpu_kernel_bench; model: make_random_model.py --layers 28 (vocab 4096, seed 0)"
} >"$results"

{
    echo
    printf '%-12s %-9s %5s\n' step status seconds
    for s in "${steps[@]}"; do
        IFS='|' read -r name _ _ <<<"$s"
        [ -n "${figure[$name.status]:-}" ] && printf '%-12s %-9s %5s\n' "$name" "${figure[$name.status]}" "${figure[$name.seconds]}"
    done
    echo
    grep -h -m1 -E '^(All tests passed|test cases:)' "$work/gpu-tests.out" 2>/dev/null | sed 's/^/gpu-tests: /'
    for tool in memcheck racecheck synccheck; do
        grep -h -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY|SYNCCHECK SUMMARY' "$work/$tool.out" 2>/dev/null | sed "s/^/$tool: /"
    done
    echo
    cat "$results"
} >>"$summary"
cat "$summary"
echo "total $(($(date +%s) - start)) s; full logs: $log"
