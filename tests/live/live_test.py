#!/usr/bin/env python3
"""live_test.py SCENARIO: the coordinator's live view, real processes on loopback (docs/live.md).

Each scenario starts its own `surge sim` and `surge run --metrics-listen 127.0.0.1:0`,
kills what it started on exit, and is bounded in time. Scenarios:

  page_in_chromium    headless Chromium (DevTools over a pipe, cdp.py) opens the page during
                      a run; a fault is injected mid-run (the sim's /admin/fault) and marked
                      (`surge ctl mark --start`): the fault window shows in the page's list and
                      on its charts within 3 s, the charts hold points from >= 3 intervals,
                      the page logs no error and requests nothing but its own origin. A
                      screenshot is kept: BUILD/live-page-screenshot.png (and docs/live-page.png
                      with SURGE_UPDATE_DOCS=1). Skipped (77) without chromium.
  json_equals_intervals  /live.json polled during the run: every interval it carries is
                      exactly (same keys, same numbers, same index) the line of
                      intervals.jsonl; ?since=N gives only later ones; the state's fields are
                      there with their types.
  token               --live-token-file: 401 without the token, 200 with it (bearer header
                      or ?token=), on every path; then, in a network namespace of its own
                      (unshare -n; skipped with a message where it cannot be made), a
                      coordinator bound to 0.0.0.0 (off loopback) generates a token, prints
                      it once, stores it 0600 in RESULTS_DIR/live.token, and answers 401/200.
  prometheus          `promtool check metrics` finds nothing on pages read during the run and
                      after it; a real Prometheus (Debian's, on loopback, a tiny config,
                      storage in the scratch directory) scrapes the page every 250 ms: for
                      every scrape, the P99 TTFT it stored beside surge_interval_index = N
                      equals interval N's ttft_ms.p99 in intervals.jsonl (the raw samples of
                      one scrape share a timestamp, so the check is exact, not sampled).
                      Skipped (77) without promtool and prometheus.
  watch_under_tmux    `surge ctl --results DIR watch` in a detached tmux session (its own
                      server socket): capture-pane shows the phase, the rates and the TTFT
                      percentiles, redrawn in place (one frame on the screen); the command
                      ends by itself when the run does. Skipped (77) without tmux.
  http_framing        on one keep-alive connection, pipelined: HEAD / and HEAD /metrics
                      answer headers only, with the Content-Length of the GET's body; a GET
                      after them is answered whole; POST is 405 with `Allow: GET, HEAD`; an
                      unknown path 404; a request head over 8 KiB is refused.
  idle_connections    50 idle connections (and 10 that send half a request head) do not
                      delay another client's /metrics or /live.json by more than 100 ms.
"""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SURGE = os.environ.get("SURGE_BIN")
SRC = os.environ.get("SURGE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SURGE_BUILD", os.path.dirname(SURGE or "."))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402

TMP = init("surge-live-")


def url_in(line):
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        fail("no URL in: " + line)
    return m.group(0)


def start_sim(name="sim"):
    p = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny", "--replicas", "2"],
              name)
    return url_in(wait_for_log(p, "listening on"))


def write_plan(target, rate, duration_s, name="live"):
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write("name: %s\ntargets: [%s]\nmodel: surge-sim-tiny\nmax_tokens: 24\ninterval: 1s\n"
                "timeout: 10s\nphases:\n  - name: warmup\n    kind: warmup\n    rate: %g/s\n"
                "    duration: 2s\n  - name: steady\n    kind: constant\n    rate: %g/s\n"
                "    duration: %ds\n" % (name, target, rate, rate, duration_s))
    return path


def start_run(plan, name="run", extra=()):
    out = os.path.join(TMP, name + "-results")
    p = start([SURGE, "run", plan, "--workers", "1", "--out", out, "--progress", "plain",
               "--metrics-listen", "127.0.0.1:0"] + list(extra), name)
    base = url_in(wait_for_log(p, "live page on http://", timeout_s=20))
    return p, out, base


def get(url, token=None, timeout=5):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def live_json(base, since=None, token=None):
    status, body = get(base + "/live.json" + ("" if since is None else "?since=%d" % since),
                       token)
    if status != 200:
        fail("/live.json answered %d: %r" % (status, body[:300]))
    try:
        return json.loads(body)
    except ValueError as e:
        fail("/live.json is not JSON (%s): %r" % (e, body[:500]))


def intervals_of(out):
    with open(os.path.join(out, "intervals.jsonl")) as f:
        return {row["interval"]: row for row in (json.loads(l) for l in f if l.strip())}


def wait_run_time(base, t_s, timeout_s=40):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        d = live_json(base, since=1 << 40)
        if d.get("t_s") is not None and d["t_s"] >= t_s:
            return d
        time.sleep(0.1)
    fail("the run never reached %.1f s" % t_s)


def ctl(out, *args):
    r = subprocess.run([SURGE, "ctl", "--results", out] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    if r.returncode != 0:
        fail("surge ctl %s: exit %d: %s" % (" ".join(args), r.returncode, r.stdout))
    return r.stdout


def admin_down(sim_url, seconds):
    body = json.dumps({"kind": "down", "duration_s": seconds}).encode()
    req = urllib.request.Request(sim_url + "/admin/fault", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def finish(p, timeout_s=60):
    rc = wait_exit(p, timeout_s)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(p)[-3000:]))


# ---- scenarios ---------------------------------------------------------------------------

def page_in_chromium():
    import cdp
    if not cdp.find_chromium():
        print("SKIP: chromium is not installed (scripts/setup.sh --test-deps installs it)")
        sys.exit(77)
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 12, 16, "chaos-demo"))
    browser = cdp.Browser(TMP)
    try:
        browser.navigate(base + "/")
        wait_run_time(base, 7)
        ctl(out, "mark", "ramp of a node restart")
        t0 = time.monotonic()
        ctl(out, "mark", "--start", "sim-down")
        if admin_down(sim, 4) != 200:
            fail("the sim's /admin/fault refused the fault")
        seen = None
        while time.monotonic() - t0 < 3.0:
            seen = browser.evaluate(
                "[document.querySelectorAll('#events li.fault.open[data-name=\"sim-down\"]')"
                ".length, document.querySelectorAll('svg.chart rect.fault').length]")
            if seen[0] >= 1 and seen[1] >= 1:
                break
            time.sleep(0.1)
        shown_s = time.monotonic() - t0
        if not seen or seen[0] < 1 or seen[1] < 1:
            fail("the fault window was not on the page within 3 s (list %r, chart rects %r)"
                 % tuple(seen or (0, 0)))
        time.sleep(4.5)
        ctl(out, "mark", "--end", "sim-down")
        time.sleep(1.5)
        counts = browser.evaluate(
            "[...document.querySelectorAll('svg.chart')].map(s => +s.dataset.intervals)")
        if not counts or min(counts) < 3:
            fail("charts with points from fewer than 3 intervals: %r" % counts)
        text = browser.evaluate("document.body.innerText")
        for needle in ("chaos-demo", "steady", "TTFT", "sim-down", "ramp of a node restart",
                       "Workers", "KV cache"):
            if needle not in text:
                fail("the page does not show %r" % needle)
        shot = os.path.join(BUILD, "live-page-screenshot.png")
        browser.screenshot(shot)
        with open(shot, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n" or os.path.getsize(shot) < 30000:
                fail("%s is not a PNG of a drawn page" % shot)
        if os.environ.get("SURGE_UPDATE_DOCS") == "1":
            shutil.copy(shot, os.path.join(SRC, "docs", "live-page.png"))
        errors = browser.console_errors()
        if errors:
            fail("the page logged errors: %s" % errors)
        foreign = [u for u in browser.request_urls() if not u.startswith(base + "/")]
        if foreign:
            fail("the page requested other origins: %s" % foreign)
    finally:
        browser.close()
    finish(p)
    print("ok: fault window on the page %.2f s after it opened; charts hold %d..%d intervals; "
          "screenshot %s" % (shown_s, min(counts), max(counts), shot))


STATE_TYPES = {"schema": int, "run_id": str, "name": str, "state": str, "interval_s": (int, float),
               "last_interval": int, "inflight": int, "client_lag_limit_ms": (int, float),
               "workers": dict, "targets": list, "chaos": dict, "intervals": list}


def json_equals_intervals():
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 15, 5))
    seen = {}
    states = set()
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        try:
            d = live_json(base)
        except SystemExit:
            raise
        except Exception:
            break
        for key, kind in STATE_TYPES.items():
            if not isinstance(d.get(key), kind):
                fail("/live.json %s is %r" % (key, d.get(key)))
        states.add(d["state"])
        if d["phase"] is not None and not {"name", "left_s", "start_s", "end_s"} <= set(d["phase"]):
            fail("phase without its fields: %r" % d["phase"])
        for row in d["intervals"]:
            seen[row["interval"]] = row
        if d["intervals"] and d["intervals"][-1]["interval"] != d["last_interval"]:
            fail("last_interval %d but the last row is %d" % (d["last_interval"],
                                                             d["intervals"][-1]["interval"]))
        if d["intervals"]:
            later = live_json(base, since=d["intervals"][0]["interval"])["intervals"]
            if any(r["interval"] <= d["intervals"][0]["interval"] for r in later):
                fail("?since=%d gave earlier intervals" % d["intervals"][0]["interval"])
        time.sleep(0.4)
    finish(p)
    lines = intervals_of(out)
    if len(seen) < 5:
        fail("/live.json carried only %d intervals" % len(seen))
    for index, row in seen.items():
        if lines.get(index) != row:
            fail("interval %d differs:\n live.json      %s\n intervals.jsonl %s"
                 % (index, json.dumps(row, sort_keys=True), json.dumps(lines.get(index),
                                                                       sort_keys=True)))
    if "running" not in states:
        fail("never saw the state running: %r" % states)
    print("ok: %d intervals of /live.json equal intervals.jsonl's lines (of %d); states %s"
          % (len(seen), len(lines), sorted(states)))


def expect_status(url, want, token=None):
    status, body = get(url, token)
    if status != want:
        fail("%s with%s token: %d, want %d: %r" % (url, "" if token else "out", status, want,
                                                   body[:200]))


def token():
    sim = start_sim()
    secret = "t0ken-" + os.urandom(12).hex()
    path = os.path.join(TMP, "token")
    with open(path, "w") as f:
        f.write(secret + "\n")
    p, out, base = start_run(write_plan(sim, 5, 4), extra=["--live-token-file", path])
    if secret in log_of(p):
        fail("the token from --live-token-file was printed")
    for route in ("/", "/live.json", "/metrics"):
        expect_status(base + route, 401)
        expect_status(base + route, 401, token="wrong" + secret)
        expect_status(base + route, 200, token=secret)
    expect_status(base + "/live.json?token=" + secret, 200)
    finish(p)
    print("ok: --live-token-file: 401 without or with a wrong token, 200 with it")

    # Off loopback: a namespace of our own, where 0.0.0.0 reaches nothing else.
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("SKIP (part): cannot make a network namespace (unshare -n needs root): the "
              "0.0.0.0 bind with a generated token is not checked here")
        return
    out = os.path.join(TMP, "ns-results")
    plan = write_plan("http://127.0.0.1:1", 2, 3, "ns")  # no target: the page is enough
    script = ("ip link set lo up && exec %s run %s --workers 1 --out %s --progress plain "
              "--metrics-listen 0.0.0.0:0 --metrics-linger 20s" % (SURGE, plan, out))
    p = start(["unshare", "-n", "sh", "-c", script], "ns-run")
    line = wait_for_log(p, "live page on http://", timeout_s=20)
    m = re.search(r"http://0\.0\.0\.0:(\d+)/\?token=([0-9a-f]+)", line)
    if not m:
        fail("off loopback the URL should carry the generated token: %s" % line)
    port, generated = m.group(1), m.group(2)
    tfile = os.path.join(out, "live.token")
    mode = stat.S_IMODE(os.stat(tfile).st_mode)
    with open(tfile) as f:
        stored = f.read().strip()
    if mode != 0o600 or stored != generated:
        fail("live.token: mode %o, content %s, printed %s" % (mode, stored, generated))
    if log_of(p).count(generated) != 1:
        fail("the token was printed %d times" % log_of(p).count(generated))

    def curl_in_ns(*headers):
        args = ["nsenter", "-t", str(p.pid), "-n", "python3", "-c",
                "import sys,urllib.request as u\n"
                "r=u.Request('http://127.0.0.1:%s/live.json')\n"
                "for h in sys.argv[1:]: r.add_header('Authorization', h)\n"
                "try: print(u.urlopen(r, timeout=5).status)\n"
                "except u.HTTPError as e: print(e.code)\n" % port] + list(headers)
        # the shell exec'd surge: p.pid is surge itself, inside the namespace
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=20)
        return r.stdout.strip()

    for headers, want in (((), "401"), (("Bearer nope",), "401"),
                          (("Bearer " + generated,), "200")):
        got = curl_in_ns(*headers)
        if got != want:
            fail("off loopback, Authorization %r: %s, want %s" % (headers, got, want))
    p.terminate()
    wait_exit(p, 30)
    print("ok: bound to 0.0.0.0 (own namespace): token generated, printed once, live.token "
          "0600; 401 without it, 200 with it")


def read_response(f):
    status = f.readline().decode()
    headers = {}
    for line in iter(f.readline, b"\r\n"):
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers


def http_framing():
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 5, 4))
    wait_run_time(base, 2)
    host, port = base[len("http://"):].rsplit(":", 1)
    sizes = {path: len(get(base + path)[1]) for path in ("/",)}
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /live.json HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
              b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    f = s.makefile("rb")
    status, h = read_response(f)
    if " 200 " not in status or int(h.get("content-length", -1)) != sizes["/"] or \
            "text/html" not in h.get("content-type", ""):
        fail("HEAD /: %r %r (the page is %d bytes)" % (status, h, sizes["/"]))
    status, h = read_response(f)
    if " 200 " not in status or int(h.get("content-length", 0)) < 1000:
        fail("HEAD /metrics: %r %r" % (status, h))
    status, h = read_response(f)  # no HEAD body came before this, or it would not parse
    if " 200 " not in status:
        fail("GET /live.json after two HEADs: %r" % status)
    body = f.read(int(h["content-length"]))
    json.loads(body)
    status, h = read_response(f)
    if " 405 " not in status or h.get("allow") != "GET, HEAD":
        fail("POST: %r %r" % (status, h))
    f.read(int(h.get("content-length", 0)))
    status, h = read_response(f)
    if " 404 " not in status:
        fail("GET /nope: %r" % status)
    s.close()
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    answer = s.recv(200)
    if b" 200 " in answer.split(b"\r\n")[0]:
        fail("a 9 KB request head was answered: %r" % answer)
    s.close()
    finish(p)
    print("ok: HEAD framed (Content-Length, no body), 405 with Allow, 404, a 9 KB head refused "
          "(%r)" % answer.split(b"\r\n")[0])


def timed_get(url):
    t = time.monotonic()
    status, body = get(url, timeout=5)
    return status, time.monotonic() - t


def idle_connections():
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 10, 8))
    wait_run_time(base, 3)
    host, port = base[len("http://"):].rsplit(":", 1)
    idle = []
    for i in range(60):
        s = socket.create_connection((host, int(port)), timeout=5)
        if i >= 50:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # half a head, never finished
        idle.append(s)
    time.sleep(0.3)
    worst = {}
    for _ in range(15):
        for route in ("/metrics", "/live.json"):
            status, took = timed_get(base + route)
            if status != 200:
                fail("%s answered %d beside the idle connections" % (route, status))
            worst[route] = max(worst.get(route, 0), took)
        time.sleep(0.05)
    for s in idle:
        s.close()
    finish(p)
    for route, took in worst.items():
        if took > 0.100:
            fail("%s took %.0f ms beside 60 idle connections (limit 100 ms)" % (route, took * 1e3))
    print("ok: beside 50 idle + 10 half-sent connections, the slowest of 15 answers: "
          "/metrics %.1f ms, /live.json %.1f ms" % (worst["/metrics"] * 1e3,
                                                  worst["/live.json"] * 1e3))


def watch_under_tmux():
    if not shutil.which("tmux"):
        print("SKIP: needs tmux (scripts/setup.sh --test-deps)")
        sys.exit(77)
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 12, 8, "watched"))
    wait_run_time(base, 4)
    sock = "surge-live-%d" % os.getpid()
    done = os.path.join(TMP, "watch.exit")
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    cmd = "%s ctl --results %s watch; echo $? > %s; sleep 60" % (SURGE, out, done)
    subprocess.run(tmux + ["new-session", "-d", "-s", "watch", "-x", "120", "-y", "30", cmd],
                   check=True, timeout=10)
    try:
        screen = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.5)
            screen = subprocess.run(tmux + ["capture-pane", "-p", "-t", "watch"],
                                    stdout=subprocess.PIPE, text=True, timeout=10).stdout
            if re.search(r"offered +12\.0 +sent +[\d.]+ +completed +[\d.]+", screen) and \
                    re.search(r"TTFT ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+", screen):
                break
        for pattern in (r"phase +steady \(constant, 12\.0 req/s\)", r"rates +offered 12\.0",
                        r"TTFT ms +p50 [\d.]+", r"workers +1 live of 1", r"target +http://"):
            if not re.search(pattern, screen):
                fail("the tmux pane does not show %r:\n%s" % (pattern, screen))
        if screen.count("surge watch") != 1:
            fail("the frame was not redrawn in place:\n%s" % screen)
        finish(p)
        deadline = time.monotonic() + 15
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not os.path.exists(done):
            fail("surge ctl watch did not end with the run")
        with open(done) as f:
            code = f.read().strip()
        if code != "0":
            fail("surge ctl watch exited %s after the run" % code)
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL, timeout=10)
    print("ok: tmux shows the phase, the rates and the percentiles; watch ended with the run:\n"
          + "\n".join(l for l in screen.splitlines() if l.strip()))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_api(url, query):
    with urllib.request.urlopen(url + "/api/v1/query?" + urllib.parse.urlencode(
            {"query": query}), timeout=10) as r:
        answer = json.load(r)
    if answer.get("status") != "success":
        fail("Prometheus: %s: %r" % (query, answer))
    return answer["data"]["result"]


def promtool_check(text, where):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    if r.returncode != 0 or r.stdout.strip():
        fail("promtool check metrics on the page %s: exit %d\n%s" % (where, r.returncode,
                                                                     r.stdout[:3000]))


def prometheus():
    if not shutil.which("promtool") or not shutil.which("prometheus"):
        print("SKIP: needs promtool and prometheus (Debian's prometheus package; "
              "scripts/setup.sh --test-deps)")
        sys.exit(77)
    sim = start_sim()
    p, out, base = start_run(write_plan(sim, 15, 8), extra=["--metrics-linger", "3s"])
    hostport = base[len("http://"):]
    web = "127.0.0.1:%d" % free_port()
    config = os.path.join(TMP, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n"
                "scrape_configs:\n  - job_name: surge\n    static_configs:\n"
                "      - targets: ['%s']\n" % hostport)
    prom = start(["prometheus", "--config.file=" + config,
                  "--storage.tsdb.path=" + os.path.join(TMP, "tsdb"),
                  "--web.listen-address=" + web, "--log.level=warn"], "prometheus")
    prom_url = "http://" + web
    checked = 0
    while p.poll() is None:
        status, body = get(base + "/metrics")
        if status != 200:
            break
        text = body.decode()
        promtool_check(text, "during the run" if "surge_run_finished 0" in text else "at the end")
        checked += 1
        if "surge_run_finished 1" in text:
            break
        time.sleep(1)
    time.sleep(1)  # one more scrape of the final page
    finish(p)
    lines = intervals_of(out)
    index = {}
    for series in prom_api(prom_url, "surge_interval_index[10m]"):
        for t, v in series["values"]:
            index[t] = int(float(v))
    pairs = []
    for series in prom_api(prom_url, 'surge_ttft_interval_seconds{quantile="0.99"}[10m]'):
        for t, v in series["values"]:
            if t in index and index[t] >= 0:
                pairs.append((index[t], float(v)))
    matched = set()
    for i, v in pairs:
        want = lines[i]["summary"]["ttft_ms"]["p99"]
        if want is None:
            if v == v:  # not NaN
                fail("interval %d has no TTFT in intervals.jsonl but Prometheus has %r" % (i, v))
            continue
        if abs(v * 1e3 - want) > 1e-6 * max(1.0, want):
            fail("interval %d: Prometheus P99 TTFT %.6f ms, intervals.jsonl %.6f ms"
                 % (i, v * 1e3, want))
        matched.add(i)
    if len(matched) < 5:
        fail("Prometheus stored the P99 of only %d intervals (%d scrapes paired)"
             % (len(matched), len(pairs)))
    prom.terminate()
    wait_exit(prom, 30)
    print("ok: promtool clean on %d pages; Prometheus's P99 TTFT equals intervals.jsonl for "
          "%d intervals (%d scrapes)" % (checked, len(matched), len(pairs)))


SCENARIOS = {"http_framing": http_framing, "watch_under_tmux": watch_under_tmux, "prometheus": prometheus, "page_in_chromium": page_in_chromium, "json_equals_intervals": json_equals_intervals,
             "token": token, "idle_connections": idle_connections}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... live_test.py %s" % "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
