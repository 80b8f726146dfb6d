#!/bin/sh
# q4_distributed.sh: the same target rate from 1, 2 and 4 workers; how close the fleet
# comes to the rate, and what the coordinator (or Locust's master) costs
# (docs/performance.md, "Side by side", Q4). Usage: [BUILD=dir] q4_distributed.sh [--quick]
#
# Target: `surge sim --profile instant` on core 1. The whole client side (coordinator or
# master, and every worker) shares core 0, so more workers means the same CPU budget cut
# in more processes: this measures the cost of distribution, not more hardware.
# surge: `surge coordinator --rate R` + N `surge worker` (1 engine thread each).
# Locust: `--master --expect-workers N` + N `--worker`, R users at 1 request/s each
# (constant_throughput), the usual way to ask Locust for a rate.
. "$(dirname "$0")/lib.sh"
SECS=20 RATE=1000 TOKENS=16
[ "$QUICK" = 1 ] && SECS=6
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "Q4: $RATE streaming req/s from 1, 2, 4 workers on one core. $(machine)"
echo "$SECS s a row; max_tokens $TOKENS"
echo
start_sim instant
MODEL=surge-sim-instant
echo "| tool | workers | offered/s | achieved/s | accuracy | errors | coordinator/master CPU | all client CPU |"
echo "|---|---|---|---|---|---|---|---|"
for n in 1 2 4; do
    port=$(free_port)
    # Constant arrivals: accuracy is then the engine's, not a Poisson sample's.
    timed "c$n" "$SURGE" coordinator --bind "tcp://127.0.0.1:$port" --workers $n --quiet \
        --drain 5s --out "$WORK/c$n.results" --target "$TARGET_URL" --model $MODEL \
        --rate $RATE --arrival constant --duration "${SECS}s" --max-tokens $TOKENS --ignore-eos &
    cpid=$!
    wpids=""
    for i in $(seq $n); do
        timed "c${n}w$i" "$SURGE" worker --connect "tcp://127.0.0.1:$port" --threads 1 --id "w$i" &
        wpids="$wpids $!"
    done
    wait $cpid
    for p in $wpids; do wait "$p"; done
    ccpu=$(cpu_s "c$n")
    all=$ccpu
    for i in $(seq $n); do all=$(awk -v a="$all" -v b="$(cpu_s "c${n}w$i")" 'BEGIN{printf "%.2f", a + b}'); done
    ach=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print(s['completed_rps'])" "$WORK/c$n.results/results.json" 2>/dev/null || echo -)
    err=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print(s['requests']['errors'])" "$WORK/c$n.results/results.json" 2>/dev/null || echo -)
    echo "| surge | $n | $RATE | $ach | $(awk -v a="$ach" -v r=$RATE 'BEGIN{ if (a+0>0) printf "%.2f%%", 100*a/r; else print "-" }') | $err |" \
        "$(awk -v c="$ccpu" -v s=$SECS 'BEGIN{printf "%.1f%%", 100*c/s}') | $(awk -v c="$all" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}') |"
done
for n in 1 2 4; do
    port=$(free_port)
    ( cd "$WORK" && timed "m$n" env SURGE_PEER_MODEL=$MODEL SURGE_PEER_MAX_TOKENS=$TOKENS \
        SURGE_PEER_USER_RATE=1 $PY -m locust -f "$PEERS/locustfile.py" --master --headless \
        --master-bind-host 127.0.0.1 --master-bind-port "$port" --expect-workers $n \
        -H "$TARGET_URL" -u $RATE -r $RATE -t "${SECS}s" --stop-timeout 2 \
        --csv "$WORK/m$n" --only-summary ) &
    mpid=$!
    wpids=""
    for i in $(seq $n); do
        ( cd "$WORK" && timed "m${n}w$i" env SURGE_PEER_MODEL=$MODEL SURGE_PEER_MAX_TOKENS=$TOKENS \
            SURGE_PEER_USER_RATE=1 $PY -m locust -f "$PEERS/locustfile.py" --worker \
            --master-host 127.0.0.1 --master-port "$port" ) &
        wpids="$wpids $!"
    done
    wait $mpid
    for p in $wpids; do wait "$p"; done
    mcpu=$(cpu_s "m$n")
    all=$mcpu
    for i in $(seq $n); do all=$(awk -v a="$all" -v b="$(cpu_s "m${n}w$i")" 'BEGIN{printf "%.2f", a + b}'); done
    count=$(locust_stat "m$n" POST "Request Count")
    ach=$(awk -v c="$count" -v s=$SECS 'BEGIN{ if (c+0>0) printf "%.0f", c/s; else print "-" }')
    echo "| Locust | $n | $RATE | $ach | $(awk -v a="$ach" -v r=$RATE 'BEGIN{ if (a+0>0) printf "%.2f%%", 100*a/r; else print "-" }') |" \
        "$(locust_stat "m$n" POST "Failure Count") | $(awk -v c="$mcpu" -v s=$SECS 'BEGIN{printf "%.1f%%", 100*c/s}') |" \
        "$(awk -v c="$all" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}') |"
done
stop_target
echo
echo "Locust's achieved rate is its request count over the run time (users ramp at $RATE/s)."
