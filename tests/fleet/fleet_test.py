#!/usr/bin/env python3
"""fleet_test.py SCENARIO: the fleet's promises, proven with real processes on loopback.

Each scenario starts its own count_server.py (the target, which counts requests per
second from its side), a coordinator and workers (SURGE_BIN), kills what it started on
exit, and is bounded in time. Scenarios:

  merged_percentiles   4 workers: merged P50/P95/P99 equal the percentiles of every
                       per-request record (requests.jsonl) within histogram precision,
                       and the achieved total rate matches the plan
  worker_killed        kill -9 of one worker: the target's rate is back on plan within
                       3 s, never doubles, and the lost worker's data is in results.json
  coordinator_killed   kill -9 of the coordinator: the target sees no request from 3 s
                       later on; intervals.jsonl holds every interval that closed
  worker_restarted     a worker killed and restarted mid-run rejoins and takes a segment
  version_refused      a worker announcing another protocol version is refused, and both
                       versions are named on both sides
  garbage_ignored      raw garbage and malformed ZeroMQ messages on the coordinator's
                       port are logged and ignored; the run still completes
  id_in_use_kept       a second process announcing the id of a live worker (a second pod
                       with the same --id, a stray worker of another run) is kept out
                       while that worker is alive: it never takes its segment
  allow_target_refused a worker refuses a plan naming a target outside its
                       --allow-target list: that target never sees a request, and the
                       coordinator logs which worker refused which target; a plan
                       inside the list runs
"""
import json
import math
import re
import os
import signal
import socket
import struct
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = init("surge-fleet-")














def count_server(name="target"):
    p = start([sys.executable, os.path.join(HERE, "count_server.py")], name)
    line = wait_for_log(p, "listening on")
    return p, line.split("listening on ")[1].strip()


def counts(url):
    with urllib.request.urlopen(url + "/counts", timeout=5) as r:
        d = json.load(r)
    return d, {int(k): v for k, v in d["per_second"].items()}


def wait_for_traffic(url, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        d, _ = counts(url)
        if d["total"] > 0:
            return d["start"]
        time.sleep(0.05)
    fail("no traffic reached the target")


def coordinator(url, out, workers, rate, duration, extra=()):
    cmd = [SURGE, "coordinator", "--target", url, "--bind", "tcp://127.0.0.1:*", "--workers", str(workers),
           "--out", out, "--progress", "plain", "--model", "count", "--rate", str(rate),
           "--duration", duration, "--arrival", "constant"] + list(extra)
    return cmd


def endpoint_of(p):
    line = wait_for_log(p, "coordinator on ")
    return re.search(r"coordinator on (tcp://[0-9.]+:\d+)", line).group(1)


def worker(endpoint, wid, env=None, extra=()):
    return start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", wid,
                  "--reconnect-timeout", "20s"] + list(extra), "worker-" + wid, env)


def results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


# ---- scenarios ----------------------------------------------------------------------

def hdr_rank_value(sorted_values, p):
    n = len(sorted_values)
    rank = max(1, int(math.ceil(p / 100.0 * n)))
    return sorted_values[rank - 1]


def merged_percentiles():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    rate, seconds = 40, 6
    run = start([SURGE, "run", "--target", url, "--model", "count", "--rate", str(rate),
                 "--duration", "%ds" % seconds, "--arrival", "constant", "--workers", "4",
                 "--threads", "1", "--record-requests", "--out", out, "--quiet"], "run")
    rc = wait_exit(run, 90)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(run)[-3000:]))
    res = results(out)
    with open(os.path.join(out, "requests.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    s = res["summary"]
    if len(records) != s["requests"]["total"]:
        fail("requests.jsonl has %d lines, summary %d requests" % (len(records),
                                                                   s["requests"]["total"]))
    if s["requests"]["errors"]:
        fail("errors: %s" % s["errors_by_class"])
    if len(res["workers"]) != 4 or any(w["requests"] == 0 for w in res["workers"]):
        fail("every one of the 4 workers should have sent requests: %s" % res["workers"])
    planned = rate * seconds
    if abs(s["requests"]["sent"] - planned) > 2:
        fail("sent %d requests, the plan says %d" % (s["requests"]["sent"], planned))
    if abs(s["achieved_rps"] - rate) > 0.05 * rate:
        fail("achieved %.2f/s, planned %d/s" % (s["achieved_rps"], rate))
    for metric in ("ttft_ms", "e2e_ms"):
        values = sorted(r[metric] for r in records if r.get(metric) is not None)
        if len(values) != len(records):
            fail("%s missing in some records" % metric)
        for p in (50, 95, 99):
            exact = hdr_rank_value(values, p)
            merged = s[metric]["p%d" % p]
            # 3 significant digits: the reported value is its bucket's highest equivalent.
            if not (exact - 0.001 <= merged <= exact * 1.002 + 0.002):
                fail("%s p%d: merged %.4f, records say %.4f" % (metric, p, merged, exact))
    print("ok: %d requests, merged percentiles match the records" % len(records))


def worker_killed():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    rate = 30
    coord = start(coordinator(url, out, 3, rate, "14s", ["--record-requests"]), "coordinator")
    ep = endpoint_of(coord)
    workers = [worker(ep, w) for w in ("a", "b", "c")]
    start_s = wait_for_traffic(url)
    time.sleep(4)
    workers[1].send_signal(signal.SIGKILL)
    kill_s = time.monotonic() - start_s
    rc = wait_exit(coord, 60)
    if rc != 0:
        fail("coordinator exited %d:\n%s" % (rc, log_of(coord)[-3000:]))
    _, per_s = counts(url)
    print("per-second counts:", [per_s.get(i, 0) for i in range(max(per_s) + 1)])
    first_ok = int(math.ceil(kill_s + 3))
    for sec in range(first_ok, first_ok + 4):
        if per_s.get(sec, 0) < 0.9 * rate:
            fail("second %d (kill at %.1f s): %d requests, plan %d/s" % (sec, kill_s,
                                                                       per_s.get(sec, 0), rate))
    for sec in range(1, max(per_s)):
        if per_s.get(sec, 0) > 1.15 * rate:
            fail("second %d: %d requests, more than the plan's %d/s" % (sec, per_s[sec], rate))
    res = results(out)
    lost = [w for w in res["workers"] if w["id"] == "b"]
    if not lost or lost[0]["lost_at_s"] is None or lost[0]["requests"] <= 0:
        fail("the killed worker's data should be in results.json: %s" % res["workers"])
    # The survivors took the lost share on the SAME global sequence: every arrival index
    # was sent at most once, each at its place in the one constant schedule (index/rate),
    # so the union of all workers' sends is the plan minus the lease gap, with no restart.
    with open(os.path.join(out, "requests.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    indices = [r["index"] for r in recs]
    if len(indices) != len(set(indices)):
        fail("an arrival index was sent twice after the re-segmentation (%d records, %d "
             "distinct)" % (len(indices), len(set(indices))))
    phase_t0 = min(r["t_sched_s"] - r["index"] / rate for r in recs)
    for r in recs:
        if abs(r["t_sched_s"] - (phase_t0 + r["index"] / rate)) > 0.002:
            fail("index %d intended at %.4f s, the constant schedule puts it at %.4f s"
                 % (r["index"], r["t_sched_s"], phase_t0 + r["index"] / rate))
    print("ok: back on plan from %.1f s after the kill; lost worker sent %d requests; "
          "%d arrival indices, each once, on the one schedule"
          % (first_ok - kill_s, lost[0]["requests"], len(indices)))


def coordinator_killed():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    coord = start(coordinator(url, out, 2, 30, "40s"), "coordinator")
    ep = endpoint_of(coord)
    workers = [worker(ep, w) for w in ("a", "b")]
    start_s = wait_for_traffic(url)
    time.sleep(5)
    coord.send_signal(signal.SIGKILL)
    kill_s = time.monotonic() - start_s
    coord.wait()
    time.sleep(5)
    d, per_s = counts(url)
    print("per-second counts:", [per_s.get(i, 0) for i in range(int(d["now"]) + 1)])
    late = {s: n for s, n in per_s.items() if s >= math.ceil(kill_s + 3)}
    if late:
        fail("requests reached the target more than 3 s after the coordinator died "
             "(kill at %.1f s): %s" % (kill_s, late))
    for w in workers:
        if "silent for 3 heartbeats" not in log_of(w):
            fail("%s did not report fencing:\n%s" % (w.name, log_of(w)[-2000:]))
    with open(os.path.join(out, "intervals.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    indexes = [line["interval"] for line in lines]
    if indexes != list(range(len(indexes))):
        fail("intervals.jsonl is not consecutive: %s" % indexes)
    if len(indexes) < int(kill_s) - 3:
        fail("only %d intervals on disk after %.1f s of load" % (len(indexes), kill_s))
    print("ok: load stopped after the coordinator died; %d intervals on disk" % len(indexes))


def worker_restarted():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    coord = start(coordinator(url, out, 2, 20, "16s"), "coordinator")
    ep = endpoint_of(coord)
    a, b = worker(ep, "a"), worker(ep, "b")
    wait_for_traffic(url)
    time.sleep(3)
    b.send_signal(signal.SIGKILL)
    time.sleep(2)
    b2 = worker(ep, "b")
    b2.name = "worker-b-restarted"
    rc = wait_exit(coord, 60)
    if rc != 0:
        fail("coordinator exited %d:\n%s" % (rc, log_of(coord)[-3000:]))
    if "mid-run" not in log_of(coord):
        fail("the restarted worker did not rejoin:\n%s" % log_of(coord)[-3000:])
    res = results(out)
    entries = [w for w in res["workers"] if w["id"] == "b"]
    if len(entries) != 2:
        fail("want two entries for b (killed, restarted): %s" % res["workers"])
    killed, restarted = entries[0], entries[1]
    if killed["lost_at_s"] is None:
        fail("the killed b should have a lost_at_s: %s" % killed)
    if restarted["requests"] <= 0 or restarted["share"] <= 0:
        fail("the restarted b should have a segment and requests: %s" % restarted)
    print("ok: restarted worker rejoined with share %.2f and %d requests"
          % (restarted["share"], restarted["requests"]))


def version_refused():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    coord = start(coordinator(url, out, 1, 5, "2s", ["--ready-timeout", "4s"]), "coordinator")
    ep = endpoint_of(coord)
    w = worker(ep, "old", env={"SURGE_TEST_PROTOCOL_VERSION": "2"})
    rc = wait_exit(w, 20)
    if rc != 3:
        fail("the mismatched worker exited %d, want 3" % rc)
    wanted = "worker speaks 2, coordinator speaks 1"
    if wanted not in log_of(w) or wanted not in log_of(coord):
        fail("both sides should name both versions:\n%s\n%s" % (log_of(w), log_of(coord)))
    rc = wait_exit(coord, 20)
    if rc != 3:
        fail("coordinator with no acceptable worker exited %d, want 3" % rc)
    d, _ = counts(url)
    if d["total"]:
        fail("a refused worker sent %d requests" % d["total"])
    print("ok: refused, both versions named")


def zmtp_dealer(port):
    """A minimal ZMTP 3.0 DEALER (NULL mechanism), enough to send frames."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + \
        b"\x00" + b"\x00" * 31
    s.sendall(greeting)
    got = b""
    while len(got) < 64:
        chunk = s.recv(64 - len(got))
        if not chunk:
            fail("coordinator closed the ZMTP greeting")
        got += chunk
    prop = lambda k, v: bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    body = b"\x05READY" + prop(b"Socket-Type", b"DEALER") + prop(b"Identity", b"")
    s.sendall(b"\x04" + bytes([len(body)]) + body)
    return s


def zmtp_send(s, payload):
    if len(payload) < 256:
        s.sendall(b"\x00" + bytes([len(payload)]) + payload)
    else:
        s.sendall(b"\x02" + struct.pack(">Q", len(payload)) + payload)


def garbage_ignored():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    coord = start(coordinator(url, out, 1, 10, "3s"), "coordinator")
    ep = endpoint_of(coord)
    port = int(ep.rsplit(":", 1)[1])
    # Not ZeroMQ at all.
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512))
    raw.close()
    # ZeroMQ, but not our messages: random bytes, a msgpack array, an unknown type, a
    # huge array header.
    z = zmtp_dealer(port)
    zmtp_send(z, os.urandom(200))
    zmtp_send(z, b"\x93\x01\x02\x03")
    zmtp_send(z, b"\x82\xa1v\x01\xa1t\xa4nope")
    zmtp_send(z, b"\xdd\xff\xff\xff\xff")
    time.sleep(0.5)
    w = worker(ep, "a")
    rc = wait_exit(coord, 60)
    z.close()
    if rc != 0:
        fail("coordinator exited %d after garbage:\n%s" % (rc, log_of(coord)[-3000:]))
    text = log_of(coord)
    for needle in ("unknown message type 'nope'", "is a array, not a map",
                   "elements announced"):
        if needle not in text:
            fail("coordinator log lacks '%s':\n%s" % (needle, text[-3000:]))
    res = results(out)
    if res["summary"]["requests"]["total"] <= 0 or res["rejected_messages"] < 4:
        fail("the run after garbage should complete: %s" % res["summary"]["requests"])
    print("ok: garbage logged and ignored, %d requests afterwards, %d messages rejected"
          % (res["summary"]["requests"]["total"], res["rejected_messages"]))


def allow_target_refused():
    allowed, allowed_url = count_server("allowed")
    other, other_url = count_server("other")
    allowed_port = allowed_url.rsplit(":", 1)[1]
    # A plan naming an allowed target and one outside the list (same host, other port):
    # the worker refuses it whole, the other target never sees a request, and the
    # coordinator hears which worker refused which target.
    plan = os.path.join(TMP, "two-targets.yaml")
    with open(plan, "w") as f:
        f.write("name: allow-list\ntargets:\n  - %s\n  - %s\nmodel: count\n"
                "phases:\n  - name: load\n    kind: constant\n    rate: 20/s\n    duration: 3s\n"
                % (allowed_url, other_url))
    out = os.path.join(TMP, "out")
    coord = start([SURGE, "coordinator", plan, "--bind", "tcp://127.0.0.1:*", "--workers", "1",
                   "--out", out, "--progress", "plain", "--ready-timeout", "3s"], "coordinator")
    ep = endpoint_of(coord)
    w = worker(ep, "fenced", extra=["--allow-target", "127.0.0.1:" + allowed_port])
    rc = wait_exit(w, 20)
    if rc != 3:
        fail("the worker given a plan outside its allow-list exited %d, want 3:\n%s"
             % (rc, log_of(w)[-2000:]))
    refusal = "not in this worker's --allow-target list"
    line = wait_for_log(coord, refusal)
    if "fenced" not in line or other_url not in line or "127.0.0.1:" + allowed_port not in line:
        fail("the coordinator should say which worker refused which target, and the list: %s"
             % line)
    wait_exit(coord, 30)
    for name, url in (("outside the list", other_url), ("allowed", allowed_url)):
        d, _ = counts(url)
        if d["total"]:
            fail("the %s target received %d requests from a refused plan" % (name, d["total"]))

    # The same worker flags with a plan inside the list: it runs (and --allow is the old
    # spelling of --allow-target).
    out2 = os.path.join(TMP, "out2")
    coord2 = start(coordinator(allowed_url, out2, 1, 20, "2s"), "coordinator-2")
    ep2 = endpoint_of(coord2)
    w2 = worker(ep2, "allowed", extra=["--allow-target", "127.0.0.1:" + allowed_port,
                                       "--allow", "*.example"])
    rc = wait_exit(coord2, 60)
    if rc != 0 or wait_exit(w2, 20) != 0:
        fail("a plan inside the allow-list should run:\n%s\n%s"
             % (log_of(coord2)[-2000:], log_of(w2)[-2000:]))
    d, _ = counts(allowed_url)
    if d["total"] <= 0:
        fail("the allowed target received nothing")
    d, _ = counts(other_url)
    if d["total"]:
        fail("the target outside the list received %d requests" % d["total"])
    print("ok: refused plan reported (%s); allowed target got %d requests, the other none"
          % (line.strip()[-120:], counts(allowed_url)[0]["total"]))


def id_in_use_kept():
    target, url = count_server()
    out = os.path.join(TMP, "out")
    coord = start(coordinator(url, out, 1, 10, "8s"), "coordinator")
    ep = endpoint_of(coord)
    a = worker(ep, "a")
    wait_for_traffic(url)
    time.sleep(1)
    intruder = worker(ep, "a")
    intruder.name = "worker-a-intruder"
    rc = wait_exit(coord, 60)
    if rc != 0:
        fail("coordinator exited %d:\n%s" % (rc, log_of(coord)[-3000:]))
    if "ignored until its lease expires" not in log_of(coord):
        fail("the second process's hello was not refused:\n%s" % log_of(coord)[-3000:])
    entries = [w for w in results(out)["workers"] if w["id"] == "a"]
    if len(entries) != 1 or entries[0]["lost_at_s"] is not None or entries[0]["share"] != 1:
        fail("the live worker a must stay the only a, never lost, with the whole segment: %s"
             % entries)
    if "joined run" in log_of(intruder):
        fail("the second process joined the run:\n%s" % log_of(intruder)[-2000:])
    print("ok: the live worker kept its id and its segment; the second process stayed out")


SCENARIOS = {f.__name__: f for f in (merged_percentiles, worker_killed, coordinator_killed,
                                     worker_restarted, version_refused, garbage_ignored,
                                     id_in_use_kept, allow_target_refused)}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(__doc__)
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
    sys.exit(0)
