#!/bin/sh
# q2_streams_memory.sh: most concurrent open streams per client process, and memory per
# stream (docs/performance.md, "Side by side", Q2). Usage: [BUILD=dir] q2_streams_memory.sh [--quick]
#
# Target: bench_engine_server with long, slow streams (first token after 100 ms, then one
# every 250 ms, 60 tokens: 15 s a stream) so N streams stay open through the run and the
# target does little work (N x 4 events/s). `surge sim` would need N/256 replicas of a
# realistic profile and a core per ~20,000 events/s to hold the same streams.
# Each tool asks for N streams at once (closed loop, N users); the target counts the most
# it saw open at the same time. Memory per stream = (peak RSS at N - peak RSS at 10) / N.
. "$(dirname "$0")/lib.sh"
SECS=12
COUNTS="1000 10000"
[ "$QUICK" = 1 ] && SECS=6 COUNTS="1000 5000"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "Q2: streams per client process and memory per stream. $(machine)"
echo "target: 60 tokens over 15 s a stream; $SECS s a row; open-file limit $(ulimit -n)"
echo
echo "| tool | streams asked | most open at once | errors | peak RSS MiB | KiB per stream |"
echo "|---|---|---|---|---|---|"
open_max() { curl -s "$TARGET_URL/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_open"])'; }
row() { # tool n name errors
    base=$(rss_kib "$3_10")
    rss=$(rss_kib "$3_$2")
    echo "| $1 | $2 | $4 | $5 | $(awk -v r="$rss" 'BEGIN{printf "%.1f", r/1024}') |" \
        "$(awk -v r="$rss" -v b="$base" -v n="$2" -v m="$4" 'BEGIN{ if (m + 0 > 0) printf "%.1f", (r-b)/m; else print "-" }') |"
}
for n in 10 $COUNTS; do
    start_fixed --ttft-ms 100 --itl-ms 250 --tokens 60
    surge_run "s_$n" --target "$TARGET_URL" --model bench --concurrency $n --duration "${SECS}s" --drain 1s
    m=$(open_max)
    stop_target
    [ $n = 10 ] || row surge $n s "$m" "$(surge_field "s_$n" "s['requests']['errors']")"

    start_fixed --ttft-ms 100 --itl-ms 250 --tokens 60
    timed "a_$n" timeout $((SECS + 30)) $PY "$PEERS/aiohttp_harness.py" --url "$TARGET_URL" \
        --model bench --concurrency $n --duration $SECS
    m=$(open_max)
    stop_target
    [ $n = 10 ] || row "aiohttp harness" $n a "$m" "$(json_field "a_$n" errors)"

    start_fixed --ttft-ms 100 --itl-ms 250 --tokens 60
    locust_run "l_$n" "$TARGET_URL" $n $SECS SURGE_PEER_MODEL=bench
    m=$(open_max)
    stop_target
    f=$(locust_stat "l_$n" POST "Failure Count")
    [ $n = 10 ] || row "Locust (HttpUser)" $n l "$m" "${f:-0 (none ended)}"
done
echo
echo "surge's figure is the worker process (the coordinator runs apart, as on a fleet);"
echo "the peers' is their one process. Peak RSS is the largest process's (getrusage)."
