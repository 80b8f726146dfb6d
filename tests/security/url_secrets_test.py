#!/usr/bin/env python3
"""url_secrets_test.py SCENARIO: target URLs and allow-lists against hostile inputs, real
processes on loopback (issue 18 items 3 and 4; docs/security.md "Target URLs and
allow-lists"). Scenarios:

  url_secret_nowhere        a run whose targets carry `user:PASS@` and `?key=SECRET` (a
                            `surge sim` and a recording target) answers normally, and no
                            secret appears in any file of the results directory, report,
                            the log lines of the coordinator and workers (surge run's, and
                            a fleet worker's at debug level refusing such a plan), or the
                            live /metrics page; the requests themselves carry the userinfo
                            (Basic auth) and the query, the /metrics scrape neither
  ip_glob_refuses_dns_name  a worker allowed `127.0.*:PORT` (and `127.0.0.0/8:PORT`) refuses
                            a plan naming `http://127.0.attacker.example:PORT` (bye, exit 3,
                            the target gets nothing) and runs one naming 127.0.0.1:PORT
"""
import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

SURGE = os.environ.get("SURGE_BIN")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402
from quiet_http import QuietHTTPServer  # noqa: E402

TMP = init("surge-urlsec-")


# ---- a target that records what it is sent -------------------------------------------

SEEN = []  # (method, path with query, Authorization header or None)
SEEN_LOCK = threading.Lock()
METRICS_PAGE = ("# TYPE vllm:num_requests_running gauge\n"
                'vllm:num_requests_running{model_name="m"} 2\n')


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def record(self):
        with SEEN_LOCK:
            SEEN.append((self.command, self.path, self.headers.get("Authorization")))

    def send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        if self.path.startswith("/metrics"):
            self.send(200, "text/plain; version=0.0.4", METRICS_PAGE.encode())
        else:
            self.send(200, "application/json", b'{"data": [{"id": "m"}]}')

    def do_POST(self):
        self.record()
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        chunks = ['{"choices":[{"index":0,"delta":{"role":"assistant"}}]}']
        chunks += ['{"choices":[{"index":0,"delta":{"content":"tok "}}]}'] * 3
        chunks += ['{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
                   '"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}']
        body = "".join("data: %s\n\n" % c for c in chunks) + "data: [DONE]\n\n"
        self.send(200, "text/event-stream", body.encode())


def recorder():
    server = QuietHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "127.0.0.1:%d" % server.server_address[1]


def run(cmd, timeout_s=60):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


def url_in(line):
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        fail("no URL in: " + line)
    return m.group(0)


# ---- scenarios ------------------------------------------------------------------------

def url_secret_nowhere():
    tag = "%s%d" % (os.urandom(6).hex(), os.getpid())
    secrets = {"PASS-sim-" + tag, "KEY-sim-" + tag, "PASS-rec-" + tag, "KEY-rec-" + tag,
               "USER-rec-" + tag}
    sim = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny"], "sim")
    sim_hostport = url_in(wait_for_log(sim, "listening on")).split("://")[1]
    _, rec_hostport = recorder()
    sim_url = "http://user:PASS-sim-%s@%s/?key=KEY-sim-%s&v=1" % (tag, sim_hostport, tag)
    rec_url = "http://USER-rec-%s:PASS-rec-%s@%s/?key=KEY-rec-%s" % (tag, tag, rec_hostport, tag)
    plan = os.path.join(TMP, "secret-urls.yaml")
    with open(plan, "w") as f:
        f.write("name: url-secrets\ntargets:\n  - %s\n  - %s\nmodel: surge-sim-tiny\n"
                "max_tokens: 8\ninterval: 500ms\n"
                "phases:\n  - name: main\n    kind: constant\n    rate: 20/s\n    duration: 4s\n"
                % (sim_url, rec_url))
    outputs = []  # (where, text)
    with open(plan) as f:
        plan_text = f.read()

    # 1. surge run: coordinator, local worker, live /metrics scraped during the run.
    out = os.path.join(TMP, "results")
    p = start([SURGE, "run", plan, "--workers", "1", "--record-requests", "--out", out,
               "--progress", "plain", "--metrics-listen", "127.0.0.1:0",
               "--metrics-linger", "3s"], "run")
    page_url = url_in(wait_for_log(p, "live page on http://", timeout_s=20)) + "/metrics"
    pages = 0
    deadline = time.monotonic() + 40
    while p.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(page_url, timeout=5) as r:
                outputs.append(("live /metrics page %d" % pages, r.read().decode()))
                pages += 1
        except OSError:
            pass
        time.sleep(0.4)
    rc = wait_exit(p, 30)
    if rc != 0:
        fail("surge run exit %d:\n%s" % (rc, log_of(p)[-3000:]))
    if pages < 3 or not any("surge_server_" in t and "target=" in t for _, t in outputs):
        fail("the live page was read %d times, never with a per-target label" % pages)
    rr = run([SURGE, "report", out])
    if rr.returncode != 0:
        fail("surge report exit %d: %s" % (rr.returncode, rr.stderr[-2000:]))
    outputs += [("surge run log", log_of(p)), ("report stdout", rr.stdout),
                ("report stderr", rr.stderr)]
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    for t in res["targets"]:
        if t["summary"]["requests"]["ok"] <= 0 or t["summary"]["requests"]["errors"]:
            fail("target %s should answer every request: %s" % (t["url"], t["summary"]["requests"]))
    shown = [t["url"] for t in res["targets"]]
    if not all("redacted" in u for u in shown):
        fail("results.json targets should show their userinfo and query redacted: %s" % shown)

    # What the recording target was sent: the requests carry the credentials the URL
    # gave (that is what they are for), the /metrics scrape none of them.
    with SEEN_LOCK:
        seen = list(SEEN)
    posts = [s for s in seen if s[0] == "POST"]
    scrapes = [s for s in seen if s[0] == "GET" and s[1].startswith("/metrics")]
    basic = "Basic " + base64.b64encode(("USER-rec-%s:PASS-rec-%s" % (tag, tag)).encode()).decode()
    if not posts or any(s[1] != "/v1/chat/completions?key=KEY-rec-" + tag or s[2] != basic
                        for s in posts):
        fail("requests should go to /v1/chat/completions?key=... with Basic auth: %s" % posts[:3])
    if not scrapes or any(s[1] != "/metrics" or s[2] is not None for s in scrapes):
        fail("the /metrics scrape must send no userinfo and no query: %s" % scrapes[:3])

    # 2. A fleet worker at debug level refusing a plan that names such a URL (its
    #    allow-list omits the recorder): the refusal, as logged on both sides, holds no
    #    secret.
    out2 = os.path.join(TMP, "refused")
    coord = start([SURGE, "coordinator", plan, "--bind", "tcp://127.0.0.1:*", "--workers", "1",
                   "--out", out2, "--progress", "plain", "--ready-timeout", "3s"], "coordinator")
    ep = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                   wait_for_log(coord, "coordinator on ")).group(1)
    w = start([SURGE, "worker", "--connect", ep, "--threads", "1", "--id", "fenced",
               "--log-level", "debug", "--reconnect-timeout", "10s",
               "--allow-target", sim_hostport], "worker")
    if wait_exit(w, 20) != 3:
        fail("the worker should refuse the plan (exit 3):\n%s" % log_of(w)[-2000:])
    wait_for_log(coord, "not in this worker's --allow-target list")
    wait_exit(coord, 30)
    outputs += [("fleet worker log", log_of(w)), ("fleet coordinator log", log_of(coord))]

    # 3. Every file under the results directories (and every log above).
    for d in (out, out2):
        for root, _, files in os.walk(d):
            for fn in files:
                with open(os.path.join(root, fn), "rb") as f:
                    outputs.append((os.path.join(root, fn), f.read().decode("latin-1")))
    for where, text in outputs:
        for s in secrets:
            if s in text:
                fail("the URL secret %s appears in %s" % (s, where))
    if not any(n.endswith("report.html") for n, _ in outputs):
        fail("no report.html was written")
    if "KEY-sim-" + tag not in plan_text:
        fail("test bug: the plan does not hold the secrets")
    print("ok: %d requests with credentials, %d credential-free scrapes; %d outputs "
          "(%d live pages) hold no secret; shown as %s"
          % (len(posts), len(scrapes), len(outputs), pages, shown), flush=True)


def ip_glob_refuses_dns_name():
    _, rec_hostport = recorder()
    port = rec_hostport.split(":")[1]
    hostile = "http://127.0.attacker.example:%s" % port

    def fleet(target, name, allow):
        out = os.path.join(TMP, name)
        coord = start([SURGE, "coordinator", "--target", target, "--bind", "tcp://127.0.0.1:*",
                       "--workers", "1", "--out", out, "--progress", "plain", "--model", "m",
                       "--rate", "10", "--duration", "2s", "--ready-timeout", "3s"],
                      "coordinator-" + name)
        ep = re.search(r"coordinator on (tcp://[0-9.]+:\d+)",
                       wait_for_log(coord, "coordinator on ")).group(1)
        w = start([SURGE, "worker", "--connect", ep, "--threads", "1", "--id", name,
                   "--reconnect-timeout", "10s", "--allow-target", allow], "worker-" + name)
        return coord, w

    for allow in ("127.0.*:" + port, "127.0.0.0/8:" + port):
        name = "dns-" + ("glob" if "*" in allow else "cidr")
        coord, w = fleet(hostile, name, allow)
        rc = wait_exit(w, 20)
        if rc != 3:
            fail("a worker allowed %s should refuse %s (exit 3), exit %d:\n%s"
                 % (allow, hostile, rc, log_of(w)[-2000:]))
        line = wait_for_log(coord, "not in this worker's --allow-target list")
        if "127.0.attacker.example" not in line:
            fail("the refusal should name the target: %s" % line)
        wait_exit(coord, 30)
    with SEEN_LOCK:
        if SEEN:
            fail("the target got requests from refused plans: %s" % SEEN[:3])

    # The same patterns still admit the address itself.
    for allow in ("127.0.*:" + port, "127.0.0.0/8:" + port):
        name = "addr-" + ("glob" if "*" in allow else "cidr")
        coord, w = fleet("http://127.0.0.1:%s" % port, name, allow)
        if wait_exit(coord, 60) != 0 or wait_exit(w, 20) != 0:
            fail("a worker allowed %s should run 127.0.0.1:%s:\n%s" % (allow, port,
                                                                     log_of(w)[-2000:]))
    with SEEN_LOCK:
        posts = [s for s in SEEN if s[0] == "POST"]
    if not posts:
        fail("the allowed address received nothing")
    print("ok: %s refused under 127.0.* and 127.0.0.0/8; 127.0.0.1 ran (%d requests)"
          % (hostile, len(posts)), flush=True)


SCENARIOS = {f.__name__: f for f in (url_secret_nowhere, ip_glob_refuses_dns_name)}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=build/surge url_secrets_test.py {%s}" % "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
