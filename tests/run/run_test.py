#!/usr/bin/env python3
"""run_test.py SCENARIO: `surge run PLAN.yaml` answers the plan's questions.

Each scenario writes a plan, runs `surge run` (which starts its own `surge sim` and local
workers on loopback) with a hard time limit, and reads results.json. Scenarios:

  phase_kinds              warm-up, constant, concurrency, users, a ramp of steps with
                           settle, and iterations all run and land in results.json with
                           their load; the warm-up is left out of the overall summary;
                           iterations are averaged with their spread in "stages"; the run
                           leaves report.html and the CSV exports
  saturation_knee_and_sla  the saturation search against sim://tiny finds the knee within
                           one coarse step of where the profile puts it, stops early (no
                           level above the first bad one), the SLA phase runs at
                           operating_point x fraction, the SLA holds there: exit 0, and
                           the JUnit XML is well-formed with no failure
  sla_failure_exit_1       an SLA that cannot hold: exit 1, the FAIL table on stdout,
                           results.json sla.passed false, JUnit XML with a <failure>
  per_request_max_tokens   a workload mix whose classes have different fixed output
                           lengths: with ignore_eos, each request generates exactly its own
                           class's length (requests.jsonl), never the plan-wide mean
  per_class_results_match_the_requests
                           a mix of two classes (3 and 17 output tokens, ignore_eos) against
                           sim://tiny with 2 workers: results.json classes[] names both, their
                           requests add up to the run's, each class's output_tokens is its
                           requests x its length, each request record names its class, and
                           each class's TTFT and E2E p50/p99 are the percentiles of its own
                           records (to the 2-digit histograms' precision); the terminal and
                           report.html show the Classes table
  results_dir_in_use       a second run given the directory a live run writes is refused
                           (exit 2, the message names the other run's pid) and the first
                           run's intervals.jsonl stays whole: every line parses, indices
                           0, 1, 2... once each
  interrupted_run_moved_aside_not_truncated
                           a run killed with SIGKILL leaves intervals.jsonl and no
                           results.json; the next run given its --out moves every file of it
                           into interrupted-STAMP/ (byte for byte, its requests.jsonl too)
                           and says so, and writes its own results beside them
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SURGE = os.environ.get("SURGE_BIN")
TMP = tempfile.mkdtemp(prefix="surge-run-")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def run_plan(name, text, limit_s, extra_args=()):
    """Runs a plan; returns (exit code, stdout, results.json as a dict)."""
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(TMP, name + "-results")
    log = open(os.path.join(TMP, name + ".log"), "w")
    try:
        p = subprocess.run([SURGE, "run", path, "--out", out, "--workers", "2",
                            "--progress", "plain", *extra_args],
                           stdout=subprocess.PIPE, stderr=log, text=True, timeout=limit_s,
                           cwd=TMP)
    except subprocess.TimeoutExpired:
        fail("%s: surge run did not finish within %d s (log: %s)" % (name, limit_s, log.name))
    print(p.stdout, flush=True)
    try:
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: no readable results.json (%s); exit %d, log %s" % (name, e, p.returncode,
                                                                      log.name))
    return p.returncode, p.stdout, results


def phase(results, name):
    for p in results["phases"]:
        if p["name"] == name:
            return p
    fail("phase %s is not in results.json (phases: %s)" %
         (name, [p["name"] for p in results["phases"]]))


def check(cond, msg):
    if not cond:
        fail(msg)


# ---- phase_kinds ----------------------------------------------------------------------

PHASE_KINDS = """
name: every-phase-kind
targets: [sim://instant]
model: surge-sim-instant
max_tokens: 8
timeout: 10s
phases:
  - {name: warm, kind: warmup, rate: 10/s, duration: 2s}
  - {name: steady, kind: constant, rate: 8/s, arrival: constant, duration: 2s}
  - {name: closed, kind: concurrency, concurrency: 2, duration: 2s}
  - {name: people, kind: users, users: 3, think_time: 200ms, duration: 2s}
  - {name: steps, kind: ramp, rates: [4, 8], step_duration: 2s, settle: 1s}
  - {name: repeat, kind: constant, rate: 6/s, duration: 2s, iterations: 2}
"""


def phase_kinds():
    code, _, r = run_plan("kinds", PHASE_KINDS, 150)
    check(code == 0, "exit %d, want 0" % code)
    for name in ("report.html", "phases.csv", "intervals.csv"):
        check(os.path.exists(os.path.join(TMP, "kinds-results", name)),
              "the run left no %s in its results directory" % name)
    names = ["warm", "steady", "closed", "people", "steps.1.settle", "steps.1",
             "steps.2.settle", "steps.2", "repeat.i1", "repeat.i2"]
    check([p["name"] for p in r["phases"]] == names,
          "phases %s, want %s" % ([p["name"] for p in r["phases"]], names))
    for name in names:
        p = phase(r, name)
        check(p["ran"] and p["summary"]["requests"]["ok"] > 0,
              "phase %s: no successful request (%s)" % (name, p["summary"]))
    check(phase(r, "steady")["target_rps"] == 8, "steady: target_rps")
    check(phase(r, "closed")["concurrency"] == 2, "closed: concurrency")
    check(phase(r, "people")["users"] == 3 and phase(r, "people")["load"] == "users",
          "people: users")
    check(phase(r, "steps.1")["target_rps"] == 4 and phase(r, "steps.2")["target_rps"] == 8,
          "ramp steps: target rates")
    check(not phase(r, "steps.1.settle")["measured"] and phase(r, "steps.1")["measured"],
          "ramp: the settle part must be unmeasured, the step measured")
    # Phases of one stage follow each other at once (no recovery gap inside a ramp).
    check(abs(phase(r, "steps.1")["start_s"] - phase(r, "steps.1.settle")["end_s"]) < 1e-6,
          "the ramp step must start where its settle part ends")

    # The warm-up is run but left out: the overall summary is exactly the measured phases.
    warm = phase(r, "warm")
    check(not warm["measured"] and warm["summary"]["requests"]["total"] > 0,
          "warm-up: must run and be unmeasured")
    measured = sum(p["summary"]["requests"]["total"] for p in r["phases"] if p["measured"])
    check(r["summary"]["requests"]["total"] == measured,
          "overall requests %d != sum of measured phases %d (warm-up %d)" %
          (r["summary"]["requests"]["total"], measured, warm["summary"]["requests"]["total"]))

    # Iterations: one level, averaged over both, with the spread.
    stage = [s for s in r["stages"] if s["name"] == "repeat"]
    check(len(stage) == 1 and len(stage[0]["levels"]) == 1, "stages: repeat with one level")
    level = stage[0]["levels"][0]
    check(level["phases"] == ["repeat.i1", "repeat.i2"], "repeat level phases %s" %
          level["phases"])
    spread = level["summary"]["spread"]["completed_rps"]
    check(spread["n"] == 2 and spread["min"] <= spread["mean"] <= spread["max"],
          "iterations: spread of completed_rps %s" % spread)
    done = [phase(r, n)["summary"]["completed_rps"] for n in ("repeat.i1", "repeat.i2")]
    check(abs(level["summary"]["completed_rps"] - sum(done) / 2) < 1e-6,
          "iterations: the level is the mean of its iterations")


# ---- saturation_knee_and_sla ---------------------------------------------------------

# Where the knee of sim://tiny (one replica) is for this workload (64-token prompts, 32
# output tokens, ignore_eos). From the profile (docs/simulator.md): 48 KV blocks of 16
# tokens hold about 7 such sequences (~100 tokens, 7 blocks each with the chat template),
# and a decode step costs 25 ms + 1 ms per sequence, so a request takes ~1 s and one node
# completes at most ~6-7 requests/s; with Poisson arrivals, queueing makes P99 TTFT pass
# 3x its floor before that. Measured once with a fine sweep (the saturation entry in
# KNEE_SWEEP: start 1, step 0.5 req/s, 10 s levels, 2 s settle, no bisection, with the
# warm-up and baseline of SATURATION): P99 TTFT 44 ms at concurrency 1, 59 ms at 2/s,
# 84 ms at 3.5/s (good), 842 ms at 4/s (bad). So the knee is 3.5 req/s, and the coarse
# search below (steps of 2) must land within one step of it.
KNEE_RPS = 3.5
STEP_RPS = 2.0

KNEE_SWEEP = """
  - {name: sweep, kind: saturation, arrival: poisson, start_rate: 1/s, step_rate: 0.5/s,
     max_rate: 12/s, step_duration: 10s, settle: 2s, refinements: 0}
"""

SATURATION = """
name: knee
targets: [sim://tiny]
model: surge-sim-tiny
ignore_eos: true
timeout: 10s
workload:
  synthetic: {input_tokens: 64, output_tokens: 32}
phases:
  - {name: warm, kind: warmup, rate: 1/s, duration: 2s}
  - {name: base, kind: baseline, concurrency: 1, duration: 4s}
  - {name: search, kind: saturation, arrival: poisson, start_rate: 1/s, step_rate: 2/s,
     max_rate: 15/s, step_duration: 4s, settle: 1s, refinements: 1, operating_point: 60%}
  - {name: hold, kind: sla, rate: operating_point, arrival: poisson, duration: 4s}
sla:
  junit: sla.xml
  checks:
    - error_rate <= 1%
    - e2e_ms.p99 <= 10s
"""


def saturation_knee_and_sla():
    code, out, r = run_plan("knee", SATURATION, 200)
    check(code == 0, "exit %d, want 0 (the SLA holds at the operating point)" % code)
    sat = r.get("saturation")
    check(sat is not None, "results.json has no saturation")
    for key in ("rps", "max_output_tokens_per_s", "max_throughput_rps", "operating_point_rps"):
        check(isinstance(sat.get(key), (int, float)), "saturation.%s missing" % key)
    check(sat["reached"], "the search must find a bad level below 15 req/s: %s" % sat)
    check(abs(sat["rps"] - KNEE_RPS) <= STEP_RPS,
          "saturation %.2f req/s, want %.2f +- one step (%.1f)" % (sat["rps"], KNEE_RPS,
                                                                    STEP_RPS))
    # Stopped early: nothing above the first bad level was offered.
    rates = [l["rate_rps"] for l in sat["levels"]]
    check(max(rates) == sat["first_bad_rps"], "levels %s go past the first bad one" % rates)
    check(any(l["refinement"] for l in sat["levels"]), "no bisection level ran")
    # The run's phases are the levels the search chose, not the written-out ramp.
    level_phases = [p for p in r["phases"] if p.get("stage") == "search" and not p["settle"]]
    check(len(level_phases) == len(sat["levels"]),
          "%d level phases for %d levels" % (len(level_phases), len(sat["levels"])))
    # The SLA phase runs at 60% of the saturation rate.
    hold = phase(r, "hold")
    check(abs(hold["target_rps"] - 0.6 * sat["rps"]) < 1e-6,
          "hold at %.3f req/s, want 0.6 x %.3f" % (hold["target_rps"], sat["rps"]))
    check(abs(sat["operating_point_rps"] - 0.6 * sat["rps"]) < 1e-6, "operating_point_rps")
    check(r["sla"]["passed"] and all(c["passed"] for c in r["sla"]["checks"]), "sla.passed")
    check("SLA: PASS" in out and "saturation:" in out, "terminal summary missing")
    junit = os.path.join(TMP, "sla.xml")
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as e:
        fail("JUnit XML %s: %s" % (junit, e))
    cases = root.findall(".//testcase")
    check(len(cases) == 2 and not root.findall(".//failure"),
          "JUnit: %d test cases, failures %d" % (len(cases), len(root.findall(".//failure"))))


# ---- sla_failure_exit_1 --------------------------------------------------------------

SLA_FAILS = """
name: impossible-sla
targets: [sim://instant]
model: surge-sim-instant
max_tokens: 8
phases:
  - {name: hold, kind: sla, rate: 5/s, duration: 3s}
sla:
  junit: fail.xml
  checks:
    - ttft_ms.p99 <= 0.001
    - error_rate <= 1%
"""


def sla_failure_exit_1():
    code, out, r = run_plan("slafail", SLA_FAILS, 90)
    check(code == 1, "exit %d, want 1 (an SLA check failed)" % code)
    check("SLA: FAIL" in out and "FAIL  ttft_ms.p99 <= 0.001" in out,
          "the FAIL table is not on stdout")
    check(r["sla"]["passed"] is False, "results.json sla.passed must be false")
    checks = {c["metric"]: c for c in r["sla"]["checks"]}
    check(not checks["ttft_ms.p99"]["passed"] and checks["error_rate"]["passed"],
          "sla checks %s" % checks)
    root = ET.parse(os.path.join(TMP, "fail.xml")).getroot()
    check(len(root.findall(".//failure")) == 1, "JUnit: want exactly one <failure>")


# ---- per_request_max_tokens -------------------------------------------------------------

PER_REQUEST_MAX_TOKENS = """
name: per-request-max-tokens
targets: [sim://instant]
model: surge-sim-instant
ignore_eos: true
timeout: 10s
workload:
  pool_size: 40
  mix:
    - {name: short, weight: 50, builtin: chat, output_tokens: 3}
    - {name: long, weight: 50, builtin: chat, output_tokens: 17}
phases:
  - {name: steady, kind: constant, rate: 20/s, arrival: constant, duration: 2s}
"""


def per_request_max_tokens():
    code, _, r = run_plan("maxtok", PER_REQUEST_MAX_TOKENS, 90, ["--record-requests"])
    check(code == 0, "exit %d, want 0" % code)
    path = os.path.join(TMP, "maxtok-results", "requests.jsonl")
    with open(path) as f:
        lengths = [json.loads(line)["output_tokens"] for line in f if line.strip()]
    check(len(lengths) >= 30, "only %d requests recorded" % len(lengths))
    seen = sorted(set(lengths))
    # the plan-wide default would be the mean, 10: every request must carry its own length
    check(seen == [3, 17], "output lengths %s, want exactly the classes' 3 and 17" % seen)
    print("per-request max_tokens: %d requests, lengths %s" % (len(lengths), seen))


# ---- per_class_results_match_the_requests ----------------------------------------------

CLASSES = """
name: classes
targets: [sim://tiny]
model: surge-sim-tiny
ignore_eos: true
timeout: 10s
workload:
  pool_size: 40
  mix:
    - {name: short, weight: 50, builtin: chat, output_tokens: 3}
    - {name: long, weight: 50, builtin: chat, output_tokens: 17}
phases:
  - {name: steady, kind: constant, rate: 4/s, arrival: constant, duration: 4s}
"""


def hdr_rank_value(sorted_values, p):
    rank = max(1, int(math.ceil(p / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def per_class_results_match_the_requests():
    code, out, r = run_plan("classes", CLASSES, 90, ["--record-requests"])
    check(code == 0, "exit %d, want 0" % code)
    classes = r.get("classes")
    check(isinstance(classes, list), "results.json has no classes[]")
    check([c["name"] for c in classes] == ["short", "long"],
          "classes %s, want short and long" % [c.get("name") for c in classes])
    path = os.path.join(TMP, "classes-results", "requests.jsonl")
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    total = r["summary"]["requests"]["total"]
    check(total >= 12 and len(records) == total,
          "%d records for %d requests (want >= 12, equal)" % (len(records), total))
    check(r["summary"]["requests"]["errors"] == 0, "errors: %s" % r["summary"]["requests"])
    per_class = [c["summary"]["requests"]["total"] for c in classes]
    check(sum(per_class) == total, "classes' requests %s do not add up to %d" % (per_class,
                                                                                 total))
    for index, (c, length) in enumerate(zip(classes, (3, 17))):
        s = c["summary"]
        mine = [rec for rec in records if rec.get("class") == index]
        check(len(mine) == s["requests"]["total"] and len(mine) > 0,
              "class %s: %d records, results.json says %d" % (c["name"], len(mine),
                                                              s["requests"]["total"]))
        check(all(rec["output_tokens"] == length for rec in mine),
              "class %s: output lengths %s, want %d" % (c["name"], sorted(set(
                  rec["output_tokens"] for rec in mine)), length))
        check(s["output_tokens"] == s["requests"]["total"] * length,
              "class %s: output_tokens %d, want %d x %d" % (c["name"], s["output_tokens"],
                                                            s["requests"]["total"], length))
        for metric in ("ttft_ms", "e2e_ms"):
            values = sorted(rec[metric] for rec in mine)
            for p in (50, 99):
                exact = hdr_rank_value(values, p)
                merged = s[metric]["p%d" % p]
                # 2 significant digits: the highest value equivalent to the exact sample's
                # bucket, less than 1% above it, plus 1 us of rounding.
                check(exact - 0.001 <= merged <= exact * 1.01 + 0.001,
                      "class %s %s p%d: %.4f ms, its records say %.4f ms" % (
                          c["name"], metric, p, merged, exact))
        print("class %s: %d requests x %d tokens, ttft p99 %.2f ms, e2e p99 %.2f ms" % (
            c["name"], len(mine), length, s["ttft_ms"]["p99"], s["e2e_ms"]["p99"]))
    check(classes[1]["summary"]["e2e_ms"]["p50"] > classes[0]["summary"]["e2e_ms"]["p50"],
          "17-token answers should take longer than 3-token ones")
    check(any(line.split()[:1] == ["long"] for line in out.splitlines()) and
          "output tokens" in out, "the terminal summary has no classes table")
    with open(os.path.join(TMP, "classes-results", "report.html")) as f:
        html = f.read()
    check("<h2 id=\"classes\">Classes</h2>" in html and ">short<" in html,
          "report.html has no Classes table")


# ---- results_dir_in_use ----------------------------------------------------------------

IN_USE = """
name: in-use
targets: [sim://instant]
model: surge-sim-instant
timeout: 10s
phases:
  - {name: steady, kind: constant, rate: 20/s, arrival: constant, duration: 5s}
"""


def results_dir_in_use():
    path = os.path.join(TMP, "inuse.yaml")
    with open(path, "w") as f:
        f.write(IN_USE)
    out = os.path.join(TMP, "inuse-results")
    first_log = open(os.path.join(TMP, "inuse-first.log"), "w")
    first = subprocess.Popen([SURGE, "run", path, "--out", out, "--workers", "1", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=first_log, cwd=TMP)
    try:
        lock = os.path.join(out, ".lock")
        for _ in range(100):  # the first run holds the directory once its pid is in .lock
            if os.path.exists(lock) and open(lock).read().strip():
                break
            subprocess.run(["sleep", "0.1"])
        check(first.poll() is None, "the first run ended before the second started")
        second = subprocess.run([SURGE, "run", path, "--out", out, "--workers", "1", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                timeout=60, cwd=TMP)
        check(second.returncode == 2, "second run: exit %d, want 2; stderr: %s" %
              (second.returncode, second.stderr))
        want = "in use by another run (pid %d)" % first.pid
        check(want in second.stderr, "second run's error %r lacks %r" % (second.stderr, want))
        code = first.wait(timeout=90)
    finally:
        if first.poll() is None:
            first.kill()
    check(code == 0, "first run: exit %d, want 0 (log %s)" % (code, first_log.name))
    with open(os.path.join(out, "intervals.jsonl")) as f:
        indices = [json.loads(line)["interval"] for line in f if line.strip()]
    check(indices == list(range(len(indices))) and len(indices) >= 5,
          "intervals.jsonl indices %s" % indices)
    with open(os.path.join(out, "results.json")) as f:
        ok = json.load(f)["summary"]["requests"]["ok"]
    check(ok >= 90, "first run: %d requests ok, want ~100" % ok)
    print("second run refused; first run whole: %d intervals, %d requests" % (len(indices), ok))


# ---- interrupted_run_moved_aside_not_truncated -------------------------------------------

def interrupted_run_moved_aside_not_truncated():
    path = os.path.join(TMP, "killed.yaml")
    with open(path, "w") as f:
        f.write(IN_USE.replace("duration: 5s", "duration: 60s"))
    out = os.path.join(TMP, "killed-results")
    killed = subprocess.Popen([SURGE, "run", path, "--out", out, "--workers", "1", "--quiet",
                               "--record-requests"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=TMP)
    intervals = os.path.join(out, "intervals.jsonl")
    try:
        for _ in range(300):
            if os.path.exists(intervals) and open(intervals).read().count("\n") >= 3:
                break
            subprocess.run(["sleep", "0.1"])
    finally:
        killed.kill()  # SIGKILL: no results.json; its workers and sim follow (PDEATHSIG)
        killed.wait()
    saved = {name: open(os.path.join(out, name), "rb").read()
             for name in ("intervals.jsonl", "requests.jsonl", "e2e.hlog")}
    check(saved["intervals.jsonl"].count(b"\n") >= 3 and saved["requests.jsonl"],
          "the killed run left too little to test with: %r" % {k: len(v) for k, v in saved.items()})
    check(not os.path.exists(os.path.join(out, "results.json")), "the killed run has results")
    short = os.path.join(TMP, "after-killed.yaml")
    with open(short, "w") as f:
        f.write(IN_USE.replace("duration: 5s", "duration: 2s"))
    again = subprocess.run([SURGE, "run", short, "--out", out, "--workers", "1", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=90, cwd=TMP)
    check(again.returncode == 0, "second run: exit %d: %s" % (again.returncode, again.stderr[-2000:]))
    check("did not finish" in again.stderr and "moved to" in again.stderr,
          "the second run did not say it moved the killed run aside: %s" % again.stderr[-2000:])
    aside = [d for d in os.listdir(out) if d.startswith("interrupted-")]
    check(len(aside) == 1, "interrupted-* directories: %s" % os.listdir(out))
    for name, data in saved.items():
        with open(os.path.join(out, aside[0], name), "rb") as f:
            check(f.read() == data, "%s was not moved aside byte for byte" % name)
    check(not os.path.exists(os.path.join(out, "requests.jsonl")),
          "the killed run's requests.jsonl is still beside the new run's results")
    check(os.path.exists(os.path.join(out, "results.json")), "the second run wrote no results")
    print("killed run's %d intervals moved to %s; the new run's results beside them"
          % (saved["intervals.jsonl"].count(b"\n"), aside[0]))


if __name__ == "__main__":
    if not SURGE:
        print("SURGE_BIN is not set")
        sys.exit(77)
    scenarios = {"phase_kinds": phase_kinds, "saturation_knee_and_sla": saturation_knee_and_sla,
                 "sla_failure_exit_1": sla_failure_exit_1,
                 "per_request_max_tokens": per_request_max_tokens,
                 "per_class_results_match_the_requests": per_class_results_match_the_requests,
                 "results_dir_in_use": results_dir_in_use,
                 "interrupted_run_moved_aside_not_truncated":
                     interrupted_run_moved_aside_not_truncated}
    scenarios[sys.argv[1]]()
    print("ok: " + sys.argv[1])
