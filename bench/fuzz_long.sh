#!/usr/bin/env bash
# One long libFuzzer run of one target (issue 15: >= 10 million executions or
# >= 1 CPU-hour per parser target), at the lowest CPU priority, appending a
# summary line to bench/results/fuzz_<date>.txt.
#
# Usage: bash bench/fuzz_long.sh TARGET [RUNS] [MAX_WALL_SECONDS]
#   TARGET: a built tests/fuzz/fuzz_*.c target in build/fuzz (see tests/run_all.sh)
#   RUNS: stop after this many executions (default 10000000)
#   MAX_WALL_SECONDS: stop after this wall time (default 14400)
# The run stops at whichever limit comes first; the summary line records
# executions, CPU seconds (user + sys), corpus files/bytes and crashes.
set -uo pipefail
cd "$(dirname "$0")/.."
target=$1
runs=${2:-10000000}
max_seconds=${3:-14400}
binary=build/fuzz/tests/fuzz/$target
[ -x "$binary" ] || { echo "fuzz_long.sh: $binary is not built" >&2; exit 1; }
export LLMBED_FUZZ_TESTDATA=${LLMBED_FUZZ_TESTDATA:-$(pwd)/../shared/testdata/tokenizer}
corpus=build/fuzz/long-corpus-$target
artifacts=build/fuzz/long-artifacts-$target
mkdir -p "$corpus" "$artifacts" bench/results
seeds=tests/fuzz/seeds/$target
[ -d "$seeds" ] || seeds=""
log=build/fuzz/long-$target.log
TIMEFORMAT='%U %S'
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cpu=$( { time nice -n 19 "$binary" -runs="$runs" -max_total_time="$max_seconds" -rss_limit_mb=2048 \
          -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" $seeds >"$log" 2>&1; } 2>&1 )
status=$?
cpu_seconds=$(echo "$cpu" | awk '{printf "%.0f", $1 + $2}')
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
files=$(find "$corpus" -type f | wc -l)
bytes=$(du -sb "$corpus" | cut -f1)
crashes=$(find "$artifacts" -type f | wc -l)
line="$start $target: ${execs:-?} executions, ${cpu_seconds} CPU s (nice 19), corpus $files files / $bytes bytes, crashes $crashes, exit $status"
echo "$line" | tee -a "bench/results/fuzz_$(date -u +%Y-%m-%d).txt"
