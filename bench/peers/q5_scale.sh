#!/bin/sh
# q5_scale.sh: on paper, from the per-core figures Q1 and Q2 measured, how many client
# cores a 64-GPU campaign needs (docs/performance.md, "Side by side", Q5; the same
# formula as docs/kubernetes.md's sizing). Defaults are this tree's measured figures;
# pass new ones after a run:  q5_scale.sh [R S T]  (campaign: req/s, streams, tokens/s)
# and per tool in the environment, e.g. SURGE_RPS=... AIO_RPS=... LOCUST_RPS=...
#   *_RPS      streaming req/s one core sustained (Q1, instant target, 16 tokens)
#   *_STREAMS  streams one process held (Q2)
# Events/s per core = *_RPS x EVENTS_PER_REQ (16 tokens + role + usage + [DONE]), unless
# *_EVENTS gives it: against the instant target all of a stream's events arrive in one
# read, which flatters every tool; Q1 part 2 (a realistic target, one read per token)
# gives steady requests per CPU-second x 66 events (64 tokens + role + usage).
set -eu
R=${1:-400} S=${2:-8000} T=${3:-142000}
EVENTS_PER_REQ=${EVENTS_PER_REQ:-19}
H=${HEADROOM:-1.5}
python3 - "$R" "$S" "$T" "$EVENTS_PER_REQ" "$H" <<PYEOF
import math, sys
R, S, T, epr, H = (float(x) for x in sys.argv[1:])
tools = [
    ("surge", float("${SURGE_RPS:-30000}"), float("${SURGE_STREAMS:-10000}"), float("${SURGE_EVENTS:-0}")),
    ("aiohttp harness", float("${AIO_RPS:-2500}"), float("${AIO_STREAMS:-10000}"), float("${AIO_EVENTS:-0}")),
    ("Locust", float("${LOCUST_RPS:-1250}"), float("${LOCUST_STREAMS:-9507}"), float("${LOCUST_EVENTS:-0}")),
]
print("campaign: %.0f req/s, %.0f streams, %.0f tokens/s; headroom x%.1f" % (R, S, T, H))
print()
print("| tool | req/s per core | events/s per core | streams per process | cores for rate | cores for events | cores for streams | cores (x%.1f) |" % H)
print("|---|---|---|---|---|---|---|---|")
need = {}
for name, rps, streams, events in tools:
    ev = events if events > 0 else rps * epr
    c_r, c_t, c_s = R / rps, T / ev, S / streams
    need[name] = math.ceil(H * max(c_r, c_t, c_s))
    print("| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | **%d** |"
          % (name, rps, ev, streams, c_r, c_t, c_s, need[name]))
print()
print("surge needs %d core(s); the aiohttp harness %d; Locust %d." %
      (need["surge"], need["aiohttp harness"], need["Locust"]))
PYEOF
