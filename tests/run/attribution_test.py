#!/usr/bin/env python3
"""attribution_test.py SCENARIO: a phase's figures are those of the requests it scheduled,
and its throughput is what the server delivered in its window, past the knee too.

The test starts its own `surge sim --profile tiny` (one replica: its knee is near 6 req/s
of 32-token answers) and reads the node's own `vllm:generation_tokens_total` every 50 ms
while `surge run` drives a ramp across the knee against it; surge's scraper is off, so
every server-side figure below is the test's, not surge's. Scenarios:

  ramp_matches_server   rates 2, 4, 8, 12/s, constant arrivals, no recovery between steps
                        (a backlog carries from one level into the next): each level's
                        output tokens/s is within 3% of the node's own counter over the
                        same window; each level's request count equals the arrivals it
                        scheduled (rate x duration); at 12/s, far past the knee, the
                        level's completions/s stay at or below its offered rate and its
                        tail (requests ended after it) is reported; the drain after the
                        last level is its own span; merged TTFT/E2E percentiles of each
                        level equal those of requests.jsonl grouped by scheduling phase.
  warmup_hands_over     a warm-up is followed at once by the next phase (no recovery gap);
                        a baseline after a constant phase waits for the fleet to drain;
                        `recover: false` on it starts it at once.
"""
import bisect
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from simlib import Sim, parse_prometheus, metric_sum  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from procs import init, fail  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = init("surge-attribution-")


def check(cond, msg):
    if not cond:
        fail(msg)


class CounterLog:
    """Samples one counter of a sim's /metrics every 50 ms, with wall-clock times."""

    def __init__(self, port, name):
        self.url = "http://127.0.0.1:%d/metrics" % port
        self.name = name
        self.times, self.values = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                t0 = time.time()
                text = urllib.request.urlopen(self.url, timeout=2).read().decode()
                t1 = time.time()
                self.times.append((t0 + t1) / 2)
                self.values.append(metric_sum(parse_prometheus(text)[1], self.name))
            except OSError:
                pass
            self.stop.wait(0.05)

    def at(self, t):
        """The counter at wall time t, linear between the two samples around it."""
        i = bisect.bisect_left(self.times, t)
        check(0 < i < len(self.times), "no counter samples around t=%.3f" % t)
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1

    def close(self):
        self.stop.set()
        self.thread.join(5)


def run_plan(name, text, limit_s, extra=()):
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(TMP, name + "-results")
    with open(os.path.join(TMP, name + ".log"), "w") as log:
        try:
            p = subprocess.run([SURGE, "run", path, "--out", out, "--workers", "2",
                                "--progress", "plain", *extra], stdout=subprocess.PIPE,
                               stderr=log, text=True, timeout=limit_s, cwd=TMP)
        except subprocess.TimeoutExpired:
            fail("%s: surge run did not finish within %d s" % (name, limit_s))
    print(p.stdout, flush=True)
    check(p.returncode == 0, "%s: surge run exited %d (log %s.log)" % (name, p.returncode,
                                                                       name))
    with open(os.path.join(out, "results.json")) as f:
        return out, json.load(f)


def epoch_of(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp()


def hdr_rank_value(sorted_values, p):
    rank = max(1, int(math.ceil(p / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


# ---- ramp_matches_server -----------------------------------------------------------------

RATES = [2, 4, 8, 12]
STEP_S = 8

RAMP = """
name: ramp-past-the-knee
targets: [http://127.0.0.1:%(port)d]
model: surge-sim-tiny
stream: true
ignore_eos: true
timeout: 60s
workload:
  synthetic: {input_tokens: 64, output_tokens: 32}
phases:
  - name: ramp
    kind: ramp
    arrival: constant
    rates: [%(rates)s]
    step_duration: %(step)ds
"""


def ramp_matches_server():
    with Sim("--profile", "tiny") as sim:
        tokens = CounterLog(sim.port, "vllm:generation_tokens_total")
        try:
            out, res = run_plan("ramp", RAMP % {"port": sim.port, "step": STEP_S,
                                                "rates": ", ".join(map(str, RATES))},
                                240, ["--record-requests"])
            time.sleep(0.2)
        finally:
            tokens.close()
    t0 = epoch_of(res["started_at"])
    levels = [p for p in res["phases"] if p["kind"] == "ramp"]
    check(len(levels) == len(RATES), "expected %d levels, got %s" % (len(RATES), levels))
    with open(os.path.join(out, "requests.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    by_phase = {}
    for r in records:
        by_phase.setdefault(r["phase"], []).append(r)
    index_of = {p["name"]: i for i, p in enumerate(res["phases"])}

    for rate, lv in zip(RATES, levels):
        s = lv["summary"]
        window = lv["end_s"] - lv["start_s"]
        node = tokens.at(t0 + lv["end_s"]) - tokens.at(t0 + lv["start_s"])
        surge = s["output_tokens_per_s"] * window
        print("level %2d/s: surge %.0f tok/s, node %.0f tok/s; requests %d (scheduled %d), "
              "delivered %.2f/s, tail %d ending %.1f s after" %
              (rate, s["output_tokens_per_s"], node / window, s["requests"]["total"],
               s["requests"]["scheduled"], s["delivered_rps"], lv["tail"]["requests"],
               lv["tail"]["last_end_after_s"]), flush=True)
        check(abs(surge - node) <= 0.03 * node,
              "level %d/s: surge says %.0f output tokens in its window, the node generated "
              "%.0f" % (rate, surge, node))
        planned = rate * STEP_S
        check(s["requests"]["scheduled"] == planned and s["requests"]["total"] == planned,
              "level %d/s: %d requests and %d scheduled, its arrivals are %d" %
              (rate, s["requests"]["total"], s["requests"]["scheduled"], planned))
        for key in ("completed_rps", "delivered_rps"):
            check(s[key] <= rate * 1.001,
                  "level %d/s: %s %.2f, more than it offered" % (rate, key, s[key]))
        mine = by_phase.get(index_of[lv["name"]], [])
        check(len(mine) == planned, "level %d/s: %d records name it" % (rate, len(mine)))
        for metric in ("ttft_ms", "e2e_ms"):
            values = sorted(r[metric] for r in mine)
            for p in (50, 99):
                exact = hdr_rank_value(values, p)
                merged = s[metric]["p%d" % p]
                check(exact - 0.001 <= merged <= exact * 1.002 + 0.002,
                      "level %d/s %s p%d: merged %.3f, its records say %.3f" %
                      (rate, metric, p, merged, exact))
    last = levels[-1]
    check(last["summary"]["delivered_rps"] < 0.8 * RATES[-1],
          "past the knee the cluster cannot have completed %.2f/s of %d/s" %
          (last["summary"]["delivered_rps"], RATES[-1]))
    check(last["tail"]["requests"] > 0 and last["tail"]["last_end_after_s"] > 1,
          "the level past the knee reports no tail: %s" % last["tail"])
    check(res["drain"] is not None and res["drain"]["start_s"] == last["end_s"],
          "the drain is not its own span: %s" % res.get("drain"))
    measured = sum(lv["end_s"] - lv["start_s"] for lv in levels)
    check(abs(res["summary"]["duration_s"] - measured) < 1e-6,
          "the run summary covers %.1f s, its levels %.1f s" % (res["summary"]["duration_s"],
                                                                measured))
    print("ok: every level matches the node's own token counter and its own arrivals")


# ---- warmup_hands_over ---------------------------------------------------------------------

HANDOVER = """
name: handover
targets: [http://127.0.0.1:%(port)d]
model: surge-sim-tiny
ignore_eos: true
timeout: 30s
workload:
  synthetic: {input_tokens: 64, output_tokens: 64}
phases:
  - {name: warm, kind: warmup, rate: 4/s, arrival: constant, duration: 3s}
  - {name: load, kind: constant, rate: 4/s, arrival: constant, duration: 3s}
  - {name: base, kind: baseline, concurrency: 1, duration: 2s}
  - {name: again, kind: constant, rate: 2/s, arrival: constant, duration: 2s, recover: false}
"""


def warmup_hands_over():
    with Sim("--profile", "tiny") as sim:
        _, res = run_plan("handover", HANDOVER % {"port": sim.port}, 120)
    ph = {p["name"]: p for p in res["phases"]}
    check(ph["load"]["start_s"] == ph["warm"]["end_s"],
          "the phase after the warm-up starts at %.1f s, the warm-up ended at %.1f s" %
          (ph["load"]["start_s"], ph["warm"]["end_s"]))
    # 4/s of 64-token answers on one tiny replica leaves requests in flight at the end of
    # `load`: the baseline waits for them (at least until the next interval boundary).
    check(ph["base"]["start_s"] > ph["load"]["end_s"],
          "the baseline did not wait for the fleet to drain")
    check(ph["again"]["start_s"] == ph["base"]["end_s"],
          "recover: false did not start the phase at once (%.1f vs %.1f)" %
          (ph["again"]["start_s"], ph["base"]["end_s"]))
    print("ok: warm-up hands over at once; recovery before the baseline; recover: false")


if __name__ == "__main__":
    if not SURGE or not os.path.exists(SURGE):
        print("SKIP: SURGE_BIN is not set to a built surge")
        sys.exit(77)
    scenarios = {"ramp_matches_server": ramp_matches_server,
                 "warmup_hands_over": warmup_hands_over}
    scenarios[sys.argv[1]]()
