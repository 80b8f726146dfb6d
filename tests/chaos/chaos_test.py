#!/usr/bin/env python3
"""chaos_test.py SCENARIO: chaos campaigns and operator control, proven with real processes
on loopback (docs/chaos.md). Each scenario starts its own `surge sim` nodes and a `surge
run` (or coordinator + worker), kills what it started on exit, and is bounded in time.

  planned_fault_in_table   two sims, three workers; a plan `chaos:` action takes one sim
                           down for 4 s through its admin endpoint: the impact row shows
                           the fault detected within two intervals, errors during it and a
                           recovery after it; the command's exit status is recorded
  operator_fault_in_table  the same fault, marked by an operator with `surge ctl mark
                           --start/--end` around the test's own admin request
  overrides_seen_by_sim    set-rate, pause and resume change the load the simulator itself
                           counts (its vllm:e2e_request_latency_seconds_count), within
                           tolerance, and are recorded in results.json
  stop_is_graceful         `surge ctl stop` ends a 60 s run at once with exit 0 and a
                           complete results.json (status stopped, the phase cut at the stop)
  ctl_security             with CURVE on ctl: no key, an unknown key and a worker's key are
                           refused (exit 3) and change nothing; the operator's key works;
                           garbage and malformed msgpack get error replies and change
                           nothing; a plain-text non-loopback --ctl-bind is refused with the
                           how-to
  plan_errors              `surge validate` names file:line:col for bad chaos: entries
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = init("surge-chaos-")
INTERVAL_S = 1.0


def run(cmd, timeout_s=30):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


def sim(name, replicas=2):
    p = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny", "--replicas",
               str(replicas)], name)
    line = wait_for_log(p, "listening on")
    return re.search(r"(http://\S+)", line).group(1)


def sim_finished(url):
    """Requests the simulator finished, by its own count (all engines)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in
               re.finditer(r"^vllm:e2e_request_latency_seconds_count\{[^}]*\} (\S+)$", text, re.M))


def write_plan(name, targets, phase, chaos=""):
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write("targets:\n%s" % "".join("  - %s\n" % t for t in targets))
        f.write("model: surge-sim-tiny\nmax_tokens: 16\ninterval: 1s\ntimeout: 10s\n")
        f.write("phases:\n%s" % phase)
        f.write(chaos)
    return path


def start_run(plan, out, workers=3, extra=()):
    p = start([SURGE, "run", plan, "--workers", str(workers), "--out", out, "--progress",
               "plain"] + list(extra), "run")
    wait_for_log(p, "ctl on ", timeout_s=20)
    # ctl admits only the run's operator key, which the run leaves in `out` (0600).
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(out, "ctl.key_secret")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return p, out


def ctl(endpoint, *args, timeout="5s", keys=()):
    """endpoint: a ctl endpoint, or a `surge run`'s results directory (--results)."""
    where = ["--results" if os.path.isdir(endpoint) else "--coordinator", endpoint]
    return run([SURGE, "ctl"] + where + ["--timeout", timeout] + list(keys) + list(args),
               timeout_s=30)


def ctl_ok(endpoint, *args, keys=()):
    r = ctl(endpoint, *args, keys=keys)
    if r.returncode != 0:
        fail("surge ctl %s: exit %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def status(endpoint, keys=()):
    return json.loads(ctl_ok(endpoint, "--json", "status", keys=keys))


def wait_run_time(endpoint, t_s, timeout_s=40):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = status(endpoint)
        if s.get("t_s") is not None and s["t_s"] >= t_s:
            return s
        time.sleep(0.1)
    fail("the run never reached %.1f s" % t_s)


def results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def admin_down(url, seconds):
    body = json.dumps({"kind": "down", "duration_s": seconds}).encode()
    req = urllib.request.Request(url + "/admin/fault", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def check_fault_row(res, name, max_detection_s):
    faults = res.get("chaos", {}).get("faults", [])
    rows = [f for f in faults if f["name"] == name]
    if len(rows) != 1:
        fail("expected one impact row named %s: %s" % (name, json.dumps(faults)))
    f = rows[0]
    for key in ("start_s", "end_s", "detection_s", "recovery_s", "error_rate",
                "throughput_change_pct", "ttft_change_pct"):
        if key not in f:
            fail("impact row without %s: %s" % (key, f))
    if f["detection_s"] is None or f["detection_s"] > max_detection_s:
        fail("the fault was not detected within %.0f s: %s" % (max_detection_s, f))
    ttft = f["ttft_change_pct"]
    if not (f["error_rate"] > 0.1 or (ttft is not None and ttft > 50)):
        fail("neither errors nor latency rose during the fault: %s" % f)
    if f["recovery_s"] is None:
        fail("the impact row says not recovered: %s" % f)
    return f


# ---- scenarios -------------------------------------------------------------------------

STEADY = ("  - name: steady\n    kind: constant\n    rate: 8/s\n    arrival: constant\n"
          "    duration: 20s\n")


def planned_fault_in_table():
    a, b = sim("sim-a"), sim("sim-b")
    out = os.path.join(TMP, "out")
    chaos = ("chaos:\n"
             "  - at: {phase: steady, after: 8s}\n"
             "    run: [\"%s\", \"-c\", \"import json,os,urllib.request as u; "
             "print(u.urlopen(u.Request(os.environ['SURGE_TARGET_0'] + '/admin/fault', "
             "data=json.dumps({'kind': 'down', 'duration_s': 4}).encode())).status)\"]\n"
             "    timeout: 10s\n"
             "    fault: start\n"
             "    name: sim-a-down\n"
             "  - at: {phase: steady, after: 12s}\n"
             "    fault: end\n"
             "    name: sim-a-down\n"
             "  - at: 3s\n"
             "    mark: steady load on\n" % sys.executable)
    plan = write_plan("planned", [a, b], STEADY, chaos)
    p, _ = start_run(plan, out)
    rc = wait_exit(p, 90)
    if rc != 0:
        fail("surge run exit %d:\n%s" % (rc, log_of(p)[-3000:]))
    res = results(out)
    f = check_fault_row(res, "sim-a-down", 2 * INTERVAL_S + 0.5)
    actions = res["chaos"]["actions"]
    if actions[0].get("exit_status") != 0 or "200" not in actions[0].get("output", ""):
        fail("the fault command's record: %s" % actions[0])
    if not any(m["text"] == "steady load on" for m in res["chaos"]["marks"]):
        fail("the planned mark is missing: %s" % res["chaos"]["marks"])
    print("ok: planned fault: detection %.1f s, error rate %.2f, recovery %.1f s"
          % (f["detection_s"], f["error_rate"], f["recovery_s"]))


def operator_fault_in_table():
    a, b = sim("sim-a"), sim("sim-b")
    out = os.path.join(TMP, "out")
    p, ep = start_run(write_plan("operator", [a, b], STEADY), out)
    wait_run_time(ep, 8)
    ctl_ok(ep, "mark", "--start", "operator-down")
    if admin_down(a, 4) != 200:
        fail("the admin endpoint refused the fault")
    time.sleep(4)
    ctl_ok(ep, "mark", "--end", "operator-down")
    rc = wait_exit(p, 90)
    if rc != 0:
        fail("surge run exit %d:\n%s" % (rc, log_of(p)[-3000:]))
    f = check_fault_row(results(out), "operator-down", 2 * INTERVAL_S + 0.5)
    if f.get("source") != "ctl":
        fail("the row does not say it came from ctl: %s" % f)
    print("ok: operator fault: detection %.1f s, error rate %.2f, recovery %.1f s"
          % (f["detection_s"], f["error_rate"], f["recovery_s"]))


def measure(url, seconds):
    c0 = sim_finished(url)
    time.sleep(seconds)
    return (sim_finished(url) - c0) / seconds


def overrides_seen_by_sim():
    a = sim("sim", replicas=4)
    out = os.path.join(TMP, "out")
    phase = ("  - name: steady\n    kind: constant\n    rate: 6/s\n    arrival: constant\n"
             "    duration: 40s\n")
    p, ep = start_run(write_plan("overrides", [a], phase), out, workers=2)
    wait_run_time(ep, 2)
    base = measure(a, 4)
    ctl_ok(ep, "set-rate", "18")
    time.sleep(1.5)  # takeover, and the requests of the old rate finish
    raised = measure(a, 4)
    ctl_ok(ep, "pause")
    time.sleep(1.5)  # in-flight requests finish
    paused = measure(a, 3)
    ctl_ok(ep, "resume")
    time.sleep(1.5)
    resumed = measure(a, 4)
    print("sim-counted rates: plan %.1f/s, set-rate 18 %.1f/s, paused %.1f/s, resumed %.1f/s"
          % (base, raised, paused, resumed))
    if not 4.5 <= base <= 7.5:
        fail("the planned 6/s measured %.1f/s at the simulator" % base)
    if not 14 <= raised <= 22:
        fail("set-rate 18 measured %.1f/s at the simulator" % raised)
    if paused > 0.4:
        fail("paused, the simulator still finished %.1f/s" % paused)
    if not 14 <= resumed <= 22:
        fail("resume (with set-rate 18 in force) measured %.1f/s" % resumed)
    ctl_ok(ep, "stop")
    if wait_exit(p, 60) != 0:
        fail("surge run after stop:\n%s" % log_of(p)[-3000:])
    res = results(out)
    commands = [o["command"] for o in res["chaos"]["overrides"]]
    if commands != ["set-rate", "pause", "resume", "stop"]:
        fail("overrides recorded: %s" % commands)
    if not res["phases"][0]["overridden"]:
        fail("the overridden phase is not flagged")
    offered = [json.loads(line)["summary"].get("offered_rps") for line in
               open(os.path.join(out, "intervals.jsonl"))]
    if 0 not in offered or 18 not in offered:
        fail("the intervals' offered rate does not show the overrides: %s" % offered)
    print("ok: overrides recorded and flagged")


def stop_is_graceful():
    a = sim("sim")
    out = os.path.join(TMP, "out")
    phase = "  - name: long\n    kind: constant\n    rate: 5/s\n    duration: 60s\n"
    p, ep = start_run(write_plan("stop", [a], phase), out, workers=2)
    wait_run_time(ep, 4)
    t0 = time.monotonic()
    ctl_ok(ep, "stop")
    rc = wait_exit(p, 30)
    took = time.monotonic() - t0
    if rc != 0:
        fail("exit %d after stop (want 0):\n%s" % (rc, log_of(p)[-3000:]))
    res = results(out)
    ph = res["phases"][0]
    if res["status"] != "stopped" or res["ctl"]["stopped_at_s"] is None:
        fail("status %s, ctl %s" % (res["status"], res["ctl"]))
    if not 3 <= ph["end_s"] <= 8:
        fail("the phase was not cut at the stop: end_s %s" % ph["end_s"])
    if res["summary"]["requests"]["total"] < 10 or res["summary"]["requests"]["errors"] > 0:
        fail("summary after stop: %s" % res["summary"]["requests"])
    if not os.path.exists(os.path.join(out, "report.html")):
        fail("no report.html after stop")
    print("ok: stopped at %.1f s, run ended %.1f s later, %d requests, report written"
          % (res["ctl"]["stopped_at_s"], took, res["summary"]["requests"]["total"]))


def keygen(name):
    r = run([SURGE, "keygen", os.path.join(TMP, "keys"), "--name", name])
    if r.returncode != 0:
        fail("keygen %s: %s" % (name, r.stderr))


def key_dir(name, *keys):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    for k in keys:
        shutil.copy(os.path.join(TMP, "keys", k + ".key"), d)
    return d


def ctl_security():
    # Plain text off loopback: refused before anything binds, with the how-to.
    r = run([SURGE, "coordinator", "--target", "http://127.0.0.1:9", "--model", "m", "--rate",
             "1", "--duration", "1s", "--bind", "tcp://127.0.0.1:*", "--ctl-bind",
             "tcp://0.0.0.0:*", "--out", os.path.join(TMP, "refused")])
    if r.returncode != 2 or "surge keygen" not in r.stderr or "--ctl-allowed-keys" not in r.stderr:
        fail("plain-text ctl off loopback: exit %d: %s" % (r.returncode, r.stderr))

    for name in ("coordinator", "worker", "operator", "stranger"):
        keygen(name)
    keys = os.path.join(TMP, "keys")
    coord_pub = os.path.join(keys, "coordinator.key")
    a = sim("sim")
    out = os.path.join(TMP, "out")
    c = start([SURGE, "coordinator", "--target", a, "--model", "surge-sim-tiny", "--rate", "4",
               "--duration", "20s", "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--out",
               out, "--progress", "plain", "--cert",
               os.path.join(keys, "coordinator.key_secret"), "--allowed-keys",
               key_dir("workers", "worker"), "--ctl-allowed-keys", key_dir("operators", "operator"),
               "--ctl-bind", "tcp://127.0.0.1:*"], "coordinator")
    line = wait_for_log(c, "coordinator on ")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)", line).group(1)
    ep = re.search(r"ctl on (tcp://[0-9.]+:\d+)", wait_for_log(c, "ctl on ")).group(1)
    start([SURGE, "worker", "--connect", endpoint, "--id", "w1", "--reconnect-timeout", "10s",
           "--cert", os.path.join(keys, "worker.key_secret"), "--coordinator-key", coord_pub],
          "worker")
    op = ["--cert", os.path.join(keys, "operator.key_secret"), "--coordinator-key", coord_pub]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (status(ep, keys=op).get("t_s") or -1) < 1:
        time.sleep(0.2)

    refused = [("no key", []),
               ("an unknown key", ["--cert", os.path.join(keys, "stranger.key_secret"),
                                   "--coordinator-key", coord_pub]),
               ("a worker's key", ["--cert", os.path.join(keys, "worker.key_secret"),
                                   "--coordinator-key", coord_pub])]
    for what, k in refused:
        r = ctl(ep, "pause", timeout="2s", keys=k)
        if r.returncode != 3:
            fail("ctl with %s: exit %d (want 3): %s%s" % (what, r.returncode, r.stdout, r.stderr))
    if "ctl door" not in log_of(c) and "door=ctl" not in log_of(c):
        fail("the coordinator did not log the refused operators:\n" + log_of(c)[-3000:])

    # Garbage and malformed msgpack from an admitted operator: error replies, nothing changes.
    py = "/usr/bin/python3"
    probe = os.path.join(HERE, "ctl_garbage.py")
    r = run([py, probe, ep, os.path.join(keys, "operator.key_secret"), coord_pub], 30)
    if r.returncode == 77:
        print("note: garbage probe skipped: %s" % r.stdout.strip())
    elif r.returncode != 0:
        fail("garbage probe: exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    else:
        print(r.stdout.strip())
    s = status(ep, keys=op)
    if s["paused"] or s["state"] != "running":
        fail("the run changed after refused requests: %s" % s)
    ctl_ok(ep, "stop", keys=op)
    if wait_exit(c, 40) != 0:
        fail("coordinator after stop:\n%s" % log_of(c)[-3000:])
    res = results(out)
    if res["chaos"]["overrides"] != [] and [o["command"] for o in res["chaos"]["overrides"]] != ["stop"]:
        fail("refused requests left overrides: %s" % res["chaos"]["overrides"])
    if res["ctl"]["refused"] < (3 if r.returncode == 0 else 0) or not res["ctl"]["curve"]:
        fail("ctl record: %s" % res["ctl"])
    print("ok: ctl refused without a key, with an unknown key and with a worker's key; "
          "garbage answered and counted (%d refused)" % res["ctl"]["refused"])


def plan_errors():
    cases = [
        ("chaos:\n  - at: {phase: nope}\n    mark: x\n", ":2:", "no phase named 'nope'"),
        ("chaos:\n  - at: 5s\n    fault: maybe\n    name: f\n", ":4:", "expected start or end"),
        ("chaos:\n  - at: 5s\n    run: [a]\n    timeout: soon\n", ":5:", "'timeout'"),
        ("chaos:\n  - at: 5s\n    fault: end\n    name: f\n", ":2:", "which no action starts"),
        ("chaos:\n  - at: 5s\n", ":2:", "needs 'run', 'fault' or 'mark'"),
        ("chaos:\n  - at: 5s\n    mark: x\n    bogus: 1\n", ":4:", "unknown key 'bogus'"),
    ]
    phase = "  - name: steady\n    kind: constant\n    rate: 1/s\n    duration: 5s\n"
    for i, (chaos, where, words) in enumerate(cases):
        path = write_plan("bad%d" % i, ["http://127.0.0.1:9"], phase, chaos)
        r = run([SURGE, "validate", path])
        # The chaos lines start after the phases (file lines 9+): compare the message only.
        if r.returncode != 2 or words not in r.stderr or "chaos" not in r.stderr:
            fail("case %d: exit %d: %s" % (i, r.returncode, r.stderr))
        if not re.search(re.escape(path) + r":\d+:\d+: chaos: ", r.stderr):
            fail("case %d: no file:line:col: %s" % (i, r.stderr))
    good = write_plan("good", ["http://127.0.0.1:9"], phase,
                      "chaos:\n  actions:\n    - at: {phase: steady, after: 1s}\n"
                      "      run: echo hi\n      fault: start\n      name: f\n"
                      "  impact: {baseline: 3, recovery: 2, ttft: 100%, error_rate: 0.05}\n")
    r = run([SURGE, "validate", good])
    if r.returncode != 0 or "chaos: 1 planned action" not in r.stdout + r.stderr:
        fail("a good chaos plan: exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    print("ok: %d bad chaos entries named with file:line:col" % len(cases))


SCENARIOS = {f.__name__: f for f in (planned_fault_in_table, operator_fault_in_table,
                                     overrides_seen_by_sim, stop_is_graceful, ctl_security,
                                     plan_errors)}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... chaos_test.py %s" % "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
