#!/bin/sh
# q1_rate_per_core.sh: the highest streaming request rate one client core sustains
# (docs/performance.md, "Side by side", Q1). Usage: [BUILD=dir] q1_rate_per_core.sh [--quick]
#
# Part 1, `surge sim --profile instant` (the target is never the model's bottleneck):
#   surge: open loop, constant arrivals, rates stepped up until schedule lag P99 >= 1 ms,
#          errors or achieved < 99% of offered (twice in a row); the last good rate is
#          the figure. A 2 s warm-up (connections opening) is left out of its summary.
#   Locust, aiohttp harness: closed loop with CONC users (enough to hide the target's
#          latency); their maximum throughput on the core, i.e. more than they sustain.
# Part 2, `surge sim --profile llama-3.1-8b-h100 --replicas 4`: every tool offered the same
#   rate; the figure is requests per client CPU-second.
. "$(dirname "$0")/lib.sh"
SECS=10 CONC=400 TOKENS=16
RATES="5000 10000 15000 20000 25000 30000 35000 40000"
REAL_RATE=200 REAL_TOKENS=64 REAL_SECS=20
if [ "$QUICK" = 1 ]; then SECS=3 REAL_SECS=6; RATES="5000 10000 20000 30000"; fi

echo "Q1: streaming requests/s per client core. $(machine)"
echo "streams: chat, max_tokens $TOKENS, ignore_eos, include_usage; $SECS s per row"
echo
start_sim instant
MODEL=surge-sim-instant
echo "| tool | load | req/s | errors | client CPU | req per CPU-s | lag P99 ms | TTFT P50 ms | target CPU |"
echo "|---|---|---|---|---|---|---|---|---|"
best_surge=0 tries=0
set -- $RATES
while [ $# -gt 0 ]; do
    r=$1
    t0=$(target_cpu_ticks)
    # --warmup: the first 2 s (connections opened) are left out of lag and TTFT
    surge_run "s$r" --target "$TARGET_URL" --model $MODEL --rate "$r" --warmup 2s \
        --duration "${SECS}s" --arrival constant --max-tokens $TOKENS --ignore-eos
    t1=$(target_cpu_ticks)
    rps=$(surge_field "s$r" "s['achieved_rps']")
    done_rps=$(surge_field "s$r" "s['completed_rps']")
    err=$(surge_field "s$r" "s['requests']['errors']")
    lag=$(surge_field "s$r" "s['lag_ms']['p99']")
    ttft=$(surge_field "s$r" "s['ttft_ms']['p50']")
    cpu=$(cpu_s "s$r")
    echo "| surge | open loop $r/s | $done_rps | $err | $(awk -v c="$cpu" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}') |" \
        "$(awk -v n="$done_rps" -v c="$cpu" -v s=$SECS 'BEGIN{printf "%.0f", n*s/c}') | $lag | $ttft |" \
        "$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*(b-a)/hz/s}') |"
    ok=$(awk -v l="$lag" -v e="$err" -v a="$done_rps" -v r="$r" \
        'BEGIN { print (l != "-" && l < 1 && e == 0 && a >= 0.99 * r) ? 1 : 0 }')
    if [ "$ok" != 1 ]; then
        # one retry: on a shared machine one neighbour's burst can spoil a row
        tries=$((tries + 1))
        [ $tries -le 1 ] && continue
        break
    fi
    tries=0
    best_surge=$done_rps
    shift
done

t0=$(target_cpu_ticks)
timed aio $PY "$PEERS/aiohttp_harness.py" --url "$TARGET_URL" --model $MODEL \
    --concurrency $CONC --duration $SECS --max-tokens $TOKENS
t1=$(target_cpu_ticks)
aio=$(json_field aio rps)
cpu=$(cpu_s aio)
echo "| aiohttp harness | closed loop $CONC | $aio | $(json_field aio errors) | $(awk -v c="$cpu" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}') |" \
    "$(awk -v n="$(json_field aio requests)" -v c="$cpu" 'BEGIN{printf "%.0f", n/c}') | - | $(json_field aio ttft_p50_ms) |" \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*(b-a)/hz/s}') |"

t0=$(target_cpu_ticks)
locust_run loc "$TARGET_URL" $CONC $SECS SURGE_PEER_MODEL=$MODEL SURGE_PEER_MAX_TOKENS=$TOKENS
t1=$(target_cpu_ticks)
loc=$(locust_stat loc POST "Requests/s")
cpu=$(cpu_s loc)
echo "| Locust (HttpUser) | closed loop $CONC | $(printf %.0f "$loc") | $(locust_stat loc POST "Failure Count") | $(awk -v c="$cpu" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}') |" \
    "$(awk -v n="$(locust_stat loc POST "Request Count")" -v c="$cpu" 'BEGIN{printf "%.0f", n/c}') | - | $(locust_stat loc TTFT 50%) |" \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*(b-a)/hz/s}') |"
stop_target
best_peer=$(awk -v a="$aio" -v l="$loc" 'BEGIN { print (a + 0 > l + 0) ? a : l }')
echo
echo "surge sustained (lag P99 < 1 ms, 0 errors): $best_surge req/s; best peer's maximum: $best_peer req/s;" \
    "ratio $(ratio "$best_surge" "$best_peer") (aim >= 10x)"

echo
echo "Part 2: llama-3.1-8b-h100 x4 replicas, $REAL_RATE req/s offered, max_tokens $REAL_TOKENS, $REAL_SECS s"
start_sim llama-3.1-8b-h100 --replicas 4
MODEL=meta-llama/Llama-3.1-8B-Instruct
echo "| tool | req/s done | errors | TTFT P50 ms | client CPU | req per CPU-s | ratio surge / tool |"
echo "|---|---|---|---|---|---|---|"
surge_run real --target "$TARGET_URL" --model $MODEL --rate $REAL_RATE --duration "${REAL_SECS}s" \
    --arrival constant --max-tokens $REAL_TOKENS --ignore-eos
n=$(surge_field real "s['requests']['ok']")
s_eff=$(awk -v n="$n" -v c="$(cpu_s real)" 'BEGIN{printf "%.0f", n/c}')
echo "| surge | $(surge_field real "s['completed_rps']") | $(surge_field real "s['requests']['errors']") |" \
    "$(surge_field real "round(s['ttft_ms']['p50'],1)") | $(cpu_s real) s | $s_eff | 1.0x |"
timed areal $PY "$PEERS/aiohttp_harness.py" --url "$TARGET_URL" --model $MODEL \
    --rate $REAL_RATE --duration $REAL_SECS --max-tokens $REAL_TOKENS
a_eff=$(awk -v n="$(json_field areal ok)" -v c="$(cpu_s areal)" 'BEGIN{printf "%.0f", n/c}')
echo "| aiohttp harness (open loop) | $(json_field areal rps) | $(json_field areal errors) |" \
    "$(json_field areal ttft_p50_ms) | $(cpu_s areal) s | $a_eff | $(ratio "$s_eff" "$a_eff") |"
users=$((REAL_RATE * 4))
locust_run lreal "$TARGET_URL" $users $REAL_SECS SURGE_PEER_MODEL=$MODEL \
    SURGE_PEER_MAX_TOKENS=$REAL_TOKENS SURGE_PEER_USER_RATE=0.25
l_eff=$(awk -v n="$(locust_stat lreal POST "Request Count")" -v c="$(cpu_s lreal)" 'BEGIN{printf "%.0f", n/c}')
echo "| Locust ($users users x 0.25/s) | $(printf %.0f "$(locust_stat lreal POST "Requests/s")") |" \
    "$(locust_stat lreal POST "Failure Count") | $(locust_stat lreal TTFT 50%) | $(cpu_s lreal) s | $l_eff |" \
    "$(ratio "$s_eff" "$l_eff") |"
stop_target
