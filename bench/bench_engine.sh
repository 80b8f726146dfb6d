#!/bin/sh
# bench_engine.sh: the engine benchmarks (docs/performance.md), against
# bench_engine_server (a C/libevent SSE source with precise fixed timings).
#   bench/bench_engine.sh [BUILD_DIR]        default: build
# Prints tables; never pass/fail. Run on a quiet machine: the server shares it.
set -eu
build=${1:-build}
bench=$build/bench
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# start_server ARGS...: starts a server, sets $url
start_server() {
    out=$(mktemp)
    "$bench/bench_engine_server" "$@" >"$out" 2>&1 &
    pids="$pids $!"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        url=$(sed -n 's/^listening on //p' "$out")
        [ -n "$url" ] && break
        sleep 0.2
    done
    rm -f "$out"
}
stats() { curl -s "$url/stats"; }

echo "== streaming rate one engine thread sustains (instant source, 10 tokens/request)"
echo "   sleeping between events, then polling when busy (the default, worker/idle.h)"
start_server --ttft-ms 0 --itl-ms 0 --tokens 10
"$bench/bench_engine" rate "$url" 3 sleep
"$bench/bench_engine" rate "$url" 3 auto

echo "== client overhead on TTFT (server: first token 50 ms, then 1 every 20 ms, 10 tokens)"
start_server --ttft-ms 50 --itl-ms 20 --tokens 10
"$bench/bench_engine" overhead "$url" 100 50 20 5
echo "server timer lateness: $(stats)"
start_server --ttft-ms 50 --itl-ms 20 --tokens 10
"$bench/bench_engine" overhead "$url" 1000 50 20 5
echo "server timer lateness: $(stats)"

echo "== memory per open stream and streams held (server: 1 token every 500 ms, 60 tokens)"
for n in 1000 10000; do
    start_server --ttft-ms 100 --itl-ms 500 --tokens 60
    "$bench/bench_engine" streams "$url" "$n" 10
    echo "server: $(stats)"
done
