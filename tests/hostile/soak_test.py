#!/usr/bin/env python3
"""soak_test.py: memory and file descriptors stay flat under steady streaming load.

A coordinator, two workers and a `surge sim` on loopback run one constant-rate streaming
phase. Every SAMPLE_S seconds the test reads VmRSS (/proc/PID/status) and the number of
open descriptors (/proc/PID/fd) of each process. After the warm-up (the first third of
the run: connection pools, histograms, allocator arenas reach their working size), it
asserts, per surge process:

  - RSS at the end <= RSS after the warm-up * 1.10 + 4 MiB (at 50/s for 75 s, a leak of
    about 2 KiB per request breaks it; bench/soak.sh's longer runs see far smaller ones);
  - open descriptors at every later sample within +-2 of the count after the warm-up
    (+-4 for the workers, whose keep-alive pool to the target follows the peak of requests
    in flight); a leaked socket or file per interval breaks it.

The sim runs 16 replicas so that it keeps up: an overloaded target's queue grows without
end, and the connections and memory of every process with it (that is load, not a leak).
The test checks it did keep up (requests in flight stay bounded) before judging.

That is a resource property, not a timing one. Under AddressSanitizer (SURGE_BUILD's
CMakeCache says SURGE_SANITIZE=ON) freed memory is held in ASan's quarantine (up to
256 MiB by design), so RSS says nothing about leaks: the run is shorter (30 s) and only
descriptors are checked; LeakSanitizer checks memory at each process's exit instead.

usage: soak_test.py [--seconds N] [--rate R] [--arrival constant|poisson] [--table] [--no-check]
  (bench/soak.sh runs it for minutes with --table --no-check and prints the samples)
"""
import argparse
import json
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import (cleanup, fail, init, log_of, sanitized, start, wait_exit,  # noqa: E402
                   wait_for_log)

SURGE = os.environ.get("SURGE_BIN")
SAMPLE_S = 3.0
RSS_RATIO, RSS_SLACK_KB, FD_SLACK, POOL_SLACK = 1.10, 4096, 2, 4


def sample(pid):
    """(VmRSS in KiB, open descriptors), or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return rss, fds
    except (OSError, AttributeError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--arrival", default="constant")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    asan = sanitized()
    seconds = args.seconds or (30 if asan else 75)
    tmp = init("surge-soak-")

    # Replicas enough that the sim is never the bottleneck: an overloaded target's queue
    # grows without end, and with it the connections and memory of everything.
    sim = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny", "--replicas",
                 "16"], "sim")
    url = wait_for_log(sim, "listening on").split("listening on ")[1].strip()
    out = os.path.join(tmp, "out")
    coord = start([SURGE, "coordinator", "--target", url, "--model", "surge-sim-tiny",
                   "--bind", "tcp://127.0.0.1:*", "--workers", "2", "--rate", str(args.rate),
                   "--duration", "%ds" % seconds, "--arrival", args.arrival, "--max-tokens", "16",
                   "--out", out, "--progress", "plain"], "coordinator")
    endpoint = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                         wait_for_log(coord, "coordinator on ")).group(1)
    workers = [start([SURGE, "worker", "--connect", endpoint, "--threads", "1", "--id", wid,
                      "--reconnect-timeout", "20s"], "worker-" + wid) for wid in ("w1", "w2")]
    wait_for_log(coord, "phase ", 30)
    procs = [("coordinator", coord), ("w1", workers[0]), ("w2", workers[1]), ("sim", sim)]

    t0 = time.monotonic()
    samples = []  # (t, {name: (rss, fds)})
    while time.monotonic() - t0 < seconds - 1:
        row = {name: sample(p.pid) for name, p in procs}
        if any(v is None for v in row.values()):
            fail("a process died during the soak: %s" % row)
        samples.append((time.monotonic() - t0, row))
        time.sleep(SAMPLE_S)
    rc = wait_exit(coord, seconds + 60)
    if rc != 0:
        fail("coordinator exit %d:\n%s" % (rc, log_of(coord)[-3000:]))
    for w in workers:
        if wait_exit(w, 30) != 0:
            fail("worker %s exit %d:\n%s" % (w.name, w.returncode, log_of(w)[-3000:]))
    sim.send_signal(signal.SIGINT)
    wait_exit(sim, 10)

    if args.table or args.no_check:
        names = [n for n, _ in procs]
        print("%8s  %s" % ("t (s)", "  ".join("%-20s" % (n + " RSS MiB / fds") for n in names)))
        step = max(1, len(samples) // 40)  # about 40 rows, however long the run
        for i, (t, row) in enumerate(samples):
            if i % step and i != len(samples) - 1:
                continue
            print("%8.0f  %s" % (t, "  ".join("%-20s" % ("%8.1f / %d" % (row[n][0] / 1024.0, row[n][1]))
                                              for n in names)))
    with open(os.path.join(out, "intervals.jsonl")) as f:
        inflight = [json.loads(line).get("inflight", 0) for line in f if line.strip()]
    third = max(1, len(inflight) // 3)
    if max(inflight[third:]) > max(50, 3 * max(inflight[:third])):
        fail("the target fell behind (in flight per interval: %s): not a steady load" % inflight)
    warm = [s for s in samples if s[0] >= seconds / 3.0]
    if len(warm) < 3:
        fail("too few samples after the warm-up: %d" % len(warm))
    base, last = warm[0][1], warm[-1][1]
    verdicts = []
    for name, _ in procs:
        rss0, fd0 = base[name]
        rss1, fd1 = last[name]
        fd_span = max(abs(row[name][1] - fd0) for _, row in warm)
        grew_kb = rss1 - rss0
        verdicts.append("%s: RSS %.1f -> %.1f MiB (%+.1f%%), fds %d -> %d (max drift %d)"
                        % (name, rss0 / 1024.0, rss1 / 1024.0, 100.0 * grew_kb / rss0, fd0, fd1,
                           fd_span))
        if args.no_check or name == "sim":
            continue  # the sim is the target, not surge under test; reported only
        if fd_span > (FD_SLACK if name == "coordinator" else POOL_SLACK):
            fail("%s: open descriptors drifted by %d after the warm-up: %s"
                 % (name, fd_span, [row[name][1] for _, row in warm]))
        if not asan and rss1 > rss0 * RSS_RATIO + RSS_SLACK_KB:
            fail("%s: RSS grew from %d to %d KiB after the warm-up: %s"
                 % (name, rss0, rss1, [row[name][0] for _, row in warm]))
    print("soak %d s at %d/s %s%s:\n  %s" % (seconds, args.rate, args.arrival,
                                          " (ASan: descriptors only)" if asan else "",
                                          "\n  ".join(verdicts)), flush=True)


if __name__ == "__main__":
    if not SURGE:
        print("SURGE_BIN must point at the surge binary")
        sys.exit(2)
    try:
        main()
    finally:
        cleanup()
    print("PASS", flush=True)
