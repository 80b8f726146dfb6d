#!/usr/bin/env python3
"""measured_nothing_test.py SCENARIO: a run that measured nothing does not pass (issue 17).

Every scenario runs `surge run` with real processes on loopback (`surge sim`, local
workers, Python stub targets) under a hard time limit. Scenarios:

  limits_refused_before_load  a rate, duration or plan rate past what the workers accept
                              (common/limits.h) is exit 2 with a message naming the limit,
                              at once, before any worker or simulator starts
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

SURGE = os.environ.get("SURGE_BIN")
TMP = tempfile.mkdtemp(prefix="surge-nothing-")


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


if __name__ == "__main__":
    if not SURGE:
        print("SURGE_BIN is not set")
        sys.exit(77)
    scenarios = {"limits_refused_before_load": limits_refused_before_load}
    scenarios[sys.argv[1]]()
    print("ok: " + sys.argv[1])
