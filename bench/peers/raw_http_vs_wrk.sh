#!/bin/sh
# raw_http_vs_wrk.sh: short non-streaming requests, the raw HTTP ceiling: wrk against
# surge (and the Python peers) on the same target (docs/performance.md, "Side by side").
# Usage: [BUILD=dir] raw_http_vs_wrk.sh [--quick]
#
# Target: `surge sim --profile instant`; every tool POSTs the same non-streaming chat
# request (max_tokens 1) over CONC keep-alive connections, closed loop, on core 0.
. "$(dirname "$0")/lib.sh"
SECS=10 CONC=64
[ "$QUICK" = 1 ] && SECS=4
command -v wrk >/dev/null || { echo "wrk missing: run bench/peers/setup.sh" >&2; exit 2; }
echo "raw HTTP: non-streaming chat, max_tokens 1, $CONC connections, $SECS s. $(machine)"
echo
start_sim instant
MODEL=surge-sim-instant
BODY='{"model":"surge-sim-instant","max_tokens":1,"ignore_eos":true,"stream":false,"messages":[{"role":"user","content":"Benchmark prompt."}]}'
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
echo "| tool | req/s | errors | client CPU | target CPU | ratio to wrk |"
echo "|---|---|---|---|---|---|"
pct() { awk -v c="$1" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*c/s}'; }
tcpu() { awk -v a="$1" -v b="$2" -v hz="$HZ" -v s=$SECS 'BEGIN{printf "%.0f%%", 100*(b-a)/hz/s}'; }

t0=$(target_cpu_ticks)
timed wrk wrk -t1 -c$CONC -d${SECS}s -s "$WORK/post.lua" "$TARGET_URL/v1/chat/completions"
t1=$(target_cpu_ticks)
wrk_rps=$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk.out")
wrk_err=$(sed -n 's/.*Non-2xx or 3xx responses: *//p' "$WORK/wrk.out")
echo "| wrk (1 thread) | $(printf %.0f "$wrk_rps") | ${wrk_err:-0} | $(pct "$(cpu_s wrk)") | $(tcpu "$t0" "$t1") | 1.0x |"

cat >"$WORK/plan.yaml" <<YAML
name: raw-http
targets: [$TARGET_URL]
model: $MODEL
api: chat
stream: false
max_tokens: 1
ignore_eos: true
phases:
  - name: main
    kind: concurrency
    concurrency: $CONC
    duration: ${SECS}s
YAML
t0=$(target_cpu_ticks)
surge_run raw "$WORK/plan.yaml"
t1=$(target_cpu_ticks)
s_rps=$(surge_field raw "s['completed_rps']")
echo "| surge (1 engine thread) | $(printf %.0f "$s_rps") | $(surge_field raw "s['requests']['errors']") |" \
    "$(pct "$(cpu_s raw)") | $(tcpu "$t0" "$t1") | $(ratio "$s_rps" "$wrk_rps") |"

t0=$(target_cpu_ticks)
timed araw $PY "$PEERS/aiohttp_harness.py" --url "$TARGET_URL" --model $MODEL --no-stream \
    --concurrency $CONC --duration $SECS --max-tokens 1
t1=$(target_cpu_ticks)
a_rps=$(json_field araw rps)
echo "| aiohttp harness | $(printf %.0f "$a_rps") | $(json_field araw errors) | $(pct "$(cpu_s araw)") |" \
    "$(tcpu "$t0" "$t1") | $(ratio "$a_rps" "$wrk_rps") |"

t0=$(target_cpu_ticks)
locust_run lraw "$TARGET_URL" $CONC $SECS SURGE_PEER_MODEL=$MODEL SURGE_PEER_MAX_TOKENS=1 SURGE_PEER_STREAM=0
t1=$(target_cpu_ticks)
l_rps=$(locust_stat lraw POST "Requests/s")
echo "| Locust (HttpUser) | $(printf %.0f "$l_rps") | $(locust_stat lraw POST "Failure Count") | $(pct "$(cpu_s lraw)") |" \
    "$(tcpu "$t0" "$t1") | $(ratio "$l_rps" "$wrk_rps") |"
stop_target
