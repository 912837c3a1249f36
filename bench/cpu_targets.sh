#!/usr/bin/env bash
# Issue 24 item 4 targets, each in one `llmbed bench --compare transformers`
# run on the same machine: fp32 fixed 512, mixed lengths (length-sorted
# batches on both sides), bf16 (llmbed --weights bf16 vs transformers in
# bfloat16), on a random-weight Qwen3-0.6B-shaped model
# (bench/make_random_model.py; LAYERS decoder layers: per-layer cost is the
# same at any depth).
#   bash bench/cpu_targets.sh BUILD_DIR PYTHON_WITH_TORCH [LAYERS] [THREADS]
# OMP_WAIT_POLICY=passive for both sides: on a shared machine a spinning
# OpenMP barrier burns CPU time while its partner thread waits for a core,
# so the CPU-time ratio printed beside the wall-time one measures work.
# Writes bench/results/cpu_targets_<date>.txt.
set -euo pipefail
build=${1:?build dir}; python=${2:?python with torch + transformers}; layers=${3:-8}; threads=${4:-2}
model=/tmp/llmbed-qwen3-0.6b-${layers}l
[ -f "$model/config.json" ] || python3 bench/make_random_model.py --layers "$layers" --out "$model" >/dev/null
out=bench/results/cpu_targets_$(date +%F).txt
export OMP_WAIT_POLICY=passive
{
  echo "# llmbed bench --compare transformers: issue 24 targets"
  echo "command: bash bench/cpu_targets.sh $build $python $layers $threads"
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "peer: $("$python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
  for run in "fp32 fixed 512|--tokens 512 --sequences 16" "fp32 mixed 16..2048|--mixed --sequences 24" \
             "bf16 fixed 512|--tokens 512 --sequences 16 --weights bf16"; do
    echo; echo "== ${run%%|*}"
    # shellcheck disable=SC2086
    "$build/llmbed" bench --model "$model" ${run#*|} --threads "$threads" --compare transformers --python "$python"
  done
  echo; echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | grep -v "Loading weights" | tee "$out"
