"""procs.py: the process harness the integration scripts share (fleet, security).

A script calls init() once for its scratch directory, starts every process with start()
(its output goes to NAME.log there, kept after the run for a post-mortem), and calls
cleanup() on the way out, which kills whatever is still running: no test leaves a
process behind. Every wait is bounded and fails the test with the process's log.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

PROCS = []
TMP = None


def init(prefix):
    """Makes the scratch directory (logs, results) and returns it."""
    global TMP
    TMP = tempfile.mkdtemp(prefix=prefix)
    return TMP


def sanitized():
    """Whether SURGE_BUILD is an ASan build (its CMakeCache says SURGE_SANITIZE=ON): resident
    memory says nothing there (shadow memory, the quarantine of freed blocks)."""
    cache = os.path.join(os.environ.get("SURGE_BUILD", ""), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return re.search(r"^SURGE_SANITIZE:BOOL=ON$", f.read(), re.M) is not None
    except OSError:
        return False


def fail(msg):
    print("FAIL: " + msg + ("\n(logs and results: %s)" % TMP if TMP else ""), flush=True)
    sys.exit(1)


def start(cmd, name, env=None, base_env=None, preexec_fn=None):
    """Starts cmd with its output in NAME.log. The environment is base_env (default: this
    process's) updated with env."""
    log = open(os.path.join(TMP, name + ".log"), "w")
    full_env = dict(os.environ if base_env is None else base_env)
    if env:
        full_env.update(env)
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                         preexec_fn=preexec_fn)
    p.log_path = log.name
    p.name = name
    PROCS.append(p)
    return p


def log_of(p):
    with open(p.log_path, errors="replace") as f:
        return f.read()


def wait_for_log(p, needle, timeout_s=15):
    """The first line of p's log containing needle; fails if none comes in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log_of(p).splitlines():
            if needle in line:
                return line
        if p.poll() is not None:
            break
        time.sleep(0.05)
    fail("%s: no '%s' in its log:\n%s" % (p.name, needle, log_of(p)[-3000:]))


def wait_exit(p, timeout_s):
    try:
        return p.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        fail("%s did not exit within %d s:\n%s" % (p.name, timeout_s, log_of(p)[-3000:]))


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
