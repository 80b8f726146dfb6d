# lib.sh: shared by bench/peers/q*.sh (sourced, never run). The target runs pinned to
# core 1, every client to core 0 (taskset), one after the other; each figure is from the
# same run as the figures it is compared with. Never pass/fail.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=$ROOT/bench/peers
BUILD=${BUILD:-$ROOT/build}
SURGE=$BUILD/surge
ENGINE_SERVER=$BUILD/bench/bench_engine_server
PY=/usr/bin/python3 # Debian's: has locust and aiohttp (bench/peers/setup.sh)
QUICK=0
for a in "$@"; do [ "$a" = "--quick" ] && QUICK=1; done
PIN_CLIENT="" PIN_TARGET=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_CLIENT="taskset -c 0" PIN_TARGET="taskset -c 1"
fi
[ -x "$SURGE" ] && [ -x "$ENGINE_SERVER" ] || {
    echo "build first (BUILD=$BUILD): cmake -S . -B build && cmake --build build -j2" >&2
    exit 2
}
$PY -c 'import locust, aiohttp' 2>/dev/null || {
    echo "peers missing: run bench/peers/setup.sh" >&2
    exit 2
}
WORK=$(mktemp -d /tmp/surge-peers.XXXXXX)
TARGET_PID=""
cleanup() {
    [ -n "$TARGET_PID" ] && kill "$TARGET_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
HZ=$(getconf CLK_TCK)

# machine: one line for the tables' header
machine() {
    echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), Linux $(uname -r)," \
        "client pinned: ${PIN_CLIENT:-no}, target pinned: ${PIN_TARGET:-no}"
}

# wait_listening FILE: prints the URL from a "listening on URL" line
wait_listening() {
    for _ in $(seq 100); do
        u=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$1" | head -1)
        [ -n "$u" ] && { echo "$u"; return 0; }
        sleep 0.1
    done
    echo "target did not start: $(cat "$1")" >&2
    return 1
}

# start_sim PROFILE [ARGS...]: surge sim on the target core; sets TARGET_URL, TARGET_PID
start_sim() {
    profile=$1
    shift
    $PIN_TARGET "$SURGE" sim --listen 127.0.0.1:0 --profile "$profile" --log-level warn "$@" \
        >"$WORK/target.out" 2>&1 &
    TARGET_PID=$!
    TARGET_URL=$(wait_listening "$WORK/target.out")
}

# start_fixed ARGS...: bench_engine_server (fixed TTFT/ITL) on the target core
start_fixed() {
    $PIN_TARGET "$ENGINE_SERVER" "$@" >"$WORK/target.out" 2>&1 &
    TARGET_PID=$!
    TARGET_URL=$(wait_listening "$WORK/target.out")
}

stop_target() {
    kill "$TARGET_PID" 2>/dev/null || true
    wait "$TARGET_PID" 2>/dev/null || true
    TARGET_PID=""
}

# target_count: "COUNT SECONDS": requests the target has answered so far (bench_engine_server's
# /stats, or the sim's vllm:request_success_total without aborts) and when it said so
target_count() {
    t=$(date +%s.%N)
    n=$(curl -s --max-time 2 "$TARGET_URL/stats" 2>/dev/null |
        sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')
    [ -n "$n" ] || n=$(curl -s --max-time 2 "$TARGET_URL/metrics" |
        awk '/^vllm:request_success_total/ && !/abort/ { s += $NF } END { print s + 0 }')
    echo "$n $t"
}
# counted_rate FILE0 FILE1: requests/s between two target_count lines
counted_rate() {
    awk 'NR == FNR { n0 = $1; t0 = $2; next } { if ($2 > t0) printf "%.1f", ($1 - n0) / ($2 - t0); else print "-" }' "$1" "$2"
}

# target_cpu_ticks: CPU ticks the target used so far
target_cpu_ticks() { awk '{print $14 + $15}' "/proc/$TARGET_PID/stat"; }

# timed NAME CMD...: runs CMD on the client core; its CPU seconds (with children), wall
# seconds and peak RSS (KiB, largest process) go to $WORK/NAME.time; stdout to NAME.out
timed() {
    name=$1
    shift
    /usr/bin/time -f "%U %S %e %M" -o "$WORK/$name.time" $PIN_CLIENT "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || true
}
cpu_s() { awk '{printf "%.2f", $1 + $2}' "$WORK/$1.time"; }
rss_kib() { awk '{print $4}' "$WORK/$1.time"; }

# surge_run NAME ARGS...: `surge run` (1 local worker, 1 engine thread) on the client core
surge_run() {
    name=$1
    shift
    timed "$name" "$SURGE" run --workers 1 --threads 1 --quiet --drain 5s \
        --out "$WORK/$name.results" "$@"
}

# surge_field NAME EXPR: a value from the run's results.json summary (python expression
# over s = summary), e.g. "s['lag_ms']['p99']"
surge_field() {
    python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print($2)" \
        "$WORK/$1.results/results.json" 2>/dev/null || echo "-"
}

# json_field NAME KEY: a value from a peer's one-line JSON (aiohttp_harness.py)
json_field() {
    python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])" \
        "$WORK/$1.out" "$2" 2>/dev/null || echo "-"
}

# locust NAME URL USERS SECONDS [ENV=VALUE...]: one Locust process on the client core
locust_run() {
    name=$1 url=$2 users=$3 secs=$4
    shift 4
    ( cd "$WORK" && timed "$name" env "$@" $PY -m locust -f "$PEERS/locustfile.py" \
        --headless -H "$url" -u "$users" -r "$users" -t "${secs}s" --stop-timeout 2 \
        --csv "$WORK/$name" --only-summary ${LOCUST_ARGS:-} )
}

# locust_stat NAME TYPE COLUMN: a column of Locust's stats CSV for request type TYPE
locust_stat() {
    python3 - "$WORK/$1_stats.csv" "$2" "$3" <<'PYEOF' 2>/dev/null || echo "-"
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    if row["Type"] == sys.argv[2]:
        print(row[sys.argv[3]])
PYEOF
}

# ratio A B: A / B with one decimal, "-" when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1fx", a / b; else print "-" }'; }
