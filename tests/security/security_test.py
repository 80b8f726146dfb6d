#!/usr/bin/env python3
"""security_test.py SCENARIO: CURVE and secret handling, real processes on loopback.

Each scenario makes its own keys (`surge keygen`), starts its own targets, coordinator
and workers, kills what it started on exit, and is bounded in time. Scenarios:

  keygen_files            keygen writes NAME.key (public) and NAME.key_secret (0600) and
                          never overwrites an existing pair
  allowed_worker_runs     a worker whose key is in --allowed-keys joins and the run
                          completes; results.json says security.curve true
  unknown_key_refused     a worker with a key not in --allowed-keys (laid out like a
                          Kubernetes Secret mount: symlinks into ..data/, whose own
                          entries must not count) is refused and logged; the coordinator
                          waiting for it exits 3 and its target gets zero requests
  wrong_coordinator_key   a worker given another coordinator key cannot connect: it says
                          so and exits 3 after its reconnect timeout; zero requests
  plaintext_bind_refused  a coordinator bound off loopback without keys is refused with
                          the message saying how to create and pass keys (exit 2); with
                          --insecure it binds and results.json says insecure true
  api_key_nowhere         a unique planted API key (env var, and a key file) is sent to a
                          target that requires it, and appears in no output: results dirs,
                          stdout/stderr of every process, --help of every command. The key
                          file reaches the fleet's workers as a path (read on their host,
                          under --api-key-dir), never as the key
  api_key_dir_required    a worker without --api-key-dir (or whose dir does not hold the
                          plan's key file) refuses a plan naming one: it says why, exits 3,
                          and the keyed target gets no request
"""
import json
import re
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.request

SURGE = os.environ.get("SURGE_BIN")
HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.join(os.path.dirname(HERE), "fleet")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402

TMP = init("surge-sec-")














def run(cmd, timeout_s=30, env=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=full_env)


def keygen(name):
    r = run([SURGE, "keygen", os.path.join(TMP, "keys"), "--name", name])
    if r.returncode != 0:
        fail("keygen %s: exit %d: %s" % (name, r.returncode, r.stderr))
    return os.path.join(TMP, "keys", name + ".key")


def allowed_dir(*public_keys):
    """A directory laid out like a Kubernetes Secret mount: the files are symlinks into
    ..data -> ..<timestamp>/, and a stray key in the hidden directory must not count."""
    d = os.path.join(TMP, "allowed")
    stamp = os.path.join(d, "..2026_11_23_20_00_00.000")
    os.makedirs(stamp)
    for k in public_keys:
        shutil.copy(k, os.path.join(stamp, os.path.basename(k)))
        os.symlink(os.path.join("..data", os.path.basename(k)), os.path.join(d, os.path.basename(k)))
    os.symlink(os.path.basename(stamp), os.path.join(d, "..data"))
    return d


def count_server():
    p = start([sys.executable, os.path.join(FLEET, "count_server.py")], "target")
    line = wait_for_log(p, "listening on")
    return line.split("listening on ")[1].strip()


def total_requests(url):
    with urllib.request.urlopen(url + "/counts", timeout=5) as r:
        return json.load(r)["total"]


def curve_coordinator(url, out, allowed, extra=()):
    cmd = [SURGE, "coordinator", "--target", url, "--model", "count", "--rate", "5",
           "--duration", "2s", "--arrival", "constant", "--bind", "tcp://127.0.0.1:*",
           "--workers", "1", "--out", out, "--progress", "plain",
           "--cert", os.path.join(TMP, "keys", "coordinator.key_secret"),
           "--allowed-keys", allowed] + list(extra)
    p = start(cmd, "coordinator")
    line = wait_for_log(p, "coordinator on ")
    return p, re.search(r"coordinator on (tcp://[0-9.]+:\d+)", line).group(1)


def curve_worker(endpoint, name, coordinator_key, timeout="20s"):
    return start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", name,
                  "--reconnect-timeout", timeout,
                  "--cert", os.path.join(TMP, "keys", name + ".key_secret"),
                  "--coordinator-key", coordinator_key], "worker-" + name)


def results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


# ---- scenarios -------------------------------------------------------------------------

def keygen_files():
    pub = keygen("alice")
    secret = pub + "_secret"
    text = open(pub).read()
    if "public-key" not in text or "secret-key" in text:
        fail("the public certificate is not public-only:\n" + text)
    if "secret-key" not in open(secret).read():
        fail("the secret certificate holds no secret key")
    mode = stat.S_IMODE(os.stat(secret).st_mode)
    if mode != 0o600:
        fail("the secret certificate has mode %o, not 600" % mode)
    before = open(secret).read()
    r = run([SURGE, "keygen", os.path.join(TMP, "keys"), "--name", "alice"])
    if r.returncode == 0 or "already exists" not in r.stderr:
        fail("keygen overwrote (or did not refuse) an existing pair: %d %s" % (r.returncode, r.stderr))
    if open(secret).read() != before:
        fail("the existing secret certificate changed")


def allowed_worker_runs():
    coord_pub = keygen("coordinator")
    worker_pub = keygen("worker")
    url = count_server()
    out = os.path.join(TMP, "out")
    c, endpoint = curve_coordinator(url, out, allowed_dir(worker_pub))
    w = curve_worker(endpoint, "worker", coord_pub)
    if wait_exit(c, 60) != 0:
        fail("coordinator exit %s:\n%s" % (c.returncode, log_of(c)[-3000:]))
    if wait_exit(w, 30) != 0:
        fail("worker exit %s:\n%s" % (w.returncode, log_of(w)[-3000:]))
    r = results(out)
    if r.get("security") != {"curve": True, "insecure": False}:
        fail("results.json security: %r" % r.get("security"))
    if r["status"] != "completed" or total_requests(url) == 0:
        fail("the run did not complete with traffic: %s, %d requests" % (r["status"], total_requests(url)))


def unknown_key_refused():
    coord_pub = keygen("coordinator")
    worker_pub = keygen("worker")
    keygen("stranger")
    # The stranger's public key sits in the hidden ..<timestamp> dir only: it must not count.
    d = allowed_dir(worker_pub)
    shutil.copy(os.path.join(TMP, "keys", "stranger.key"),
                os.path.join(d, "..2026_11_23_20_00_00.000", "stranger.key"))
    url = count_server()
    out = os.path.join(TMP, "out")
    c, endpoint = curve_coordinator(url, out, d, ["--ready-timeout", "3s"])
    w = curve_worker(endpoint, "stranger", coord_pub, timeout="3s")
    if wait_exit(c, 30) != 3:
        fail("coordinator exit %s, expected 3:\n%s" % (c.returncode, log_of(c)[-3000:]))
    if wait_exit(w, 30) != 3:
        fail("refused worker exit %s, expected 3:\n%s" % (w.returncode, log_of(w)[-3000:]))
    text = log_of(c)
    if "denied (CURVE)" not in text or "ipaddress=127.0.0.1" not in text:
        fail("the coordinator did not log the refused peer:\n" + text[-3000:])
    if total_requests(url) != 0:
        fail("the target got %d requests from a refused worker" % total_requests(url))


def wrong_coordinator_key():
    keygen("coordinator")
    other_pub = keygen("impostor")
    worker_pub = keygen("worker")
    url = count_server()
    out = os.path.join(TMP, "out")
    c, endpoint = curve_coordinator(url, out, allowed_dir(worker_pub), ["--ready-timeout", "4s"])
    w = curve_worker(endpoint, "worker", other_pub, timeout="2s")
    if wait_exit(w, 30) != 3:
        fail("worker exit %s, expected 3:\n%s" % (w.returncode, log_of(w)[-3000:]))
    if "cannot reach or authenticate the coordinator" not in log_of(w):
        fail("the worker did not say why:\n" + log_of(w)[-3000:])
    if "joined" in log_of(c):
        fail("a worker with the wrong coordinator key joined:\n" + log_of(c)[-3000:])
    if wait_exit(c, 30) != 3:
        fail("coordinator exit %s, expected 3" % c.returncode)
    if total_requests(url) != 0:
        fail("the target got %d requests" % total_requests(url))


def plaintext_bind_refused():
    url = count_server()
    out = os.path.join(TMP, "out")
    base = [SURGE, "coordinator", "--target", url, "--model", "count", "--rate", "5",
            "--duration", "1s", "--bind", "tcp://0.0.0.0:0", "--workers", "1", "--out", out,
            "--progress", "plain"]
    r = run(base)
    if r.returncode != 2:
        fail("plain-text non-loopback bind: exit %d, expected 2:\n%s" % (r.returncode, r.stderr))
    for needed in ("surge keygen keys --name coordinator", "--cert", "--allowed-keys", "--insecure"):
        if needed not in r.stderr:
            fail("the refusal does not say '%s':\n%s" % (needed, r.stderr))
    if os.path.exists(os.path.join(out, "results.json")):
        fail("a refused coordinator wrote results")
    r = run([SURGE, "worker", "--connect", "tcp://192.0.2.1:5555"])
    if r.returncode != 2 or "surge keygen keys --name worker" not in r.stderr:
        fail("plain-text non-loopback worker: exit %d:\n%s" % (r.returncode, r.stderr))
    # --insecure binds (no worker comes; the run fails) and the results say so.
    r = run(base[:] + ["--insecure", "--ready-timeout", "1s"])
    if r.returncode != 3:
        fail("--insecure: exit %d, expected 3 (no worker):\n%s" % (r.returncode, r.stderr))
    sec = results(out).get("security")
    if sec != {"curve": False, "insecure": True}:
        fail("results.json security with --insecure: %r" % sec)


def api_key_nowhere():
    key = "sk-planted-%s-%d" % (os.urandom(8).hex(), os.getpid())
    env = {"SURGE_TEST_API_KEY": key}
    outputs = []  # (name, text)

    # 1. A target that requires the key: proves it was sent.
    ks = start([sys.executable, os.path.join(HERE, "key_server.py")], "key-server",
               {"SURGE_TEST_EXPECTED_KEY": key})
    url = wait_for_log(ks, "listening on").split("listening on ")[1].strip()
    plan = os.path.join(TMP, "key.yaml")
    with open(plan, "w") as f:
        f.write("name: key\ntargets: [%s]\nmodel: key\napi_key_env: SURGE_TEST_API_KEY\n"
                "phases:\n  - name: main\n    kind: constant\n    rate: 10/s\n    duration: 2s\n" % url)
    runs = [("keyed", plan)]
    # The same target with the key from a file: `surge run` hands its local workers the
    # file's path over the fleet protocol (and --api-key-dir), so the file must reach them.
    key_dir = os.path.join(TMP, "keys")
    os.makedirs(key_dir)
    target_key_file = os.path.join(key_dir, "target.key")
    with open(target_key_file, "w") as f:
        f.write(key + "\n")
    plan_file = os.path.join(TMP, "key-file.yaml")
    with open(plan_file, "w") as f:
        f.write("name: key-file\ntargets: [%s]\nmodel: key\napi_key_file: %s\n"
                "phases:\n  - name: main\n    kind: constant\n    rate: 10/s\n    duration: 2s\n"
                % (url, target_key_file))
    runs.append(("keyed-file", plan_file))

    # 2. The simulator, with the key from the environment and from a key file.
    key_file = os.path.join(TMP, "api.key")
    with open(key_file, "w") as f:
        f.write(key + "\n")
    for name, line in (("sim-env", "api_key_env: SURGE_TEST_API_KEY"),
                       ("sim-file", "api_key_file: %s" % key_file)):
        p = os.path.join(TMP, name + ".yaml")
        with open(p, "w") as f:
            f.write("name: %s\ntargets: [sim://tiny]\nmodel: surge-sim-tiny\n%s\n"
                    "phases:\n  - name: main\n    kind: constant\n    rate: 10/s\n"
                    "    duration: 2s\n" % (name, line))
        runs.append((name, p))

    for name, p in runs:
        out = os.path.join(TMP, "results-" + name)
        r = run([SURGE, "run", p, "--workers", "1", "--record-requests", "--out", out,
                 "--progress", "plain"], timeout_s=60, env=env)
        if r.returncode != 0:
            fail("%s: surge run exit %d:\n%s" % (name, r.returncode, r.stderr[-3000:]))
        outputs += [(name + " stdout", r.stdout), (name + " stderr", r.stderr)]
        if not os.path.exists(os.path.join(out, "requests.jsonl")):
            fail("%s: no requests.jsonl" % name)
        rr = run([SURGE, "report", out], timeout_s=60, env=env)
        outputs += [(name + " report stdout", rr.stdout), (name + " report stderr", rr.stderr)]

    with urllib.request.urlopen(url + "/counts", timeout=5) as r:
        counts = json.load(r)
    if counts["ok"] < 30 or counts["refused"] != 0:
        fail("the keyed target saw %r: the key (from the environment, then from a file) was "
             "not sent with every request of both runs" % counts)

    # 3. --help of every command, with the key in the environment.
    for cmd in ([], ["run"], ["coordinator"], ["worker"], ["sim"], ["ctl"], ["validate"],
                ["report"], ["compare"], ["keygen"]):
        r = run([SURGE] + cmd + ["--help"], env=env)
        outputs.append(("surge %s --help" % " ".join(cmd), r.stdout + r.stderr))

    # 4. Every file written anywhere in the scratch dir (results, reports, logs), except
    #    the key file itself and the plans that name it.
    for root, _, files in os.walk(TMP):
        for fn in files:
            path = os.path.join(root, fn)
            if path in (key_file, target_key_file):
                continue
            with open(path, "rb") as f:
                outputs.append((path, f.read().decode("latin-1")))
    checked = 0
    for name, text in outputs:
        checked += 1
        if key in text:
            fail("the planted API key appears in %s" % name)
    if not any("report.html" in n for n, _ in outputs):
        print("note: no report.html was written", flush=True)
    print("checked %d outputs: the key is in none" % checked, flush=True)


def api_key_dir_required():
    key = "sk-planted-%s" % os.urandom(8).hex()
    ks = start([sys.executable, os.path.join(HERE, "key_server.py")], "key-server",
               {"SURGE_TEST_EXPECTED_KEY": key})
    url = wait_for_log(ks, "listening on").split("listening on ")[1].strip()
    key_dir, other_dir = os.path.join(TMP, "keys"), os.path.join(TMP, "elsewhere")
    os.makedirs(key_dir)
    os.makedirs(other_dir)
    key_file = os.path.join(key_dir, "target.key")
    with open(key_file, "w") as f:
        f.write(key + "\n")
    plan = os.path.join(TMP, "key-file.yaml")
    with open(plan, "w") as f:
        f.write("name: key-file\ntargets: [%s]\nmodel: key\napi_key_file: %s\n"
                "phases:\n  - name: main\n    kind: constant\n    rate: 10/s\n    duration: 2s\n"
                % (url, key_file))
    port = url.rsplit(":", 1)[1]
    byes = {}
    for name, extra, why in (("no-dir", [], "it was given none"),
                             ("other-dir", ["--api-key-dir", other_dir], "is not inside"),
                             ("missing", ["--api-key-dir", key_dir], "No such file")):
        if name == "missing":
            os.rename(key_file, key_file + ".moved")
        out = os.path.join(TMP, "out-" + name)
        c = start([SURGE, "coordinator", plan, "--bind", "tcp://127.0.0.1:*", "--workers", "1",
                   "--out", out, "--progress", "plain", "--ready-timeout", "5s"], "coord-" + name)
        endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                             wait_for_log(c, "coordinator on ")).group(1)
        w = start([SURGE, "worker", "--connect", endpoint, "--id", name, "--threads", "1",
                   "--allow-target", "127.0.0.1:" + port, "--reconnect-timeout", "5s"] + extra,
                  "worker-" + name)
        if wait_exit(w, 30) != 3:
            fail("%s: worker exit %s, expected 3:\n%s" % (name, w.returncode, log_of(w)[-2000:]))
        if "plan refused: api_key_file" not in log_of(w) or why not in log_of(w):
            fail("%s: the worker did not say why:\n%s" % (name, log_of(w)[-2000:]))
        wait_exit(c, 60)
        if "plan refused: api_key_file" not in log_of(c):
            fail("%s: the coordinator did not log the refusal:\n%s" % (name, log_of(c)[-2000:]))
        # The coordinator learns which rule refused, never a path or whether a file exists.
        bye = re.search(r"cannot run the plan: (plan refused: api_key_file.*)",
                        log_of(c)).group(1)
        if key_dir in bye or other_dir in bye or "No such file" in bye:
            fail("%s: the refusal tells the coordinator about the worker's files: %s" % (name, bye))
        byes[name] = bye
    if byes["other-dir"] != byes["missing"]:
        fail("a file outside --api-key-dir and a missing one are told apart: %s" % byes)
    with urllib.request.urlopen(url + "/counts", timeout=5) as r:
        counts = json.load(r)
    if counts["ok"] or counts["refused"]:
        fail("the keyed target got requests from refusing workers: %r" % counts)


SCENARIOS = {f.__name__: f for f in (keygen_files, allowed_worker_runs, unknown_key_refused,
                                     wrong_coordinator_key, plaintext_bind_refused,
                                     api_key_nowhere, api_key_dir_required)}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... security_test.py " + "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
    print("PASS", flush=True)
