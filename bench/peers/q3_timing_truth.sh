#!/bin/sh
# q3_timing_truth.sh: how far each tool's reported TTFT and ITL are from the truth
# (docs/performance.md, "Side by side", Q3). Usage: [BUILD=dir] q3_timing_truth.sh [--quick]
#
# Target: bench_engine_server, a C/libevent source with fixed timings (first token 50 ms
# after the request is read, then one every 20 ms, 10 tokens) that measures its own timer
# lateness. `surge sim` cannot be the fixed-timing target: its engine steps quantise a
# token's time to step boundaries, which is the point of the model, not a fixed delay.
# Closed loop with 100 and 1,000 streams; error = reported - truth (P50, P99 of each).
# The first WARMUP seconds (connection set-up) are left out by every tool: surge --warmup,
# the harness's --warmup, Locust's --reset-stats (stats restart once all users run).
#
# Two truths. "vs schedule": the fixed timings (TTFT 50 ms, ITL 20 ms); a target that is
# late (a thousand timers due in the same millisecond on one core) puts its lateness into
# every tool's error. "vs target": what the target actually did, from its own clock
# (bench_engine_server keeps every request's actual TTFT and every actual gap; its
# samples are reset WARMUP + 1.5 s after each tool starts, inside every tool's measured
# window): error = the tool's percentile - the target's actual one at the same
# percentile. The second is the client's own error: what it adds to what happened.
# The target polls (--poll 1: its core never sleeps), so its own lateness is as small as
# it gets, and it answers anything but /stats and /reset with 404 at once (surge's
# coordinator scrapes /metrics once per interval).
. "$(dirname "$0")/lib.sh"
SECS=10 WARMUP=2 TTFT=50 ITL=20 TOKENS=10
[ "$QUICK" = 1 ] && SECS=4
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "Q3: timing truth. $(machine)"
echo "target: first token ${TTFT} ms, then one every ${ITL} ms, $TOKENS tokens; closed loop, $SECS s"
echo
echo "| tool | streams | requests | TTFT err P50 ms | TTFT err P99 ms | ITL err P50 ms | ITL err P99 ms | target late P99 ms | TTFT err P50 / P99 vs target ms | ITL err P50 / P99 vs target ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
err() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "-" || v == "" || v == "None") print "-"; else printf "%+.2f", v - t }'; }
# STATS: the target's /stats, read once after each tool
stats() { STATS=$(curl -s "$TARGET_URL/stats"); }
stat() { echo "$STATS" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'] / 1000)" 2>/dev/null || echo "-"; }
late() { stat late_p99_us; }
# vs KIND P VALUE NOMINAL: VALUE - (NOMINAL + the target's actual deviation at P)
vs() { err "$3" "$(awk -v n="$4" -v d="$(stat "${1}_dev_p${2}_us")" 'BEGIN { if (d == "-") print "x"; else print n + d }')"; }
vs_cols() { # TTFT_P50 TTFT_P99 ITL_P50 ITL_P99
    echo "$(vs ttft 50 "$1" $TTFT) / $(vs ttft 99 "$2" $TTFT) | $(vs itl 50 "$3" $ITL) / $(vs itl 99 "$4" $ITL) |"
}
# reset_later: forget the target's samples once the tool's warm-up is over
reset_later() { (sleep "$(awk -v w=$WARMUP 'BEGIN { print w + 1.5 }')"; curl -s "$TARGET_URL/reset" >/dev/null) & }
for n in 100 1000; do
    start_fixed --ttft-ms $TTFT --itl-ms $ITL --tokens $TOKENS --poll 1
    reset_later
    surge_run "s$n" --target "$TARGET_URL" --model bench --concurrency $n --warmup "${WARMUP}s" --duration "${SECS}s"
    stats
    echo "| surge | $n | $(surge_field "s$n" "s['requests']['ok']") |" \
        "$(err "$(surge_field "s$n" "s['ttft_ms']['p50']")" $TTFT) | $(err "$(surge_field "s$n" "s['ttft_ms']['p99']")" $TTFT) |" \
        "$(err "$(surge_field "s$n" "s['itl_ms']['p50']")" $ITL) | $(err "$(surge_field "s$n" "s['itl_ms']['p99']")" $ITL) | $(late) |" \
        "$(vs_cols "$(surge_field "s$n" "s['ttft_ms']['p50']")" "$(surge_field "s$n" "s['ttft_ms']['p99']")" \
            "$(surge_field "s$n" "s['itl_ms']['p50']")" "$(surge_field "s$n" "s['itl_ms']['p99']")")"
    stop_target

    # The same number of streams from Poisson arrivals (rate = streams / E2E): a closed
    # loop against fixed timings keeps every stream in lockstep, so the target and the
    # client handle all N events in the same instant; arrivals spread them as users do.
    rate=$(awk -v n=$n -v t=$TTFT -v i=$ITL -v k=$TOKENS 'BEGIN { printf "%d", n * 1000 / (t + (k - 1) * i) }')
    start_fixed --ttft-ms $TTFT --itl-ms $ITL --tokens $TOKENS --poll 1
    reset_later
    surge_run "p$n" --target "$TARGET_URL" --model bench --rate "$rate" --warmup "${WARMUP}s" --duration "${SECS}s"
    stats
    echo "| surge (Poisson $rate/s) | ~$n | $(surge_field "p$n" "s['requests']['ok']") |" \
        "$(err "$(surge_field "p$n" "s['ttft_ms']['p50']")" $TTFT) | $(err "$(surge_field "p$n" "s['ttft_ms']['p99']")" $TTFT) |" \
        "$(err "$(surge_field "p$n" "s['itl_ms']['p50']")" $ITL) | $(err "$(surge_field "p$n" "s['itl_ms']['p99']")" $ITL) | $(late) |" \
        "$(vs_cols "$(surge_field "p$n" "s['ttft_ms']['p50']")" "$(surge_field "p$n" "s['ttft_ms']['p99']")" \
            "$(surge_field "p$n" "s['itl_ms']['p50']")" "$(surge_field "p$n" "s['itl_ms']['p99']")")"
    stop_target

    start_fixed --ttft-ms $TTFT --itl-ms $ITL --tokens $TOKENS --poll 1
    reset_later
    timed "a$n" $PY "$PEERS/aiohttp_harness.py" --url "$TARGET_URL" --model bench \
        --concurrency $n --warmup $WARMUP --duration $SECS
    stats
    echo "| aiohttp harness | $n | $(json_field "a$n" ok) |" \
        "$(err "$(json_field "a$n" ttft_p50_ms)" $TTFT) | $(err "$(json_field "a$n" ttft_p99_ms)" $TTFT) |" \
        "$(err "$(json_field "a$n" itl_p50_ms)" $ITL) | $(err "$(json_field "a$n" itl_p99_ms)" $ITL) | $(late) |" \
        "$(vs_cols "$(json_field "a$n" ttft_p50_ms)" "$(json_field "a$n" ttft_p99_ms)" \
            "$(json_field "a$n" itl_p50_ms)" "$(json_field "a$n" itl_p99_ms)")"
    stop_target

    start_fixed --ttft-ms $TTFT --itl-ms $ITL --tokens $TOKENS --poll 1
    reset_later
    LOCUST_ARGS=--reset-stats
    locust_run "l$n" "$TARGET_URL" $n $((WARMUP + SECS)) SURGE_PEER_MODEL=bench SURGE_PEER_ITL=1
    LOCUST_ARGS=
    stats
    echo "| Locust (HttpUser) | $n | $(locust_stat "l$n" POST "Request Count") |" \
        "$(err "$(locust_stat "l$n" TTFT 50%)" $TTFT) | $(err "$(locust_stat "l$n" TTFT 99%)" $TTFT) |" \
        "$(err "$(locust_stat "l$n" ITL 50%)" $ITL) | $(err "$(locust_stat "l$n" ITL 99%)" $ITL) | $(late) |" \
        "$(vs_cols "$(locust_stat "l$n" TTFT 50%)" "$(locust_stat "l$n" TTFT 99%)" \
            "$(locust_stat "l$n" ITL 50%)" "$(locust_stat "l$n" ITL 99%)")"
    stop_target
done
echo
echo "Locust's percentiles are its own rounded buckets (whole ms below 100 ms, 10 ms above)."
