#!/usr/bin/env bash
# bench_sim.sh: streams/s and tokens/s one `surge sim` core serves, per profile.
# The simulator is pinned to core 0 and the libcurl client (bench_sim_client) to core 1;
# "sim CPU" is the simulator's share of its core over the run (from /proc), so a row with
# CPU well below 100% was limited by the modelled engine, not by the simulator.
# Never pass/fail. usage: bench/bench_sim.sh [BUILD_DIR] [SECONDS_PER_ROW]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECONDS_PER_ROW=${2:-10}
SURGE=$BUILD/surge
CLIENT=$BUILD/bench/bench_sim_client
[ -x "$SURGE" ] && [ -x "$CLIENT" ] || { echo "build first: $SURGE, $CLIENT" >&2; exit 2; }
PIN_SIM="" PIN_CLIENT=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SIM="taskset -c 0" PIN_CLIENT="taskset -c 1"
fi
TICKS=$(getconf CLK_TCK)

# profile concurrency max_tokens
ROWS=(
    "instant 64 256"
    "instant 256 256"
    "tiny 16 32"
    "llama-3.1-8b-h100 256 256"
    "llama-3.1-70b-fp8-h100x4 256 256"
)
echo "surge sim benchmark: $(nproc) cores, $SECONDS_PER_ROW s per row, $(uname -r)"
echo "| profile                    | conc. | toks  | streams/s  | tokens/s     | failed | sim CPU |"
echo "|----------------------------|-------|-------|------------|--------------|--------|---------|"
for row in "${ROWS[@]}"; do
    read -r profile conc toks <<<"$row"
    out=$(mktemp)
    $PIN_SIM "$SURGE" sim --listen 127.0.0.1:0 --profile "$profile" --log-level warn >"$out" &
    sim_pid=$!
    for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
    port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out")
    cpu0=$(awk '{print $14 + $15}' "/proc/$sim_pid/stat")
    t0=$(date +%s.%N)
    line=$($PIN_CLIENT "$CLIENT" "http://127.0.0.1:$port" "$conc" "$toks" "$SECONDS_PER_ROW" "$profile")
    t1=$(date +%s.%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$sim_pid/stat")
    kill -TERM "$sim_pid"
    wait "$sim_pid" || true
    rm -f "$out"
    cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$TICKS" \
        'BEGIN { printf "%5.0f%%", 100 * (b - a) / hz / (t1 - t0) }')
    echo "$line $cpu |"
done
