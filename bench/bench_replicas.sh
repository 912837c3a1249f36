#!/usr/bin/env bash
# CPU data parallel (issue 21 item 6): `llmbed bench --replicas R --threads T`
# for each "RxT" configuration given, alternating the configurations for
# ROUNDS rounds so that the machine's load hits them alike; prints every
# run's throughput and the median per configuration, with the header a
# bench/results file needs (command, date, machine).
#
#   bench/bench_replicas.sh MODEL ROUNDS "1x2 2x1" [llmbed bench options...]
set -euo pipefail
model=$1 rounds=$2 configs=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
llmbed=${LLMBED_CLI:-$root/build/release/llmbed}
echo "# llmbed CPU data parallel: --replicas R over --threads T (R engines, T/R threads each)"
echo "command: bench/bench_replicas.sh $model $rounds \"$configs\" $*"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) logical CPUs, shared VM"
echo "llmbed: $(git -C "$root" rev-parse --short HEAD)"
declare -A runs
for ((r = 1; r <= rounds; r++)); do
    for c in $configs; do
        replicas=${c%x*} threads=${c#*x}
        threads_total=$((replicas * threads))
        line=$("$llmbed" bench --model "$model" --device cpu --replicas "$replicas" --threads "$threads_total" "$@" \
            | grep '^throughput:')
        tokens=$(echo "$line" | awk '{print $2}')
        runs[$c]="${runs[$c]:-} $tokens"
        echo "round $r  ${replicas} replica(s) x ${threads} thread(s): $line"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $configs; do
    median=$(echo "${runs[$c]}" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    echo "median ${c/x/ replica(s) x } thread(s): $median tokens/s (runs:${runs[$c]})"
done
