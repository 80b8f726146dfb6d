#!/usr/bin/env python3
"""measured_nothing_test.py SCENARIO: a run that measured nothing does not pass (issue 17).

Every scenario runs `surge run` with real processes on loopback (`surge sim`, local
workers, Python stub targets) under a hard time limit. Scenarios:

  limits_refused_before_load  a rate, duration or plan rate past what the workers accept
                              (common/limits.h) is exit 2 with a message naming the limit,
                              at once, before any worker or simulator starts
  every_refusal_fails_the_run each way a worker cannot run the plan (an unset api_key_env,
                              a target outside a fleet worker's --allow-target list, a key
                              file outside its --api-key-dir, a fleet worker's failed
                              preflight, an unreachable target) is exit 3 with the worker's
                              reason on the coordinator's stderr
  wrong_model_before_load     a wrong model name is reported within seconds, before any
                              load (no request counted), in the server's own words with the
                              name, exit 3; --no-preflight skips the check
  all_errors_fail_unless_expected  a measured phase whose every request failed (a target
                              answering 500) is exit 3 naming the phase and the error class;
                              the same plan with expect_errors: true on that phase is exit 0,
                              and an unmeasured warm-up of errors fails nothing
  hung_target_bounded_by_plan_and_drain  a target that accepts and never answers, with no
                              timeout: a 4 s run with --drain 3s ends within its plan plus
                              its drain (not the 30 s recovery wait it used to add); what
                              was in flight is aborted and counted as `aborted`, never
                              `other`; and the run fails (it measured nothing)
  quiet_is_quiet              --quiet logs no INFO line (coordinator, local workers, sim),
                              --log-level info brings them back, and where there is no data
                              the table prints "-", never "nan"
  table_says_what_ran         the terminal table marks a phase whose rate `surge ctl set-rate`
                              changed "(overridden by ctl)" (and no other), and prints the
                              concurrency actually in flight (Little's law), which results.json
                              has as concurrency_achieved: about 4 for a closed loop of 4
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import procs  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = procs.init("surge-nothing-")


def fail(msg):
    print("FAIL: " + msg + "\n(scratch: %s)" % TMP, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def surge_run(name, args, limit_s, env=None):
    """Runs `surge run ARGS --out DIR`; returns (exit code, stdout, stderr, seconds, results
    dict or None)."""
    out = os.path.join(TMP, name + "-results")
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    start = time.monotonic()
    try:
        p = subprocess.run([SURGE, "run", *args, "--out", out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=limit_s, cwd=TMP,
                           env=full_env)
    except subprocess.TimeoutExpired:
        fail("%s: surge run did not finish within %d s" % (name, limit_s))
    took = time.monotonic() - start
    with open(os.path.join(TMP, name + ".log"), "w") as f:
        f.write(p.stdout + "\n---- stderr ----\n" + p.stderr)
    results = None
    try:
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
    except (OSError, ValueError):
        pass
    return p.returncode, p.stdout, p.stderr, took, results


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- limits_refused_before_load ---------------------------------------------------------

def limits_refused_before_load():
    plan = write("fast.yaml", """
targets: [sim://instant]
model: surge-sim-instant
phases:
  - {name: a, kind: constant, rate: 10000001, duration: 2s}
""")
    cases = [
        ("rate-1e12", ["--sim", "--rate", "1e12", "--duration", "2s"], "rate"),
        ("rate-inf", ["--sim", "--rate", "inf", "--duration", "2s"], "rate"),
        ("duration", ["--sim", "--rate", "5", "--duration", "100000h"], "duration"),
        ("plan-rate", [plan], "fast.yaml:5:"),
    ]
    for name, args, needle in cases:
        code, _, err, took, results = surge_run(name, args, 30)
        check(code == 2, "%s: exit %d, want 2 (stderr %r)" % (name, code, err))
        check("above the limit" in err and needle in err,
              "%s: stderr %r does not name the limit and %r" % (name, err, needle))
        check(results is None and not os.path.exists(os.path.join(TMP, name + "-results")),
              "%s: a results directory was made: the run started" % name)
        check(took < 10, "%s: refusing took %.1f s" % (name, took))
        print("%s: exit 2 in %.2f s: %s" % (name, took, err.strip()))


# ---- every_refusal_fails_the_run ------------------------------------------------------

def stub(mode):
    p = procs.start([sys.executable, os.path.join(HERE, "stub_target.py"), mode], "stub-" + mode)
    line = procs.wait_for_log(p, "listening on")
    return p, line.split("listening on ")[1].strip()


def fleet_refusal(name, plan_text, worker_extra):
    """A coordinator and one worker of a fleet; returns (coordinator exit, its log)."""
    plan = write(name + ".yaml", plan_text)
    out = os.path.join(TMP, name + "-results")
    coord = procs.start([SURGE, "coordinator", plan, "--bind", "tcp://127.0.0.1:*", "--workers",
                         "1", "--out", out, "--progress", "plain", "--drain", "2s"],
                        name + "-coordinator")
    line = procs.wait_for_log(coord, "coordinator on ")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)", line).group(1)
    w = procs.start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id",
                     name + "-w", "--reconnect-timeout", "10s", *worker_extra], name + "-worker")
    code = procs.wait_exit(coord, 60)
    procs.wait_exit(w, 30)
    return code, procs.log_of(coord)


def every_refusal_fails_the_run():
    try:
        sim_plan = """
targets: [sim://instant]
model: surge-sim-instant
api_key_env: SURGE_TEST_KEY_NEVER_SET
phases:
  - {name: a, kind: constant, rate: 5, duration: 3s}
"""
        env = dict(os.environ)
        env.pop("SURGE_TEST_KEY_NEVER_SET", None)
        code, _, err, took, _ = surge_run("unset-key", [write("key.yaml", sim_plan), "--workers",
                                                        "2", "--quiet"], 60)
        check(code == 3, "unset api_key_env: exit %d, want 3\n%s" % (code, err))
        check("SURGE_TEST_KEY_NEVER_SET is not set" in err and "no worker can run the plan" in err,
              "unset api_key_env: the reason is not on stderr:\n%s" % err)
        print("unset api_key_env: exit 3 in %.1f s" % took)

        _, url = stub("hang")
        port = url.rsplit(":", 1)[1]
        plan = "targets: [%s]\nmodel: stub\nphases:\n  - {name: a, kind: constant, rate: 5, " \
               "duration: 3s}\n" % url
        code, log = fleet_refusal("allow", plan, ["--allow-target", "10.9.9.9"])
        check(code == 3, "allow-list: coordinator exit %d, want 3\n%s" % (code, log[-2000:]))
        check("not in this worker's --allow-target list" in log and port in log and
              "no worker can run the plan" in log and "ERROR" in log,
              "allow-list: the reason is not an error on stderr:\n%s" % log[-2000:])
        print("allow-list refusal: exit 3")

        key_file = write("api.key", "sk-never-sent\n")
        plan_kf = "targets: [%s]\nmodel: stub\napi_key_file: %s\nphases:\n  - {name: a, " \
                  "kind: constant, rate: 5, duration: 3s}\n" % (url, key_file)
        code, log = fleet_refusal("keyfile", plan_kf, [])
        check(code == 3, "key file: coordinator exit %d, want 3\n%s" % (code, log[-2000:]))
        check("plan refused: api_key_file" in log and "--api-key-dir" in log,
              "key file: the reason is not on stderr:\n%s" % log[-2000:])
        print("api_key_file refusal: exit 3")

        # a fleet worker's preflight: the target answers only with errors
        _, bad_url = stub("error")
        plan_bad = "targets: [%s]\nmodel: stub\nphases:\n  - {name: a, kind: constant, " \
                   "rate: 5, duration: 3s}\n" % bad_url
        code, log = fleet_refusal("preflight", plan_bad, [])
        check(code == 3, "fleet preflight: coordinator exit %d, want 3\n%s" % (code, log[-2000:]))
        check("preflight: target 0 %s" % bad_url in log and "HTTP 500: stub: internal error" in log
              and "no worker can run the plan" in log,
              "fleet preflight: the target's words are not on stderr:\n%s" % log[-2000:])
        print("fleet worker's preflight: exit 3")

        closed = "http://127.0.0.1:9"  # discard: nothing listens on loopback
        code, _, err, took, r = surge_run("unreachable", ["--target", closed, "--model", "m",
                                                          "--rate", "5", "--duration", "3s",
                                                          "--workers", "1", "--quiet"], 60)
        check(code == 3, "unreachable: exit %d, want 3\n%s" % (code, err))
        check("preflight: target 0 http://127.0.0.1:9" in err and "onnect" in err,
              "unreachable: the reason is not on stderr:\n%s" % err)
        print("unreachable target: exit 3 in %.1f s" % took)
    finally:
        procs.cleanup()


# ---- wrong_model_before_load ------------------------------------------------------------

def wrong_model_before_load():
    args = ["--sim", "--sim-profile", "instant", "--model", "no-such-model", "--rate", "20",
            "--duration", "30s", "--workers", "2", "--progress", "plain"]
    code, _, err, took, r = surge_run("wrong-model", args, 60)
    check(code == 3, "exit %d, want 3\n%s" % (code, err))
    check("The model `no-such-model` does not exist." in err,
          "the server's own words are not on stderr:\n%s" % err)
    check(took < 15, "the wrong model took %.1f s to report (a 30 s run)" % took)
    check(r is not None and r["summary"]["requests"]["total"] == 0,
          "requests were sent before the check: %s" % (r and r["summary"]["requests"]))
    print("wrong model: exit 3 in %.1f s, no request sent" % took)

    # --no-preflight: the load runs, and fails on its own (every request a 404)
    code, _, err, took, r = surge_run("no-preflight", args[:-6] + ["--rate", "20", "--duration",
                                                                  "2s", "--no-preflight"], 60)
    check(r is not None and r["summary"]["requests"]["total"] > 0,
          "--no-preflight: no request was sent (exit %d)\n%s" % (code, err))
    check("preflight:" not in err, "--no-preflight still checked:\n%s" % err)
    check(code == 3 and "http_4xx" in err, "--no-preflight: exit %d, want 3 (100%% errors)\n%s"
          % (code, err))
    print("--no-preflight: %d requests sent, exit %d" % (r["summary"]["requests"]["total"], code))


# ---- all_errors_fail_unless_expected ----------------------------------------------------

ALL_ERRORS = """
targets: [%s]
model: stub
preflight: false
phases:
  - {name: warm, kind: warmup, rate: 10, duration: 1s}
  - {name: main, kind: constant, rate: 10, arrival: constant, duration: 2s%s}
"""


def all_errors_fail_unless_expected():
    try:
        _, url = stub("error")
        code, _, err, _, r = surge_run("all-errors", [write("errors.yaml", ALL_ERRORS % (url, "")),
                                                      "--workers", "1", "--quiet"], 60)
        check(code == 3, "100%% errors: exit %d, want 3\n%s" % (code, err))
        check("phase main: all" in err and "http_5xx" in err and "measured nothing" in err,
              "the reason (phase, error class) is not on stderr:\n%s" % err)
        check(r is not None and r["status"] == "failed" and "phase main" in r["failure"],
              "results.json status/failure: %r" % ((r and (r["status"], r.get("failure"))),))
        print("100%% errors: exit 3: %s" % r["failure"])
        code, _, err, _, r = surge_run("expected", [write("expected.yaml", ALL_ERRORS % (
            url, ", expect_errors: true")), "--workers", "1", "--quiet"], 60)
        check(code == 0, "expect_errors: true: exit %d, want 0\n%s" % (code, err))
        check(r["summary"]["requests"]["errors"] > 0 and r["summary"]["requests"]["ok"] == 0,
              "the expected run did not fail every request: %s" % r["summary"]["requests"])
        print("expect_errors: true: exit 0 with %d errors" % r["summary"]["requests"]["errors"])
    finally:
        procs.cleanup()


# ---- hung_target_bounded_by_plan_and_drain -----------------------------------------------

def hung_target_bounded_by_plan_and_drain():
    try:
        _, url = stub("hang")
        plan = write("hung.yaml", """
targets: [%s]
model: stub
phases:
  - {name: main, kind: constant, rate: 5, arrival: constant, duration: 4s}
""" % url)
        code, _, err, took, r = surge_run("hung", [plan, "--workers", "1", "--drain", "3s",
                                                   "--progress", "plain"], 90)
        # 1 s start delay + 4 s plan + 3 s drain + 3 heartbeats for the last words + exit
        check(took < 4 + 3 + 5, "a 4 s run with --drain 3s took %.1f s" % took)
        check(r is not None, "no results.json (exit %d)\n%s" % (code, err))
        errors = r["summary"]["errors_by_class"]
        total = r["summary"]["requests"]["total"]
        check(errors.get("aborted", 0) >= 15 and errors.get("other", 0) == 0,
              "in-flight requests at the end: errors_by_class %s (total %d), want them all "
              "`aborted`" % (errors, total))
        check(code == 3, "exit %d, want 3 (nothing was measured)\n%s" % (code, err))
        print("hung target: ended in %.1f s, %d aborted, exit %d" % (took, errors["aborted"], code))
    finally:
        procs.cleanup()


# ---- quiet_is_quiet ---------------------------------------------------------------------

def quiet_is_quiet():
    args = ["--sim", "--sim-profile", "instant", "--rate", "5", "--duration", "2s", "--workers",
            "2"]
    code, out, err, _, _ = surge_run("quiet", args + ["--quiet"], 60)
    check(code == 0, "--quiet: exit %d\n%s" % (code, err))
    info = [line for line in err.splitlines() if " INFO " in line]
    check(not info, "--quiet still logs %d INFO lines:\n%s" % (len(info), "\n".join(info)))
    check("results:" in out, "--quiet dropped the summary from stdout:\n%s" % out)
    code, _, err, _, _ = surge_run("loud", args + ["--quiet", "--log-level", "info"], 60)
    roles = {r for r in ("[run]", "[worker local-1]", "[sim]") if r + " INFO" in err}
    check(code == 0 and len(roles) == 3, "--log-level info: INFO lines from %s only\n%s"
          % (sorted(roles), err[-2000:]))
    code, _, err, _, _ = surge_run("bad-level", args + ["--log-level", "loud"], 30)
    check(code == 2 and "--log-level" in err, "--log-level loud: exit %d %r" % (code, err))
    try:
        _, url = stub("error")
        plan = write("nodata.yaml", ALL_ERRORS % (url, ", expect_errors: true"))
        code, out, err, _, _ = surge_run("nodata", [plan, "--workers", "1", "--quiet"], 60)
        check(code == 0, "no data: exit %d\n%s" % (code, err))
        check("nan" not in out.lower() and "TTFT p99 -," in out,
              "the table prints nan where there is no data:\n%s" % out)
    finally:
        procs.cleanup()
    print("--quiet: no INFO line; --log-level info: %s; no data: '-'" % sorted(roles))


# ---- table_says_what_ran ----------------------------------------------------------------

TABLE = """
targets: [sim://tiny]
model: surge-sim-tiny
max_tokens: 16
ignore_eos: true
timeout: 20s
phases:
  - {name: closed, kind: concurrency, concurrency: 4, duration: 5s}
  - {name: steady, kind: constant, rate: 4, arrival: constant, duration: 8s}
"""


def ctl_status(out):
    r = subprocess.run([SURGE, "ctl", "--results", out, "--json", "status"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def table_says_what_ran():
    plan = write("table.yaml", TABLE)
    out = os.path.join(TMP, "table-results")
    p = procs.start([SURGE, "run", plan, "--out", out, "--workers", "2", "--quiet"], "table")
    try:
        ep_file = os.path.join(out, "ctl.endpoint")
        deadline = time.monotonic() + 30
        while not os.path.exists(ep_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # a second into the second phase
            s = ctl_status(out)
            ph = s.get("phase") or {}
            if ph.get("name") == "steady" and (s.get("t_s") or 0) >= ph["start_s"] + 1:
                break
            time.sleep(0.2)
        r = subprocess.run([SURGE, "ctl", "--results", out, "set-rate", "8"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        check(r.returncode == 0, "set-rate: %s %s" % (r.stdout, r.stderr))
        code = procs.wait_exit(p, 90)
    finally:
        procs.cleanup()
    text = procs.log_of(p)
    check(code == 0, "exit %d\n%s" % (code, text[-3000:]))
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.startswith(("closed ", "steady "))}
    check("in flight" in text and len(rows) == 2, "no table with 'in flight':\n%s" % text)
    check("(overridden by ctl)" in rows["steady"] and "overridden" not in rows["closed"],
          "the overridden marker is not on the steady row only:\n%s" % "\n".join(rows.values()))
    with open(os.path.join(out, "results.json")) as f:
        r = json.load(f)
    closed = [ph for ph in r["phases"] if ph["name"] == "closed"][0]["summary"]
    held = closed["concurrency_achieved"]
    check(2.5 <= held <= 4.5, "a closed loop of 4 held %.2f requests in flight" % held)
    check(("%.1f" % held) in rows["closed"], "the table does not print %.1f:\n%s"
          % (held, rows["closed"]))
    print("closed loop of 4 held %.2f in flight; steady marked overridden" % held)


if __name__ == "__main__":
    if not SURGE:
        print("SURGE_BIN is not set")
        sys.exit(77)
    scenarios = {"limits_refused_before_load": limits_refused_before_load,
                 "every_refusal_fails_the_run": every_refusal_fails_the_run,
                 "wrong_model_before_load": wrong_model_before_load,
                 "all_errors_fail_unless_expected": all_errors_fail_unless_expected,
                 "hung_target_bounded_by_plan_and_drain": hung_target_bounded_by_plan_and_drain,
                 "quiet_is_quiet": quiet_is_quiet, "table_says_what_ran": table_says_what_ran}
    scenarios[sys.argv[1]]()
    print("ok: " + sys.argv[1])
