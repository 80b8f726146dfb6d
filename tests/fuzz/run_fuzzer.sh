#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS_DIR SEEDS_DIR SECONDS LOG_DIR
# Runs one libFuzzer target for a bounded time from its seed corpus. Exit non-zero on
# any crash, leak, timeout or sanitizer report. Prints the execution count so the
# totals can be recorded in docs/security.md.
set -euo pipefail
fuzzer=$1 corpus=$2 seeds=$3 seconds=$4
mkdir -p "$corpus"
dirs=("$corpus")
[ -d "$seeds" ] && dirs+=("$seeds")
log=$(mktemp)
status=0
extra=()
# SURGE_FUZZ_MAX_LEN: a larger -max_len for targets whose property needs big inputs.
[ -n "${SURGE_FUZZ_MAX_LEN:-}" ] && extra+=("-max_len=$SURGE_FUZZ_MAX_LEN")
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${extra[@]}" -artifact_prefix="$corpus/" "${dirs[@]}" >"$log" 2>&1 || status=$?
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
echo "$(basename "$fuzzer"): ${execs:-?} executions in ${seconds}s, exit $status"
if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
fi
rm -f "$log"
exit "$status"
