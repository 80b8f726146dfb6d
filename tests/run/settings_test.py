#!/usr/bin/env python3
"""settings_test.py SCENARIO: every plan setting and `surge run` flag reaches the load.

Each scenario runs `surge run` (its local workers, and `surge sim` where a sim:// target
asks) on loopback with a hard time limit, and checks the effect where it lands: at the
target (a recording stub server run by this script, on 127.0.0.1, kernel-chosen port), in
requests.jsonl or in results.json. Scenarios:

  headers_reach_every_request        a plan's `headers:` arrive with every request
  capture_header_fills_group         `capture_header: X-Pool` fills requests.jsonl group
                                     with the value the target answered
  max_connections_per_target_caps_connections
                                     8 requests always in flight over at most 2
                                     connections (the stub counts them; without the key 8)
  connection_per_user_gives_each_user_a_connection
                                     4 users that think between requests use 4 connections
                                     (one each) where they would otherwise share
  prewarm_opens_connections_before_load
                                     `prewarm: true`: GET /v1/models on each connection
                                     before the first completion
  balance_least_inflight_avoids_the_slow_node
                                     two `surge sim` nodes, one slowed 10x (the sim's slow
                                     fault): least_inflight sends it less than a third of the
                                     requests (counted by each sim's /metrics), where
                                     round_robin sends it half
  documented_quick_starts_get_no_errors
                                     `surge run --target sim://llama-3.1-8b-h100 --rate 5`
                                     (docs/fleet.md), the 70B profile and `--sim
                                     --sim-profile`, with no --model: every request answered
                                     (the profile's model is used), 0 errors
  flag_only_run_uses_the_builtin_workload
                                     `surge run --target URL --rate R` without a plan sends
                                     surge's default prompts (plan/default_prompts.c),
                                     not a handful of placeholders
  plan_file_with_target_and_model_states_the_override
                                     `surge run PLAN --target URL --model M`: the load goes to
                                     URL asking for M, "override: ..." is printed and
                                     results.json plan.overrides lists both
  flags_that_would_be_ignored_are_refused
                                     --rate, --duration or --concurrency with a plan file,
                                     --concurrency beside --rate, --burstiness 0 or abc or
                                     without --arrival gamma: exit 2 naming the flag
  every_sla_phase_is_judged          two phases of kind sla against sim://tiny, the first
                                     well below its knee, the second far past it: the second
                                     fails its check, exit 1, and results.json sla lists the
                                     checks of both phases by name
  iterations_are_averaged_in_table_report_and_csv
                                     a stage with `iterations: 3`: the terminal table, the
                                     report and stages.csv show the mean of the iterations,
                                     equal to results.json stages[]
  tls_self_signed_needs_insecure_tls_or_ca_file
                                     an HTTPS target with a self-signed certificate: every
                                     request fails with class tls by default, succeeds with
                                     `insecure_tls: true`, and with `ca_file:` naming its
                                     certificate (skipped when openssl is missing)
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = tempfile.mkdtemp(prefix="surge-settings-")


def fail(msg):
    print("FAIL: " + msg + "\n(scratch: %s)" % TMP, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(77)


# ---- a recording stub target ---------------------------------------------------------------


class Stub:
    """An OpenAI-style streaming target that records what it receives: each request's
    method, path, headers and connection, in arrival order."""

    def __init__(self, delay_ms=20, answer_headers=None, tls_context=None):
        self.lock = threading.Lock()
        self.requests = []  # (monotonic time, method, path, {header: value}, connection id)
        self.prompts = []  # the prompt of each completion
        self.models = []  # the model each completion asked for
        self.connections = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with stub.lock:
                    stub.connections += 1
                    self.connection_id = stub.connections

            def record(self):
                with stub.lock:
                    stub.requests.append((time.monotonic(), self.command, self.path,
                                          {k.lower(): v for k, v in self.headers.items()},
                                          self.connection_id))

            def do_GET(self):
                self.record()
                data = b'{"object":"list","data":[{"id":"stub","object":"model"}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.record()
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b"{}"
                try:
                    request = json.loads(body)
                    prompt = request.get("prompt") or request["messages"][-1]["content"]
                except (ValueError, KeyError, IndexError, TypeError):
                    prompt = None
                with stub.lock:
                    stub.prompts.append(prompt)
                    stub.models.append(request.get("model") if isinstance(request, dict)
                                       else None)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                for name, value in (answer_headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()

                def event(obj):
                    payload = "data: " + (obj if isinstance(obj, str) else json.dumps(obj))
                    data = (payload + "\n\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

                base = {"id": "c1", "object": "chat.completion.chunk", "model": "stub"}
                try:
                    event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}}]))
                    for i in range(2):
                        time.sleep(delay_ms / 2000.0)
                        event(dict(base, choices=[{"index": 0, "delta": {"content": "t%d " % i}}]))
                    event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                               usage={"prompt_tokens": 5, "completion_tokens": 2,
                                      "total_tokens": 7}))
                    event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

        QuietHTTPServer.request_queue_size = 256
        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls_context else "http", self.port)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def completions(self):
        with self.lock:
            return [r for r in self.requests if r[1] == "POST"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_plan(name, text, limit_s=60, extra_args=(), workers=1):
    """Runs a plan with `surge run`; returns (exit code, stdout, stderr, results dir)."""
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(TMP, name + "-results")
    try:
        p = subprocess.run([SURGE, "run", path, "--out", out, "--workers", str(workers),
                            "--threads", "1", "--progress", "plain", "--drain", "3s",
                            *extra_args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=limit_s, cwd=TMP)
    except subprocess.TimeoutExpired:
        fail("%s: surge run did not finish within %d s" % (name, limit_s))
    with open(os.path.join(TMP, name + ".log"), "w") as f:
        f.write(p.stdout + "\n---- stderr\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr, out


def results_of(out):
    try:
        with open(os.path.join(out, "results.json")) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("no readable results.json in %s (%s)" % (out, e))


def records_of(out):
    with open(os.path.join(out, "requests.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def plan_for(url, body, phase="{name: main, kind: constant, rate: 10/s, duration: 2s}"):
    return ("name: settings\ntargets: [%s]\nmodel: stub\nmax_tokens: 2\ntimeout: 5s\n%s\n"
            "phases:\n  - %s\n" % (url, body, phase))


# ---- scenarios ------------------------------------------------------------------------------


def headers_reach_every_request():
    stub = Stub()
    code, _, err, _ = run_plan("headers", plan_for(
        stub.url, "headers:\n  X-Tenant: team-a\n  X-Trace-Sampled: '1'"))
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    posts = stub.completions()
    check(len(posts) >= 10, "the stub saw %d completions, want about 20" % len(posts))
    for _, _, path, headers, _ in posts:
        check(headers.get("x-tenant") == "team-a" and headers.get("x-trace-sampled") == "1",
              "%s arrived without the plan's headers: %s" % (path, headers))


def capture_header_fills_group():
    stub = Stub(answer_headers={"X-Pool": "blue"})
    code, _, err, out = run_plan("capture", plan_for(
        stub.url, "capture_header: X-Pool\noutputs: {record_requests: true}"))
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    records = records_of(out)
    check(len(records) >= 10, "requests.jsonl has %d lines" % len(records))
    groups = {r.get("group") for r in records}
    check(groups == {"blue"}, "requests.jsonl groups %s, want {'blue'}" % groups)


CLOSED_8 = "{name: main, kind: concurrency, concurrency: 8, duration: 2s}"


def max_connections_per_target_caps_connections():
    capped = Stub(delay_ms=40)
    code, _, err, _ = run_plan("maxconn", plan_for(
        capped.url, "max_connections_per_target: 2", CLOSED_8))
    capped.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    check(len(capped.completions()) >= 20, "capped: only %d completions" %
          len(capped.completions()))
    used = {conn for *_, conn in capped.completions()}
    check(len(used) <= 2, "max_connections_per_target 2: the completions came over %d "
          "connections" % len(used))
    free = Stub(delay_ms=40)
    code, _, err, _ = run_plan("maxconn-free", plan_for(free.url, "", CLOSED_8))
    free.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    used_free = {conn for *_, conn in free.completions()}
    check(len(used_free) >= 8, "without a cap, 8 in flight used %d connections (the "
          "control run proves nothing)" % len(used_free))


USERS_4 = "{name: main, kind: users, users: 4, think_time: 150ms, duration: 3s}"


def connection_per_user_gives_each_user_a_connection():
    stub = Stub(delay_ms=10)
    code, _, err, _ = run_plan("peruser", plan_for(stub.url, "connection_per_user: true",
                                                   USERS_4))
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    posts = stub.completions()
    check(len(posts) >= 20, "only %d completions" % len(posts))
    used = {conn for *_, conn in posts}
    check(len(used) >= 4, "4 users with connection_per_user came over %d connections" %
          len(used))
    shared = Stub(delay_ms=10)
    code, _, err, _ = run_plan("peruser-shared", plan_for(shared.url, "", USERS_4))
    shared.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    used_shared = {conn for *_, conn in shared.completions()}
    check(len(used_shared) < len(used),
          "without connection_per_user the users used %d connections, with it %d: the "
          "control run proves nothing" % (len(used_shared), len(used)))


def prewarm_opens_connections_before_load():
    # The preflight (docs/worker.md) also asks GET /v1/models before any load: off here, so
    # the only GETs are prewarm's.
    stub = Stub()
    code, _, err, _ = run_plan("prewarm", plan_for(stub.url, "prewarm: true"),
                               extra_args=["--no-preflight"])
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    # (GET /metrics is the coordinator's scrape of the target, not the engine's.)
    with stub.lock:
        reqs = [r for r in stub.requests if r[2] != "/metrics"]
    check(reqs and reqs[0][1] == "GET" and reqs[0][2] == "/v1/models",
          "prewarm: the first request was %s, want GET /v1/models" %
          (str(reqs[0][1:3]) if reqs else None))
    cold = Stub()
    code, _, err, _ = run_plan("prewarm-cold", plan_for(cold.url, ""),
                               extra_args=["--no-preflight"])
    cold.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    with cold.lock:
        check(not any(r[2] == "/v1/models" for r in cold.requests),
              "without prewarm the stub was sent GETs (the control proves nothing)")


def tls_self_signed_needs_insecure_tls_or_ca_file():
    if not shutil.which("openssl"):
        skip("openssl is not installed: cannot make a self-signed certificate")
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        skip("openssl req failed: " + p.stderr[-500:])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    stub = Stub(tls_context=context)
    try:
        # The preflight meets the certificate first: the run stops before any load, exit 3,
        # saying why; without the preflight every request fails with class tls.
        code, _, err, out = run_plan("tls-preflight", plan_for(stub.url, ""))
        check(code == 3 and "preflight" in err,
              "a self-signed target: exit %d, want 3 from the preflight: %s" % (code, err[-2000:]))
        code, _, err, out = run_plan("tls-verify", plan_for(stub.url, ""),
                                     extra_args=["--no-preflight"])
        r = results_of(out)
        s = r["phases"][0]["summary"]
        check(s["requests"]["ok"] == 0 and s["errors_by_class"].get("tls", 0) > 0,
              "a self-signed target without insecure_tls or ca_file: ok %d, errors %s (want "
              "every request failed with class tls)" % (s["requests"]["ok"],
                                                        s["errors_by_class"]))
        for name, body in (("tls-insecure", "insecure_tls: true"),
                           ("tls-ca", "ca_file: %s" % cert)):
            code, _, err, out = run_plan(name, plan_for(stub.url, body))
            check(code == 0, "%s: exit %d, want 0: %s" % (name, code, err[-2000:]))
            s = results_of(out)["phases"][0]["summary"]
            check(s["requests"]["ok"] >= 10 and s["requests"]["errors"] == 0,
                  "%s: ok %d, errors %s" % (name, s["requests"]["ok"], s["errors_by_class"]))
    finally:
        stub.stop()


def served_by(sim):
    import simlib
    _, samples = sim.metrics()
    return simlib.metric_sum(samples, "vllm:request_success_total")


def balance_least_inflight_avoids_the_slow_node():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
    import simlib
    with simlib.Sim("--profile", "tiny") as fast, \
            simlib.Sim("--profile", "tiny", "--fault", "kind=slow,factor=10") as slow:
        share = {}
        for policy in ("least_inflight", "round_robin"):
            before = (served_by(fast), served_by(slow))
            text = ("name: balance\ntargets: [http://127.0.0.1:%d, http://127.0.0.1:%d]\n"
                    "model: surge-sim-tiny\nmax_tokens: 8\nignore_eos: true\ntimeout: 20s\n"
                    "balance: %s\nserver_metrics: off\nphases:\n"
                    "  - {name: main, kind: constant, rate: 20/s, duration: 3s}\n"
                    % (fast.port, slow.port, policy))
            code, _, err, _ = run_plan("balance-" + policy, text, extra_args=("--drain", "20s"))
            check(code == 0, "%s: exit %d, want 0: %s" % (policy, code, err[-2000:]))
            to_fast = served_by(fast) - before[0]
            to_slow = served_by(slow) - before[1]
            check(to_fast + to_slow >= 50, "%s: only %d requests served" %
                  (policy, to_fast + to_slow))
            share[policy] = to_slow / (to_fast + to_slow)
            print("%s: fast node %d, slow node %d" % (policy, to_fast, to_slow), flush=True)
        check(share["least_inflight"] < 1 / 3,
              "least_inflight sent %.0f%% of the requests to the slowed node, want < 33%%" %
              (100 * share["least_inflight"]))
        check(abs(share["round_robin"] - 0.5) < 0.1,
              "round_robin sent %.0f%% to the slowed node, want 50%%" %
              (100 * share["round_robin"]))


def run_flags(name, args, limit_s=90):
    """Runs `surge run ARGS` without a plan; returns (exit code, stdout, stderr, results)."""
    out = os.path.join(TMP, name + "-results")
    try:
        p = subprocess.run([SURGE, "run", *args, "--out", out, "--workers", "1", "--threads",
                            "1", "--progress", "plain"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=limit_s, cwd=TMP)
    except subprocess.TimeoutExpired:
        fail("%s: surge run did not finish within %d s" % (name, limit_s))
    with open(os.path.join(TMP, name + ".log"), "w") as f:
        f.write(p.stdout + "\n---- stderr\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr, out


def documented_quick_starts_get_no_errors():
    for name, args, model in (
            ("qs-8b", ["--target", "sim://llama-3.1-8b-h100"], "meta-llama/Llama-3.1-8B-Instruct"),
            ("qs-70b", ["--target", "sim://llama-3.1-70b-fp8-h100x4"],
             "meta-llama/Llama-3.1-70B-Instruct"),
            ("qs-sim-profile", ["--sim", "--sim-profile", "llama-3.1-8b-h100"],
             "meta-llama/Llama-3.1-8B-Instruct"),
            ("qs-sim", ["--sim"], "surge-sim-tiny")):
        code, _, err, out = run_flags(name, args + ["--rate", "5", "--duration", "3s"])
        check(code == 0, "%s: exit %d, want 0: %s" % (name, code, err[-2000:]))
        r = results_of(out)
        s = r["summary"]["requests"]
        check(s["ok"] >= 10 and s["errors"] == 0,
              "surge run %s: %d ok, %d errors (%s), want 0 errors" %
              (" ".join(args), s["ok"], s["errors"], r["summary"]["errors_by_class"]))
        check(r["plan"]["model"] == model, "%s: model %s, want %s" %
              (name, r["plan"]["model"], model))


def flag_only_run_uses_the_builtin_workload():
    stub = Stub(delay_ms=2)
    code, _, err, out = run_flags("flags-workload", ["--target", stub.url, "--model", "stub",
                                                     "--rate", "40", "--duration", "3s",
                                                     "--max-tokens", "2"])
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "plan", "default_prompts.c")) as f:
        source = f.read()
    seen = {p for p in stub.prompts if p}
    check(len(stub.prompts) >= 100, "only %d completions" % len(stub.prompts))
    check(len(seen) > 40, "a flag-only run sent %d distinct prompts, want the built-in "
          "workload's (66)" % len(seen))
    for prompt in seen:
        check(json.dumps(prompt.split("\n")[0][:40])[1:-1] in source,
              "a flag-only run sent a prompt that is not a default prompt: %r" % prompt[:80])
    check(results_of(out)["plan"]["prompts"] == source.count('\n    {"'),
          "results.json plan.prompts %s" % results_of(out)["plan"]["prompts"])


def plan_file_with_target_and_model_states_the_override():
    planned, given = Stub(), Stub()
    code, _, err, out = run_plan("override", plan_for(planned.url, "").replace(
        "model: stub", "model: plan-model"), extra_args=("--target", given.url, "--model",
                                                         "flag-model"))
    planned.stop()
    given.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    check(not planned.completions(), "the plan's own target still got %d requests" %
          len(planned.completions()))
    check(len(given.completions()) >= 10 and set(given.models) == {"flag-model"},
          "--target/--model: the given target got %d requests for models %s" %
          (len(given.completions()), set(given.models)))
    for what, value, was in (("target", given.url, planned.url),
                             ("model", "flag-model", "plan-model")):
        line = "override: %s: %s (the plan says %s)" % (what, value, was)
        check(line in err, "no '%s' on stderr:\n%s" % (line, err[-2000:]))
    overrides = results_of(out)["plan"].get("overrides")
    check(overrides and len(overrides) == 2 and "model: flag-model" in overrides[1],
          "results.json plan.overrides %s" % overrides)


def flags_that_would_be_ignored_are_refused():
    plan = os.path.join(TMP, "refuse.yaml")
    with open(plan, "w") as f:
        f.write(plan_for("http://127.0.0.1:9", ""))
    flags = ["--target", "http://127.0.0.1:9", "--model", "m"]
    for args, named in (([plan, "--rate", "5"], "--rate"),
                        ([plan, "--duration", "5s"], "--duration"),
                        ([plan, "--concurrency", "4"], "--concurrency"),
                        (flags + ["--rate", "5", "--concurrency", "3"], "--concurrency"),
                        (flags + ["--rate", "5", "--arrival", "gamma", "--burstiness", "0"],
                         "--burstiness"),
                        (flags + ["--rate", "5", "--arrival", "gamma", "--burstiness", "abc"],
                         "--burstiness"),
                        (flags + ["--rate", "5", "--burstiness", "0.5"], "--burstiness")):
        p = subprocess.run([SURGE, "run", *args, "--out", os.path.join(TMP, "refused"),
                            "--workers", "1"], capture_output=True, text=True, timeout=30,
                           cwd=TMP)
        check(p.returncode == 2 and named in p.stderr,
              "surge run %s: exit %d, want 2 with %s named; stderr: %s" %
              (" ".join(args), p.returncode, named, p.stderr[-1000:]))
        check(not os.path.exists(os.path.join(TMP, "refused")),
              "surge run %s was refused but ran anyway" % " ".join(args))


TWO_SLA_PHASES = """
name: two-sla-phases
targets: [sim://tiny]
model: surge-sim-tiny
ignore_eos: true
timeout: 10s
workload:
  synthetic: {input_tokens: 64, output_tokens: 32}
phases:
  - {name: calm, kind: sla, rate: 1/s, arrival: constant, duration: 4s}
  - {name: flood, kind: sla, rate: 14/s, arrival: constant, duration: 4s}
sla:
  - ttft_ms.p99 <= 1500
"""


def every_sla_phase_is_judged():
    code, out, err, results = run_plan("two-sla", TWO_SLA_PHASES, limit_s=90)
    r = results_of(results)
    check(code == 1, "exit %d, want 1 (the second SLA phase is far past the knee): %s" %
          (code, err[-1500:]))
    sla = r.get("sla") or {}
    by_phase = {c.get("phase"): c for c in sla.get("checks", [])}
    check(set(by_phase) == {"calm", "flood"}, "results.json sla checks %s, want one for each "
          "phase of kind sla" % sla.get("checks"))
    check(by_phase["calm"]["passed"] and not by_phase["flood"]["passed"] and
          sla["passed"] is False, "sla %s: want calm passed, flood failed" % sla)
    check("(phase flood)" in out and "SLA: FAIL" in out,
          "the terminal table does not name the failing phase:\n%s" % out[-1500:])


ITERATIONS = """
name: iterations
targets: [sim://instant]
model: surge-sim-instant
max_tokens: 4
phases:
  - {name: once, kind: constant, rate: 10/s, duration: 1s}
  - {name: repeat, kind: constant, rate: 8/s, arrival: constant, duration: 1s, iterations: 3}
"""


def iterations_are_averaged_in_table_report_and_csv():
    import csv
    code, out, err, results = run_plan("iterations", ITERATIONS, limit_s=60)
    check(code == 0, "exit %d, want 0: %s" % (code, err[-1500:]))
    r = results_of(results)
    stage = [s for s in r["stages"] if s["name"] == "repeat"][0]
    mean = stage["levels"][0]["summary"]
    check(mean["iterations"] == 3, "results.json: %s iterations" % mean.get("iterations"))
    # The terminal: a row for the stage with its run count and mean rates.
    rows = [line.split() for line in out.splitlines() if line.startswith("repeat ")]
    check(rows and rows[0][1] == "3" and
          abs(float(rows[0][3]) - mean["completed_rps"]) < 0.01,
          "the terminal has no averaged row for repeat (mean done/s %.2f):\n%s" %
          (mean["completed_rps"], out[-2000:]))
    # stages.csv: one row per stage level, the mean summary.
    with open(os.path.join(results, "stages.csv")) as f:
        table = {row["stage"]: row for row in csv.DictReader(f)}
    check("repeat" in table and table["repeat"]["iterations"] == "3" and
          abs(float(table["repeat"]["requests_total"]) - mean["requests"]["total"]) < 1e-6,
          "stages.csv: %s, want the mean of repeat's iterations (%s requests)" %
          (table.get("repeat"), mean["requests"]["total"]))
    # report.html: the averaged table.
    with open(os.path.join(results, "report.html")) as f:
        html = f.read()
    at = html.find("Iterations averaged")
    check(at >= 0 and "repeat" in html[at:at + 2000],
          "report.html has no 'Iterations averaged' table with repeat")


SCENARIOS = {f.__name__: f for f in (
    headers_reach_every_request, capture_header_fills_group,
    max_connections_per_target_caps_connections,
    connection_per_user_gives_each_user_a_connection, prewarm_opens_connections_before_load,
    balance_least_inflight_avoids_the_slow_node, documented_quick_starts_get_no_errors,
    flag_only_run_uses_the_builtin_workload,
    plan_file_with_target_and_model_states_the_override, flags_that_would_be_ignored_are_refused,
    every_sla_phase_is_judged, iterations_are_averaged_in_table_report_and_csv,
    tls_self_signed_needs_insecure_tls_or_ca_file)}


def main():
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=build/surge settings_test.py {%s}" % ",".join(SCENARIOS))
        return 2
    SCENARIOS[sys.argv[1]]()
    print("PASS %s" % sys.argv[1])
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
