#!/usr/bin/env python3
"""multihost_test.py SCENARIO: the fleet across hosts, in network namespaces the test makes.

Topology (private to one run; every name carries this process's pid):

    surge-mh-<pid>-sw      a "switch": one bridge, br0, and the switch end of every veth
    surge-mh-<pid>-coord   10.250.<pid%250>.1    surge coordinator
    surge-mh-<pid>-w1..w4  10.250.<pid%250>.11-14 surge worker (one each)
    surge-mh-<pid>-sim1/2  10.250.<pid%250>.21-22 surge sim --profile instant

Each host namespace has `lo` and one veth (eth0) whose other end is a port of br0. The
addresses exist only inside these namespaces: the host's own namespace gets no
interface, no address and no route into 10.250.0.0/16, and no namespace has a default
route, so nothing the test sends can leave its own namespaces.

The offered load is measured where it lands: a sampler runs in each simulator's
namespace, reads the simulator's own vllm:request_success_total from GET /metrics every
250 ms (on an absolute CLOCK_MONOTONIC grid, which every namespace shares) and the test
adds the two simulators up grid point by grid point. With the `instant` profile and
4-token answers a request finishes within milliseconds of its arrival, so this counter
counts arrivals.

Scenarios:

  merged_across_hosts  4 workers on 4 hosts, 2 simulated nodes on 2 more: the merged
                       request total equals what the simulators counted, and the lines
                       of requests.jsonl (per target too); merged TTFT/E2E P50/P99 equal
                       the percentiles of the records within the histogram's precision
  link_cut_self_fences one worker's link is cut at the switch mid-run: that worker fences
                       itself (its log says so), the coordinator marks it lost
                       (lost_at_s), the others take its segment; the simulators' total
                       never exceeds the plan by more than 15% in any 1 s window and is
                       back at >= 90% of it within 3 s of the cut; when the link comes
                       back, the worker rejoins without a burst

Needs root and `ip netns`; otherwise exits 77 (skipped) and says why.
"""
import atexit
import ctypes
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from procs import cleanup as kill_all, fail, init, log_of, start, wait_exit  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
NS_PREFIX = "surge-mh-"
SAMPLE_PERIOD_NS = 250 * 1000 * 1000
SAMPLER_MAX_S = 120  # bounded: a sampler stops by itself even if nobody kills it
HEARTBEAT_MS = 500
RATE = 40  # requests per second, the whole fleet
OVER_TOLERANCE = 0.15  # a constant schedule has no burst: any 1 s window <= 115% of plan
BACK_ON_PLAN_S = 3.0  # lease (3 heartbeats) + hand-over (half a heartbeat) + margin
BACK_ON_PLAN_FRACTION = 0.90

TMP = None  # logs and results of one run; made by main() (samplers need none)




def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(77)


def sh(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


# ---- processes ----------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A test killed by ctest's timeout (SIGKILL) must not leave load generators behind.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def start_in(ns, cmd, name):
    """Starts cmd inside namespace ns; `ip netns exec` execs it, so the pid is cmd's."""
    # No *_proxy variables: no proxy can reach these namespaces.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return start(["ip", "netns", "exec", ns] + cmd, name, base_env=env,
                 preexec_fn=_die_with_parent)




def wait_for_log(p, pattern, timeout_s=15):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = re.search(pattern, log_of(p))
        if m:
            return m
        if p.poll() is not None:
            break
        time.sleep(0.05)
    fail("%s: no /%s/ in its log within %d s:\n%s" % (p.name, pattern, timeout_s,
                                                       log_of(p)[-3000:]))






# ---- topology -----------------------------------------------------------------------

class Topology:
    HOSTS = {"coord": 1, "w1": 11, "w2": 12, "w3": 13, "w4": 14, "sim1": 21, "sim2": 22}

    def __init__(self):
        self.tag = "%s%d" % (NS_PREFIX, os.getpid())
        self.net = "10.250.%d" % (os.getpid() % 250)
        self.switch = self.tag + "-sw"
        self.made = []

    def ns(self, host):
        return "%s-%s" % (self.tag, host)

    def addr(self, host):
        return "%s.%d" % (self.net, self.HOSTS[host])

    def port(self, host):
        # The switch end of host's veth; names are private to the switch namespace.
        return "p-" + host

    def _add_ns(self, name):
        sh("ip", "netns", "add", name)
        self.made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def create(self):
        self._add_ns(self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        for host in self.HOSTS:
            ns = self.ns(host)
            self._add_ns(ns)
            # Made inside the switch namespace with its peer sent straight into the host's:
            # neither end ever exists in the machine's own namespace.
            sh("ip", "-n", self.switch, "link", "add", self.port(host), "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.switch, "link", "set", self.port(host), "master", "br0", "up")
            # One /24 on-link route and nothing else: no default route, nothing reaches
            # the host or any real network.
            sh("ip", "-n", ns, "addr", "add", self.addr(host) + "/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")

    def set_link(self, host, up):
        """Pulls (or plugs back) host's cable at the switch: its packets are dropped."""
        sh("ip", "-n", self.switch, "link", "set", self.port(host), "up" if up else "down")

    def destroy(self):
        for name in reversed(self.made):
            sh("ip", "netns", "del", name, check=False)
        self.made = []


def clean_stale_namespaces():
    """Deletes namespaces left by earlier runs of this test that were killed (their pid is
    gone, or now belongs to something that is not this test)."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(re.escape(NS_PREFIX) + r"(\d+)-", name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                alive = b"multihost_test" in f.read()
        except OSError:
            alive = False
        if not alive:
            sh("ip", "netns", "del", name, check=False)


def can_make_namespaces():
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns add)"
    try:
        probe = "%sprobe-%d" % (NS_PREFIX, os.getpid())
        r = sh("ip", "netns", "add", probe, check=False)
        if r.returncode != 0:
            return "cannot create a network namespace: ip netns add: %s" % r.stderr.strip()
        sh("ip", "netns", "del", probe, check=False)
    except FileNotFoundError:
        return "the ip command (iproute2) is not installed"
    return None


# ---- the simulators' own counters ---------------------------------------------------

def sampler_main(url, max_s):
    """Runs inside a simulator's namespace: one line 'monotonic_ns grid_index count' per
    250 ms grid point, where count sums vllm:request_success_total over every
    finished_reason (aborts included: those requests were offered too)."""
    # Straight to the simulator: a proxy from the environment could not reach it anyway.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    end_ns = time.monotonic_ns() + int(max_s * 1e9)
    k = time.monotonic_ns() // SAMPLE_PERIOD_NS + 1
    while time.monotonic_ns() < end_ns:
        delay_ns = k * SAMPLE_PERIOD_NS - time.monotonic_ns()
        if delay_ns > 0:
            time.sleep(delay_ns / 1e9)
        t = time.monotonic_ns()
        try:
            with opener.open(url + "/metrics", timeout=0.2) as r:
                text = r.read().decode()
            count = 0
            for line in text.splitlines():
                if line.startswith("vllm:request_success_total"):
                    count += int(float(line.rsplit(" ", 1)[1]))
            print("%d %d %d" % (t, k, count), flush=True)
        except OSError:
            pass
        k = max(k + 1, time.monotonic_ns() // SAMPLE_PERIOD_NS + 1)


def read_samples(p):
    samples = {}
    for line in log_of(p).splitlines():
        parts = line.split()
        if len(parts) == 3 and all(x.isdigit() for x in parts):
            samples[int(parts[1])] = (int(parts[0]), int(parts[2]))
    return samples


def fleet_counts(samplers):
    """[(grid index, t_monotonic_s, total count)] where every simulator has a sample."""
    per_sim = [read_samples(p) for p in samplers]
    common = sorted(set.intersection(*(set(s) for s in per_sim)))
    return [(k, k * SAMPLE_PERIOD_NS / 1e9, sum(s[k][1] for s in per_sim)) for k in common]


def windows_1s(series):
    """(t_start_s, requests) for every 1 s window between two grid points 4 apart."""
    by_k = {k: (t, c) for k, t, c in series}
    out = []
    for k, t, c in series:
        if k + 4 in by_k:
            out.append((t, by_k[k + 4][1] - c))
    return out


# ---- one fleet ----------------------------------------------------------------------

class Fleet:
    def __init__(self, topo):
        self.topo = topo
        self.out = os.path.join(TMP, "out")
        self.sims, self.samplers, self.workers = {}, [], {}
        self.sim_urls = {}

    def start_sims(self):
        for host in ("sim1", "sim2"):
            p = start_in(self.topo.ns(host),
                         [SURGE, "sim", "--listen", self.topo.addr(host) + ":0", "--profile",
                          "instant", "--model", "mh", "--seed", str(self.topo.HOSTS[host])],
                         host)
            self.sims[host] = p
        for host, p in self.sims.items():
            m = wait_for_log(p, r"listening on (http://[0-9.]+:\d+)")
            self.sim_urls[host] = m.group(1)
            s = start_in(self.topo.ns(host), [sys.executable, os.path.abspath(__file__),
                                              "sample", m.group(1), str(SAMPLER_MAX_S)],
                         "sampler-" + host)
            self.samplers.append(s)
        for s in self.samplers:
            wait_for_log(s, r"(?m)^\d+ \d+ \d+$")

    def start_coordinator(self, duration_s, record_requests):
        plan = os.path.join(TMP, "plan.yaml")
        with open(plan, "w") as f:
            f.write("name: multihost\n"
                    "targets:\n  - %s\n  - %s\n"
                    "model: mh\napi: completions\nmax_tokens: 4\nignore_eos: true\n"
                    "phases:\n  - name: load\n    kind: constant\n    rate: %d/s\n"
                    "    duration: %ds\n    arrival: constant\n"
                    % (self.sim_urls["sim1"], self.sim_urls["sim2"], RATE, duration_s))
        cmd = [SURGE, "coordinator", plan, "--bind", "tcp://%s:*" % self.topo.addr("coord"),
               "--insecure", "--workers", "4", "--ready-timeout", "15s", "--heartbeat",
               "%dms" % HEARTBEAT_MS, "--drain", "5s", "--out", self.out, "--progress",
               "plain"]
        if record_requests:
            cmd.append("--record-requests")
        self.coord = start_in(self.topo.ns("coord"), cmd, "coordinator")
        m = wait_for_log(self.coord, r"coordinator on (tcp://[0-9.]+:\d+)")
        self.endpoint = m.group(1)

    def start_workers(self):
        allow = []
        for url in self.sim_urls.values():
            allow += ["--allow-target", url.split("://", 1)[1]]
        for host in ("w1", "w2", "w3", "w4"):
            self.workers[host] = start_in(
                self.topo.ns(host),
                [SURGE, "worker", "--connect", self.endpoint, "--insecure", "--threads", "1",
                 "--id", host, "--reconnect-timeout", "20s"] + allow, "worker-" + host)

    def start(self, duration_s, record_requests=False):
        self.start_sims()
        self.start_coordinator(duration_s, record_requests)
        self.start_workers()

    def wait_for_load(self, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            series = fleet_counts(self.samplers)
            if series and series[-1][2] > 0:
                return
            time.sleep(0.1)
        fail("no request reached the simulators within %d s:\n%s"
             % (timeout_s, log_of(self.coord)[-3000:]))

    def finish(self, timeout_s=40):
        rc = wait_exit(self.coord, timeout_s)
        if rc != 0:
            fail("coordinator exited %d:\n%s" % (rc, log_of(self.coord)[-3000:]))
        time.sleep(0.6)  # two more sampler grid points after the last answer
        with open(os.path.join(self.out, "results.json")) as f:
            return json.load(f)

    def check_clean_exits(self):
        """Every worker said bye and exited 0; every simulator stops cleanly on SIGTERM
        (under ASan this is where a leak would show)."""
        for host, w in self.workers.items():
            rc = wait_exit(w, 20)
            if rc != 0:
                fail("worker %s exited %d:\n%s" % (host, rc, log_of(w)[-2000:]))
        for host, p in self.sims.items():
            p.send_signal(signal.SIGTERM)
            rc = wait_exit(p, 10)
            if rc != 0:
                fail("simulator %s exited %d on SIGTERM:\n%s" % (host, rc, log_of(p)[-2000:]))

    def sim_totals(self):
        return {host: read_samples(s)[max(read_samples(s))][1]
                for host, s in zip(self.sims, self.samplers)}


def check_insecure_recorded(res):
    """The run was off loopback without CURVE (--insecure): results.json must say so."""
    sec = res.get("security")
    if not isinstance(sec, dict) or sec.get("insecure") is not True or sec.get("curve") is not False:
        fail("results.json security is %r for a run started with --insecure and no keys" % sec)


# ---- scenarios ----------------------------------------------------------------------

def hdr_rank_value(sorted_values, p):
    rank = max(1, int(math.ceil(p / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def merged_across_hosts(topo):
    seconds = 8
    fleet = Fleet(topo)
    fleet.start(seconds, record_requests=True)
    res = fleet.finish()
    s = res["summary"]
    total = s["requests"]["total"]
    with open(os.path.join(fleet.out, "requests.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    sims = fleet.sim_totals()
    fleet.check_clean_exits()
    print("simulators counted %s; results.json total %d, ok %d, errors %d, sent %d; "
          "requests.jsonl %d lines" % (sims, total, s["requests"]["ok"], s["requests"]["errors"],
                                       s["requests"]["sent"], len(records)))
    if s["requests"]["errors"]:
        fail("errors: %s" % s["errors_by_class"])
    planned = RATE * seconds
    if abs(s["requests"]["sent"] - planned) > 2:
        fail("sent %d requests, the plan says %d" % (s["requests"]["sent"], planned))
    # The drain let every request finish, so nothing is in flight at the end: the
    # simulators and the merge must agree exactly.
    if sum(sims.values()) != total:
        fail("the simulators counted %d requests, the merged results %d" % (sum(sims.values()),
                                                                            total))
    if len(records) != total:
        fail("requests.jsonl has %d lines, the merged total is %d" % (len(records), total))
    for i, host in enumerate(("sim1", "sim2")):
        mine = sum(1 for r in records if r["target"] == i)
        if mine != sims[host] or mine == 0:
            fail("target %d (%s): %d records, the simulator counted %d" % (i, host, mine,
                                                                          sims[host]))
    workers = {w["id"]: w for w in res["workers"]}
    if sorted(workers) != ["w1", "w2", "w3", "w4"] or any(w["requests"] <= 0
                                                         for w in workers.values()):
        fail("each of the 4 workers should have sent requests: %s" % res["workers"])
    if sum(w["requests"] for w in workers.values()) != total:
        fail("the workers' requests add up to %d, the total is %d"
             % (sum(w["requests"] for w in workers.values()), total))
    for metric in ("ttft_ms", "e2e_ms"):
        values = sorted(r[metric] for r in records if r.get(metric) is not None)
        if len(values) != len(records):
            fail("%s missing in %d records" % (metric, len(records) - len(values)))
        for p in (50, 99):
            exact = hdr_rank_value(values, p)
            merged = s[metric]["p%d" % p]
            # 3 significant digits: the merged value is the highest value equivalent to
            # the exact sample's bucket, at most 0.1% above it, plus 1 us of rounding.
            if not (exact - 0.001 <= merged <= exact * 1.001 + 0.001):
                fail("%s p%d: merged %.4f ms, the records say %.4f ms" % (metric, p, merged,
                                                                        exact))
            print("%s p%d: merged %.3f ms, records %.3f ms" % (metric, p, merged, exact))
    check_insecure_recorded(res)
    print("ok: %d requests across 4 worker hosts and 2 simulated nodes; the merge, the "
          "records and the simulators agree" % total)


def link_cut_self_fences(topo):
    seconds, cut_after_s, cut_for_s = 16, 5.0, 4.0
    fleet = Fleet(topo)
    fleet.start(seconds)
    fleet.wait_for_load()
    time.sleep(cut_after_s)
    topo.set_link("w2", False)
    cut_t = time.monotonic()
    time.sleep(cut_for_s)
    # Plugged back in: a worker that had not fenced would now deliver what it queued
    # during the cut (open connections, pending SYNs) as a burst, which the window
    # check below would see.
    topo.set_link("w2", True)
    restore_t = time.monotonic()
    res = fleet.finish()

    series = fleet_counts(fleet.samplers)
    first_k = next(k for k, t, c in series if c > 0)
    load_start = (first_k - 1) * SAMPLE_PERIOD_NS / 1e9  # the first request came after this
    load_end = load_start + seconds + SAMPLE_PERIOD_NS / 1e9
    grid = [k for k, t, c in series if load_start <= t <= load_end]
    expected = int(seconds * 1e9 / SAMPLE_PERIOD_NS)
    if len(grid) < 0.9 * expected:
        fail("the samplers read the simulators at only %d of %d grid points" % (len(grid),
                                                                               expected))
    windows = windows_1s(series)
    print("requests per 1 s window, by start time relative to the cut (restored at +%.2f s):"
          % (restore_t - cut_t))
    print(" ".join("%+.2f:%d" % (t - cut_t, n) for t, n in windows
                   if load_start - 0.5 <= t <= load_end))
    limit = RATE * (1 + OVER_TOLERANCE)
    over = [("%+.2f" % (t - cut_t), n) for t, n in windows if n > limit]
    if over:
        fail("the simulators saw more than %.0f requests in a 1 s window (plan %d/s), at "
             "(start relative to the cut, requests): %s" % (limit, RATE, over))
    # Back on plan: every window starting BACK_ON_PLAN_S after the cut and ending before
    # the schedule does.
    low = [("%+.2f" % (t - cut_t), n) for t, n in windows
           if cut_t + BACK_ON_PLAN_S <= t and t + 1 <= load_start + seconds - 0.25
           and n < BACK_ON_PLAN_FRACTION * RATE]
    if low:
        fail("under %.0f%% of the plan later than %.0f s after the cut: %s"
             % (BACK_ON_PLAN_FRACTION * 100, BACK_ON_PLAN_S, low))
    w2_log = log_of(fleet.workers["w2"])
    if "the coordinator is silent for 3 heartbeats: load stopped" not in w2_log:
        fail("the cut worker did not say it fenced itself:\n%s" % w2_log[-3000:])
    entries = [w for w in res["workers"] if w["id"] == "w2"]
    if not entries or entries[0]["lost_at_s"] is None:
        fail("the cut worker should be marked lost (lost_at_s) in results.json: %s"
             % res["workers"])
    if not entries[0].get("returns"):
        fail("the cut worker should have come back once its link was up: %s" % entries[0])
    for w in res["workers"]:
        if w["id"] != "w2" and w["lost_at_s"] is not None:
            fail("worker %s lost although its link stayed up: %s" % (w["id"], w))
    sims = fleet.sim_totals()
    fleet.check_clean_exits()
    s = res["summary"]["requests"]
    print("results.json workers (id, requests, lost_at_s, returns): %s"
          % [(w["id"], w["requests"], w["lost_at_s"], w.get("returns")) for w in res["workers"]])
    # Requests w2 wrote into an open connection during the cut, before it fenced: it
    # aborted them (errors), but the kernel still delivers the bytes when the link is back.
    print("simulators counted %d, workers %d ok + %d errors: %d aborted requests still "
          "reached a simulator after the link came back" % (sum(sims.values()), s["ok"],
                                                            s["errors"],
                                                            sum(sims.values()) - s["ok"]))
    print("ok: w2 fenced itself (lost_at_s %.2f, came back %d time(s)); load stayed <= %.0f/s "
          "in every 1 s window and was >= %.0f/s from %.0f s after the cut"
          % (entries[0]["lost_at_s"], entries[0]["returns"], limit,
             BACK_ON_PLAN_FRACTION * RATE, BACK_ON_PLAN_S))


SCENARIOS = {f.__name__: f for f in (merged_across_hosts, link_cut_self_fences)}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "sample":
        sampler_main(sys.argv[2], float(sys.argv[3]))
        return 0
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    why = can_make_namespaces()
    if why:
        skip(why)
    global TMP
    TMP = init("surge-multihost-")
    clean_stale_namespaces()
    topo = Topology()
    # Torn down on every way out: normal return, an exception, fail() (SystemExit),
    # SIGTERM/SIGINT/SIGHUP (turned into SystemExit), and atexit as a last resort. A
    # SIGKILL leaves namespaces behind; the next run's clean_stale_namespaces() takes them.
    atexit.register(topo.destroy)
    atexit.register(kill_all)

    def on_signal(signum, _frame):
        sys.exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        topo.create()
        SCENARIOS[sys.argv[1]](topo)
    finally:
        kill_all()
        topo.destroy()
    shutil.rmtree(TMP, ignore_errors=True)  # kept after a failure: the logs say why
    return 0


if __name__ == "__main__":
    sys.exit(main())
