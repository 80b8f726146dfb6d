#!/bin/sh
# bench_engine_cost.sh: what one streamed request costs the engine thread, counted in
# instructions (valgrind --tool=callgrind, only inside the engine thread's thread_main)
# and in syscalls (strace -c -f, the whole process), against bench_engine_server.
# Counts are repeatable on a shared machine, unlike wall-clock. Never pass/fail.
#   bench/bench_engine_cost.sh [BUILD_DIR] [RATE] [SECONDS]   default: build 100 10
# Two sources: "instant" (10 tokens written at once) and "paced" (first token after
# 2 ms, then one every 1 ms: one read, and one write callback, per event).
set -eu
build=${1:-build}
rate=${2:-100}
seconds=${3:-10}
bench=$build/bench
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

start_server() {
    "$bench/bench_engine_server" "$@" >"$tmp/server.out" 2>&1 &
    pids="$pids $!"
    url=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        url=$(sed -n 's/^listening on //p' "$tmp/server.out")
        [ -n "$url" ] && break
        sleep 0.2
    done
}

printf '%-8s %9s %9s %12s %12s %12s %12s\n' source requests events instr/req instr/event \
    syscalls/req epoll_ctl/req
for source in instant paced; do
    if [ "$source" = instant ]; then
        start_server --ttft-ms 0 --itl-ms 0 --tokens 10
    else
        start_server --ttft-ms 2 --itl-ms 1 --tokens 10
    fi
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect=thread_main \
        "$bench/bench_engine_cost" "$url" "$rate" "$seconds" >"$tmp/cg.txt" 2>"$tmp/cg.err"
    ir=$(sed -n 's/^totals: *//p;s/^summary: *//p' "$tmp/cg.out" | head -1 | awk '{print $1}')
    set -- $(cat "$tmp/cg.txt")
    requests=$2 events=$8
    strace -c -f -o "$tmp/strace.txt" "$bench/bench_engine_cost" "$url" "$rate" "$seconds" \
        >"$tmp/st.txt"
    set -- $(cat "$tmp/st.txt")
    st_requests=$2
    calls=$(awk '$NF == "total" {print $(NF-2)}' "$tmp/strace.txt")
    ctl=$(awk '$NF == "epoll_ctl" {print $4}' "$tmp/strace.txt")
    printf '%-8s %9s %9s %12.0f %12.0f %12.1f %12.2f\n' "$source" "$requests" "$events" \
        "$(echo "$ir / $requests" | bc -l)" "$(echo "$ir / $events" | bc -l)" \
        "$(echo "$calls / $st_requests" | bc -l)" "$(echo "${ctl:-0} / $st_requests" | bc -l)"
    echo "# $source: syscalls of the whole process (strace -c -f), per request:"
    awk -v n="$st_requests" 'NR > 2 && $NF != "total" && $0 !~ /^-/ {
        c = (NF == 6) ? $4 : $4; printf "#   %-20s %8.2f\n", $NF, c / n }' "$tmp/strace.txt" |
        sort -k3 -n -r | head -12
    kill $pids 2>/dev/null || true
    pids=""
done
