#!/usr/bin/env python3
"""hostile_test.py SCENARIO: hostile peers against real surge processes on loopback.

The liar is hostile_peer (HOSTILE_PEER, a C program speaking proto/ and raw bytes).

  fake_worker       a real `surge coordinator`, two real workers driving a real
                    `surge sim`, and the fake worker: junk of every class before the run,
                    hello floods, a frame over the size cap, then, during the run, one
                    genuine snapshot, its replays, and forged snapshots. The coordinator
                    survives, counts every refusal by class (results.json rejected_by),
                    and its merged totals are exactly what the sim served plus the one
                    genuine snapshot: replays are not double-counted, forgeries not merged.
  fake_coordinator  a real `surge worker` against the fake coordinator: junk, wrongly
                    typed plans and phases, absurd rates (1e12/s, negative, NaN), segments
                    outside [0, 1), clocks at the ends of int64 (heartbeats that reach the
                    offset arithmetic, plan and phase times), an ack flood, then silence. The worker survives every
                    message, refuses each with a logged reason, sends nothing for the
                    absurd phases, fences within 3 heartbeats of the silence (the target
                    sees nothing after the fence), refuses a plan naming a target outside
                    its --allow-target list (that target sees nothing), and a worker
                    welcomed in another protocol version exits 3 naming both versions.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import (cleanup, fail, init, log_of, sanitized, start, wait_exit,  # noqa: E402
                   wait_for_log)

SURGE = os.environ.get("SURGE_BIN")
PEER = os.environ.get("HOSTILE_PEER")
TMP = init("surge-hostile-")


def sim_served(url):
    """Requests the simulator finished, from its own /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("vllm:request_success_total"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def fake_worker():
    sim = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny"], "sim")
    url = wait_for_log(sim, "listening on").split("listening on ")[1].strip()
    out = os.path.join(TMP, "out")
    rate, seconds = 20, 5
    coord = start([SURGE, "coordinator", "--target", url, "--model", "surge-sim-tiny",
                   "--bind", "tcp://127.0.0.1:*", "--workers", "3", "--heartbeat", "200ms",
                   "--rate", str(rate), "--duration", "%ds" % seconds, "--arrival", "constant",
                   "--max-tokens", "4", "--out", out, "--progress", "plain", "--drain", "5s",
                   "--ready-timeout", "40s", "--record-requests"], "coordinator")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                         wait_for_log(coord, "coordinator on ")).group(1)
    fake = start([PEER, "worker", endpoint], "fake-worker")
    wait_for_log(fake, "fake joined", 30)
    for wid in ("w1", "w2"):
        start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", wid,
               "--reconnect-timeout", "20s"], "worker-" + wid)
    if wait_exit(fake, 60) != 0:
        fail("the fake worker failed:\n" + log_of(fake)[-3000:])
    rc = wait_exit(coord, 60)
    if rc != 0:
        fail("coordinator exit %d (it must survive and complete):\n%s" % (rc, log_of(coord)[-4000:]))
    flog = log_of(fake)
    legit_ok = int(re.search(r"legit ok (\d+)", flog).group(1))
    replays = int(re.search(r"replays (\d+)", flog).group(1))
    expected = {m.group(1): int(m.group(2)) for m in re.finditer(r"expect (\w+) (\d+)", flog)}
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    by = res.get("rejected_by", {})
    for cls, n in expected.items():
        if by.get(cls, 0) < n:
            fail("rejected_by[%s] = %d, the fake sent %d such messages: %s"
                 % (cls, by.get(cls, 0), n, by))
    if res["rejected_messages"] != sum(by.values()):
        fail("rejected_messages %d is not the sum of rejected_by %s" % (res["rejected_messages"], by))

    s = res["summary"]["requests"]
    served = sim_served(url)
    planned = rate * seconds
    # The real workers alone: every planned arrival sent once, every one served.
    if s["errors"] != 0:
        fail("errors in the run: %s" % res["summary"]["errors_by_class"])
    if s["sent"] != planned + legit_ok or s["scheduled"] != planned + legit_ok:
        fail("merged sent %d / scheduled %d: want the plan's %d plus the genuine snapshot's %d"
             % (s["sent"], s["scheduled"], planned, legit_ok))
    if s["ok"] != served + legit_ok:
        fail("merged ok %d: want the sim's %d served plus the genuine snapshot's %d (a replay "
             "or a forgery was merged)" % (s["ok"], served, legit_ok))
    valid, refused = map(int, re.search(r"request lines valid (\d+) refused (\d+)", flog).groups())
    with open(os.path.join(out, "requests.jsonl")) as f:
        lines = f.read().splitlines()
    for line in lines:
        if not isinstance(json.loads(line), dict):
            fail("requests.jsonl holds a line that is not an object: %r" % line[:200])
    marked = [l for l in lines if "hostile" in l]
    if len(marked) != valid or res.get("requests_lines_refused") != refused:
        fail("requests.jsonl: %d of the fake's lines written (want %d), %s refused (want %d)"
             % (len(marked), valid, res.get("requests_lines_refused"), refused))
    if len(lines) - len(marked) != served:
        fail("requests.jsonl: %d real lines for %d served" % (len(lines) - len(marked), served))
    workers = {w["id"]: w for w in res["workers"]}
    fw = workers.get("fake-0")
    if not fw or fw["duplicate_snapshots"] < replays:
        fail("fake-0's replays are not counted as duplicates: %s" % fw)
    for wid in ("w1", "w2"):
        if workers[wid]["requests"] == 0:
            fail("real worker %s did no work: %s" % (wid, workers[wid]))
    clog = log_of(coord)
    for needle in ("names worker 'w1', not the sender", "never said hello", "a count above",
                   "name phase 9999", "message refused"):
        if needle not in clog:
            fail("the coordinator did not log '%s'" % needle)
    print("ok: %d served + %d genuine = %d merged; %d refusals %s; %d replays ignored"
          % (served, legit_ok, s["ok"], res["rejected_messages"], json.dumps(by, sort_keys=True),
             fw["duplicate_snapshots"]), flush=True)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    fail("no VmHWM for pid %d" % pid)


def amplifying_snapshots_leave_coordinator_memory_flat():
    """Snapshots that cost more to decode than their bytes (5-digit histograms over
    1 us..1 h; 256 per-target histograms spanning the whole range), from a connection that
    never said hello and from an admitted worker: the coordinator's peak resident memory
    (VmHWM) grows by less than 64 MiB, and each is refused with a logged reason."""
    out = os.path.join(TMP, "out-amplify")
    coord = start([SURGE, "coordinator", "--target", "http://127.0.0.1:9", "--model", "m",
                   "--bind", "tcp://127.0.0.1:*", "--workers", "1", "--heartbeat", "100ms",
                   "--rate", "1", "--duration", "30s", "--out", out, "--progress", "plain",
                   "--ready-timeout", "40s"], "coordinator")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                         wait_for_log(coord, "coordinator on ")).group(1)
    time.sleep(0.3)
    before = vm_hwm_kib(coord.pid)
    fake = start([PEER, "amplify", endpoint], "fake-amplifier")
    wait_for_log(fake, "amplified", 60)
    after = vm_hwm_kib(coord.pid)
    clog = log_of(coord)
    sizes = re.search(r"five-digit snapshot (\d+) bytes, wide snapshot (\d+) bytes",
                      log_of(fake))
    print("coordinator VmHWM %d KiB before, %d KiB after (+%d KiB) for 40 x %s B and 40 x %s B"
          % (before, after, after - before, sizes.group(1), sizes.group(2)), flush=True)
    if after - before > 64 * 1024 and not sanitized():
        fail("the coordinator's VmHWM grew by %d KiB (cap 64 MiB)" % (after - before))
    for needle in ("refused unread", "field total.d", "counters",
                   "worker evil\\nsurge[coordinator] INFO  forged line\\x1b[2J joined"):
        if needle not in clog:
            fail("the coordinator did not log '%s':\n%s" % (needle, clog[-3000:]))
    # A worker id with a newline and a terminal escape stays on its line, escaped.
    if "\x1b" in clog or any(l.startswith("surge[coordinator] INFO  forged") for l in
                                clog.splitlines()):
        fail("a worker id forged a log line or a terminal escape:\n%s" % clog[-3000:])
    coord.terminate()


def stranger_cannot_join_or_steer_a_local_run():
    """A `surge run` on loopback with one local worker against a counting target; a local
    stranger says hello (capacity 4096) and forges snapshots, in plain text and with CURVE
    under its own key, and tries `surge ctl set-rate` without the run's key and with one of
    its own. It gets no answer, the rate is unchanged, and the run's results equal what the
    target counted."""
    url = count_server("target")
    out = os.path.join(TMP, "out-stranger")
    # Long enough that the stranger's whole handshake flood (1.5 s, after its hellos and
    # forgeries) lands while the run is still counting refusals.
    rate, seconds = 10, 8
    run = start([SURGE, "run", "--target", url, "--model", "count", "--rate", str(rate),
                 "--duration", "%ds" % seconds, "--arrival", "constant", "--max-tokens", "4",
                 "--workers", "1", "--out", out, "--progress", "plain"], "run")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                         wait_for_log(run, "coordinator on ")).group(1)
    server_key = os.path.join(out, "ctl.coordinator.key")
    secret = os.path.join(out, "ctl.key_secret")
    deadline = time.monotonic() + 10
    while not os.path.exists(secret) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.exists(secret):
        print("note: no %s: the run has no operator key (checked below)" % secret, flush=True)
    elif os.stat(secret).st_mode & 0o077:
        fail("%s has mode %o: others can read the run's operator key"
             % (secret, os.stat(secret).st_mode & 0o777))
    fake = start([PEER, "stranger", endpoint, server_key], "stranger")
    ctl_ep = open(os.path.join(out, "ctl.endpoint")).read().strip()
    keys = os.path.join(TMP, "stranger-keys")
    subprocess.run([SURGE, "keygen", keys, "--name", "stranger"], check=True,
                   capture_output=True)
    for what, extra in (("no key", []),
                        ("a key of its own", ["--cert", os.path.join(keys, "stranger.key_secret"),
                                              "--coordinator-key", server_key])):
        r = subprocess.run([SURGE, "ctl", "--coordinator", ctl_ep, "--timeout", "1s"] + extra +
                           ["set-rate", "200"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, SURGE_RESULTS_DIR=""))
        if r.returncode != 3:
            fail("a stranger's surge ctl with %s: exit %d (want 3): %s%s"
                 % (what, r.returncode, r.stdout, r.stderr))
    # The owner's key works; a mark text with a newline and a terminal escape is logged on
    # its own line, escaped.
    deadline = time.monotonic() + 10
    while True:
        r = subprocess.run([SURGE, "ctl", "--results", out, "mark",
                            "ok\nsurge[run] INFO  forged mark\x1b]0;owned\x07"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 or "run starts in" not in r.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if r.returncode != 0:
        fail("the owner's surge ctl --results: exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    if wait_exit(fake, 30) != 0:
        fail("the stranger failed:\n" + log_of(fake)[-2000:])
    flog = log_of(fake)
    if "plain: no answer" not in flog or "curve: no answer" not in flog:
        fail("the stranger was answered:\n" + flog)
    rc = wait_exit(run, 60)
    if rc != 0:
        fail("surge run exit %d:\n%s" % (rc, log_of(run)[-3000:]))
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    served = count(url)
    s = res["summary"]["requests"]
    if s["ok"] != served or s["total"] != served or s["sent"] != rate * seconds:
        fail("results say ok %d / total %d / sent %d; the target served %d of %d planned"
             % (s["ok"], s["total"], s["sent"], served, rate * seconds))
    ids = [w["id"] for w in res["workers"]]
    if ids != ["local-1"]:
        fail("workers in the results: %s" % ids)
    if os.path.exists(secret):
        fail("the run's operator key outlived the run: %s" % secret)
    rlog = log_of(run)
    # The handshake flood (thousands of failures in 1.5 s): a few lines a second, then counts.
    lines = [l for l in rlog.splitlines() if "failed the ZeroMQ handshake (" in l]
    handshakes = res["rejected_by"].get("handshake", 0)
    if handshakes < 200 or len(lines) > 5 * 12 or "more connections failed the ZeroMQ " \
            "handshake" not in rlog:
        fail("handshake flood: %d refused, %d lines logged (cap 5 a second), summary %s"
             % (handshakes, len(lines), "more connections failed" in rlog))
    if ("\x1b" in rlog or "\x07" in rlog or
            any(l.startswith("surge[run] INFO  forged") for l in rlog.splitlines()) or
            "ok\\nsurge[run] INFO  forged mark\\x1b]0;owned\\x07" not in rlog):
        fail("the mark text was not logged escaped on its line:\n%s" % rlog[-3000:])
    print("ok: the stranger got no answer (plain, own CURVE key), ctl refused it twice; "
          "results %d ok = %d served" % (s["ok"], served), flush=True)


def count_server(name):
    p = start([sys.executable, os.path.join(HERE, "..", "fleet", "count_server.py")], name)
    return wait_for_log(p, "listening on").split("listening on ")[1].strip()


def count(url):
    with urllib.request.urlopen(url + "/counts", timeout=5) as r:
        return json.load(r)["total"]


def fake_coordinator():
    allowed, forbidden = count_server("allowed"), count_server("forbidden")
    port = allowed.rsplit(":", 1)[1]
    fc = start([PEER, "coordinator"], "fake-coordinator",
               {"ALLOWED_URL": allowed, "FORBIDDEN_URL": forbidden})
    endpoint = wait_for_log(fc, "coordinator on ").split("coordinator on ")[1].strip()
    w = start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", "victim",
               "--allow-target", "127.0.0.1:" + port, "--reconnect-timeout", "10s"], "worker")
    wait_for_log(fc, "valid phase sent", 30)
    # Nothing the absurd phases said may have reached a target.
    if count(allowed) != 0 or count(forbidden) != 0:
        fail("traffic before the valid phase: allowed %d, forbidden %d"
             % (count(allowed), count(forbidden)))
    wait_for_log(fc, "silent", 30)
    # The plan whose request bodies would repeat a 60 KiB extra_body 12,000 times (720 MB
    # from ~75 KB) was refused before anything was built.
    hwm = vm_hwm_kib(w.pid)
    if (hwm > 256 * 1024 and not sanitized()) or "bytes of request bodies" not in log_of(w):
        fail("the amplifying plan: worker VmHWM %d KiB, refused: %s"
             % (hwm, "bytes of request bodies" in log_of(w)))
    print("worker VmHWM %d KiB after the amplifying plan" % hwm, flush=True)
    wait_for_log(w, "silent for 3 heartbeats", 10)
    time.sleep(0.3)  # requests on the wire at the fence have landed
    at_fence = count(allowed)
    time.sleep(2.0)
    after = count(allowed)
    if at_fence == 0:
        fail("the valid phase sent nothing: the test proves nothing")
    if after != at_fence:
        fail("the target got %d requests after the worker fenced" % (after - at_fence))
    if at_fence > 20 * 3:
        fail("%d requests in ~2 s of a 20/s phase: beyond the phase's bounds" % at_fence)
    rc = wait_exit(w, 30)
    if rc != 3:
        fail("worker exit %s after the forbidden plan, expected 3:\n%s" % (rc, log_of(w)[-3000:]))
    wlog = log_of(w)
    if "not in this worker's --allow-target list" not in wlog:
        fail("the worker did not say why it refused the plan:\n" + wlog[-3000:])
    if count(forbidden) != 0:
        fail("the forbidden target got %d requests" % count(forbidden))
    if "bye: plan refused" not in log_of(fc):
        fail("the fake coordinator got no bye naming the refusal:\n" + log_of(fc)[-2000:])
    refusals = wlog.count("coordinator message refused")
    # junk (garbage, truncated welcome, wrong types, unknown type), 4 plans, 14 phases
    if refusals < 20:
        fail("only %d refusals logged by the worker:\n%s" % (refusals, wlog[-3000:]))
    for needle in ("message of 2 frames", "unexpected hello", "rate0", "from", "api",
                   "field time", "field run_t0", "field t0"):
        if needle not in wlog:
            fail("the worker did not log '%s':\n%s" % (needle, wlog[-3000:]))

    # Another protocol version in the welcome: the worker names both and exits 3.
    v = start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", "version-1",
               "--allow-target", "127.0.0.1:" + port, "--reconnect-timeout", "10s"], "worker-version")
    rc = wait_exit(v, 30)
    if rc != 3 or "speaks protocol version 2, this worker 1" not in log_of(v):
        fail("version mismatch: exit %s:\n%s" % (rc, log_of(v)[-2000:]))
    wait_exit(fc, 30)
    print("ok: %d refusals logged, %d requests before the fence, none after, none to the "
          "forbidden target" % (refusals, at_fence), flush=True)


SCENARIOS = {f.__name__: f for f in (fake_worker, fake_coordinator,
                                     amplifying_snapshots_leave_coordinator_memory_flat,
                                     stranger_cannot_join_or_steer_a_local_run)}

if __name__ == "__main__":
    if not SURGE or not PEER or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... HOSTILE_PEER=... hostile_test.py " + "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
    print("PASS", flush=True)
