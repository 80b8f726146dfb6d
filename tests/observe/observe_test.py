#!/usr/bin/env python3
"""observe_test.py SCENARIO: server-side metrics and live metrics, real processes on loopback.

Each scenario starts its own targets and `surge run`, kills what it started on exit, and
is bounded in time (docs/metrics.md, docs/report.md). Scenarios:

  two_sims      a run against two `surge sim` nodes: every interval of intervals.jsonl
                carries `server` figures for both targets (running > 0 under load, KV
                usage within 0..1, nothing negative); results.json `server` has both with
                no scrape error, and the servers' generated tokens add up to the client's
                own output-token count (within 10%); report.html draws them and states a
                bottleneck reading
  broken        a target whose /metrics answers garbage, 500, hangs or sends 9 MB in turn,
                next to a healthy sim: every scrape of it is counted as an error with a
                reason (also in the end-of-run summary), it never appears in an interval,
                the sim still does, and the run ends on time with every request ok
  engines       fake targets with SGLang's names (two tp ranks, counters that restart
                mid-run) and TGI's, their page at the plan's `server_metrics` path: running
                and waiting add up over ranks, KV usage and the cache hit rate are their
                mean, queue time is the
                histogram's mean, token rates are the counters' increase per second, and
                the restart gives one small rate, never a negative one; a bad
                `server_metrics` value is refused by `surge validate` with its line
  prefix        a run against `surge sim --prefix-caching` whose requests share a long
                prefix (the default prompts without unique_prefix, repeated): the intervals'
                prefix_cache_hit_rate is > 0, and the run's (results.json) equals hits /
                queries as the sim's own /metrics count them over the run; report.html
                charts it
  prometheus    a plan's `prometheus:` queries sent to a fake Prometheus that --prometheus
                names (the flag overrides the plan's dead URL): each query asks for the
                run's window at the plan's step, the matrix lands in results.json on the
                run's clock (NaN as null), a PromQL error is stored with its reason, and
                report.html draws the series and names the failed query; a non-HTTP
                prometheus.url is refused by `surge validate`
  live          `surge run --metrics-listen` is scraped during the run and after it (the
                linger), every page parsed by Debian's prometheus_client; the final page
                agrees with results.json (requests by outcome, errors by class, tokens,
                intervals, TTFT count and P99); other methods get 405, other paths 404; the Grafana dashboard is valid JSON and
                every surge_* name its queries use was on a page
                (needs /usr/bin/python3 with python3-prometheus-client: exit 77 otherwise)
"""
import csv
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.request

SURGE = os.environ.get("SURGE_BIN")
SRC = os.environ.get("SURGE_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from procs import cleanup, fail, init, log_of, start, wait_exit, wait_for_log  # noqa: E402

TMP = init("surge-observe-")


def url_in(line):
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        fail("no URL in: " + line)
    return m.group(0)


def start_sim(name):
    p = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny"], name)
    return url_in(wait_for_log(p, "listening on"))


def write_plan(targets, rate, duration_s, max_tokens=64, extra=""):
    path = os.path.join(TMP, "plan.yaml")
    with open(path, "w") as f:
        f.write("name: observe\ntargets: [%s]\nmodel: surge-sim-tiny\nmax_tokens: %d\n%s"
                "phases:\n  - name: load\n    kind: constant\n    rate: %g\n    duration: %ds\n"
                % (", ".join(targets), max_tokens, extra, rate, duration_s))
    return path


def run(args, name="run", timeout_s=90):
    out = os.path.join(TMP, name + "-results")
    p = start([SURGE, "run"] + args + ["--workers", "1", "--out", out, "--quiet",
                                       "--log-level", "info"], name)
    return p, out


def load(out):
    try:
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(out, "intervals.jsonl")) as f:
            intervals = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        fail("cannot read the results in %s: %s" % (out, e))
    return results, intervals


def check_figures(fig, where):
    for key, value in fig.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            fail("%s: %s = %r is not a finite number >= 0" % (where, key, value))
    if "kv_cache_usage" in fig and fig["kv_cache_usage"] > 1:
        fail("%s: kv_cache_usage %r above 1" % (where, fig["kv_cache_usage"]))


# ---- scenarios ------------------------------------------------------------------------

def two_sims():
    a, b = start_sim("sim-a"), start_sim("sim-b")
    p, out = run([write_plan([a, b], rate=20, duration_s=5)])
    rc = wait_exit(p, 90)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(p)[-3000:]))
    results, intervals = load(out)
    measured = [iv for iv in intervals if iv["phase"] == "load" and iv["end_s"] <= 5.0 + 0.01
                + min(ph["start_s"] for ph in results["phases"])]
    if len(measured) < 4:
        fail("only %d intervals in the phase" % len(measured))
    running_seen = {a: 0, b: 0}
    for iv in intervals:
        server = iv.get("server")
        if iv in measured and (not server or set(server) != {a, b}):
            fail("interval %d has no server figures for both targets: %r" % (iv["interval"],
                                                                              server))
        for url, fig in (server or {}).items():
            check_figures(fig, "interval %d %s" % (iv["interval"], url))
            running_seen[url] = max(running_seen[url], fig.get("running", 0))
    for url, seen in running_seen.items():
        if seen <= 0:
            fail("%s never had a request running under 20 req/s" % url)
    server = results.get("server") or fail("results.json has no server")
    generated = 0
    for url in (a, b):
        s = server.get(url) or fail("results.json server has no %s: %r" % (url, server))
        if s["scrape_errors"] != 0 or s["last_error"] is not None or s["scrapes"] < 5:
            fail("%s: scrapes %r errors %r (%r)" % (url, s["scrapes"], s["scrape_errors"],
                                                     s["last_error"]))
        if not s.get("max_running", 0) > 0 or not 0 < s.get("max_kv_cache_usage", 0) <= 1:
            fail("%s: implausible summary %r" % (url, s))
        generated += s.get("generation_tokens", 0)
    client = results["summary"]["output_tokens"]
    if client <= 0 or abs(generated - client) > 0.10 * client:
        fail("servers generated %.0f tokens, the client counted %d (more than 10%% apart)"
             % (generated, client))
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    section = html[html.find('id="server"'):]
    if 'id="server"' not in html or a not in section or b not in section:
        fail("report.html does not draw the server metrics of both targets")
    if "Reading at" not in section or not re.search(
            r"memory-bound|compute- or batch-bound|the limit is elsewhere", section):
        fail("report.html states no bottleneck reading")
    # server.csv holds the same figures, one row per interval, target and metric.
    with open(os.path.join(out, "server.csv")) as f:
        rows = list(csv.DictReader(f))
    want = sum(len([v for v in fig.values() if isinstance(v, (int, float)) or v is None])
               for iv in intervals for fig in (iv.get("server") or {}).values())
    if len(rows) != want or {r["target"] for r in rows} != {a, b}:
        fail("server.csv has %d rows for %r, intervals.jsonl %d figures" % (
            len(rows), {r["target"] for r in rows}, want))
    first = next(r for r in rows if r["metric"] == "running")
    iv = next(iv for iv in intervals if str(iv["interval"]) == first["interval"])
    if float(first["value"]) != float(iv["server"][first["target"]]["running"]):
        fail("server.csv running %r differs from intervals.jsonl" % first)
    print("ok: %d intervals with both targets; servers %.0f tokens vs client %d; server.csv %d rows"
          % (len(measured), generated, client, len(rows)))


def broken():
    sim = start_sim("sim")
    bp = start([sys.executable, os.path.join(HERE, "fake_target.py")], "broken")
    bad = url_in(wait_for_log(bp, "listening on"))
    t0 = time.monotonic()
    p, out = run([write_plan([sim, bad], rate=10, duration_s=6, max_tokens=16)])
    rc = wait_exit(p, 90)
    took = time.monotonic() - t0
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(p)[-3000:]))
    results, intervals = load(out)
    summary = results["summary"]["requests"]
    if summary["errors"] != 0 or summary["ok"] < 40:
        fail("the client's figures are not normal: %r" % summary)
    per_target = {t["url"]: t["summary"]["requests"]["ok"] for t in results["targets"]}
    if per_target.get(bad, 0) < 15:
        fail("the broken-metrics target served too few requests: %r" % per_target)
    s = results["server"][bad]
    if s["scrapes"] < 5 or s["scrape_errors"] != s["scrapes"] or not s["last_error"]:
        fail("the broken target's scrapes are not all counted as errors: %r" % s)
    with urllib.request.urlopen(bad + "/hits", timeout=5) as r:
        hits = json.load(r)["metrics"]
    if hits < s["scrapes"]:
        fail("%d scrapes counted but the server saw %d" % (s["scrapes"], hits))
    if results["server"][sim]["scrape_errors"] != 0:
        fail("the healthy sim has scrape errors: %r" % results["server"][sim])
    with_sim = 0
    for iv in intervals:
        server = iv.get("server") or {}
        if bad in server:
            fail("interval %d has figures for the broken target: %r" % (iv["interval"], server))
        with_sim += sim in server
    if with_sim < 5:
        fail("only %d intervals carry the sim's figures" % with_sim)
    # 6 s of load, ~1.5 s to start, a drain: a stalled loop would take far longer.
    if took > 30:
        fail("the run took %.1f s for 6 s of load" % took)
    if not re.search(re.escape(bad) + r" +every scrape failed \(\d+\)", log_of(p)):
        fail("the end-of-run summary does not say the broken target's scrapes all failed")
    logged = log_of(p).count("scrape %s/metrics" % bad)
    if logged == 0 or logged > 3:
        fail("scrape failures logged %d times (want 1..3, then only counted)" % logged)
    print("ok: %d/%d scrapes of the broken target counted (last: %s); run took %.1f s"
          % (s["scrape_errors"], s["scrapes"], s["last_error"], took))


def engines():
    targets = {}
    for flavor in ("sglang", "tgi"):
        fp = start([sys.executable, os.path.join(HERE, "fake_target.py"), "--flavor", flavor,
                    "--path", "/custom/metrics"], flavor)
        targets[flavor] = url_in(wait_for_log(fp, "listening on"))
    plan = write_plan([targets["sglang"], targets["tgi"]], rate=8, duration_s=6, max_tokens=8,
                      extra="server_metrics: /custom/metrics\n")
    p, out = run([plan])
    rc = wait_exit(p, 90)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(p)[-3000:]))
    results, intervals = load(out)
    sg, tg = targets["sglang"], targets["tgi"]
    rates = []
    for iv in intervals:
        server = iv.get("server") or {}
        for url, fig in server.items():
            check_figures(fig, "interval %d %s" % (iv["interval"], url))
        if sg in server:
            f = server[sg]
            want = {"running": 8, "waiting": 3, "kv_cache_usage": 0.6, "queue_time_ms": 25,
                    "prefix_cache_hit_rate": 0.3}
            for key, value in want.items():
                if abs(f.get(key, -1) - value) > 1e-6 * max(1, value):
                    fail("interval %d sglang %s = %r, want %r" % (iv["interval"], key,
                                                                  f.get(key), value))
            rates.append(f["generation_tokens_per_s"])
        if tg in server:
            f = server[tg]
            if (f.get("running"), f.get("waiting")) != (4, 2) or "kv_cache_usage" in f or \
                    "prefix_cache_hit_rate" in f:
                fail("interval %d tgi figures %r" % (iv["interval"], f))
            if abs(f.get("queue_time_ms", 0) - 50) > 1e-6 or not 25 < f.get(
                    "generation_tokens_per_s", 0) < 36:
                fail("interval %d tgi queue time or token rate %r" % (iv["interval"], f))
    if len(rates) < 6:
        fail("only %d intervals with SGLang figures" % len(rates))
    # 100 tokens per scrape about a second apart; 20 at the restart (its new values).
    normal = [r for r in rates if 85 < r < 118]
    restart = [r for r in rates if 15 < r < 25]
    if len(restart) != 1 or len(normal) != len(rates) - 1:
        fail("SGLang generation rates %r: want one restart (~20/s), the rest ~100/s" % rates)
    s = results["server"][sg]
    if s["scrape_errors"] != 0 or s["max_running"] != 8:
        fail("results.json server for sglang: %r" % s)
    # The plan key: a path must start with / (or be off).
    bad = os.path.join(TMP, "bad.yaml")
    with open(plan) as f, open(bad, "w") as g:
        g.write(f.read().replace("server_metrics: /custom/metrics", "server_metrics: metrics"))
    import subprocess
    r = subprocess.run([SURGE, "validate", bad], capture_output=True, text=True, timeout=30)
    if r.returncode != 2 or not re.search(r"bad\.yaml:\d+:\d+: 'server_metrics'", r.stderr):
        fail("surge validate of server_metrics: metrics: exit %d, %r" % (r.returncode, r.stderr))
    with open(bad, "w") as g, open(plan) as f:
        g.write(f.read().replace("server_metrics: /custom/metrics", "server_metrics: off"))
    r = subprocess.run([SURGE, "validate", bad], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fail("server_metrics: off refused: %r" % r.stderr)
    print("ok: SGLang and TGI names mapped over %d intervals; rates %r" % (len(rates), rates))


def prometheus():
    import calendar
    import subprocess
    fp = start([sys.executable, os.path.join(HERE, "fake_prometheus.py")], "prometheus")
    prom = url_in(wait_for_log(fp, "listening on"))
    plan = os.path.join(TMP, "prom.yaml")
    with open(plan, "w") as f:
        f.write("name: prom\ntargets: [sim://tiny]\nmodel: surge-sim-tiny\nmax_tokens: 8\n"
                "prometheus:\n  url: http://127.0.0.1:1\n  step: 2s\n  queries:\n"
                "    gpu_util: avg(DCGM_FI_DEV_GPU_UTIL)\n    broken: up_bad(\n"
                "phases:\n  - name: load\n    kind: constant\n    rate: 5\n    duration: 4s\n")
    p, out = run([plan, "--prometheus", prom])
    rc = wait_exit(p, 90)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(p)[-3000:]))
    results, intervals = load(out)
    pr = results.get("prometheus") or fail("results.json has no prometheus")
    if pr["url"] != prom or pr["step_s"] != 2:
        fail("prometheus url/step %r %r (the flag must override the plan's url)"
             % (pr["url"], pr["step_s"]))
    with urllib.request.urlopen(prom + "/requests", timeout=5) as r:
        seen = json.load(r)
    if sorted(q["query"] for q in seen) != ["avg(DCGM_FI_DEV_GPU_UTIL)", "up_bad("]:
        fail("queries received: %r" % seen)
    t0 = calendar.timegm(time.strptime(results["started_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    span = results["intervals"] * results["plan"]["interval_ms"] / 1000.0
    for q in seen:
        if abs(q["start"] - t0) > 1.5 or abs(q["end"] - q["start"] - span) > 1.5 or q["step"] != 2:
            fail("query window %r, want start %.0f, length %.1f s, step 2" % (q, t0, span))
    by_name = {q["name"]: q for q in pr["queries"]}
    good, bad = by_name.get("gpu_util"), by_name.get("broken")
    if not good or good["error"] is not None or len(good.get("series", [])) != 2:
        fail("gpu_util: %r" % good)
    for series in good["series"]:
        points = series["points"]
        if not points or any(not -2.5 < t <= span + 2.5 for t, _ in points):
            fail("points not on the run's clock (0..%.1f s): %r" % (span, points))
        if points[1][1] is not None or points[0][1] not in (50, 60):
            fail("NaN must be null and values kept: %r" % points[:3])
    if not bad or "bad_data" not in (bad.get("error") or "") or "series" in bad:
        fail("the failed query is not stored with its reason: %r" % bad)
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    section = html[html.find('id="prometheus"'):]
    if 'id="prometheus"' not in html or "gpu_util: avg(DCGM_FI_DEV_GPU_UTIL)" not in section \
            or "gpu=&quot;1&quot;" not in section or "bad_data" not in section:
        fail("report.html does not draw the Prometheus queries")
    with open(os.path.join(TMP, "bad-prom.yaml"), "w") as f:
        f.write(open(plan).read().replace("url: http://127.0.0.1:1", "url: ftp://x"))
    r = subprocess.run([SURGE, "validate", os.path.join(TMP, "bad-prom.yaml")],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 2 or "prometheus.url" not in r.stderr:
        fail("a non-HTTP prometheus.url: exit %d, %r" % (r.returncode, r.stderr))
    print("ok: %d queries over %.1f s at a 2 s step; the PromQL error kept: %s"
          % (len(seen), span, bad["error"]))


def live():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("SKIP: needs python3-prometheus-client for %s (apt-get install "
              "python3-prometheus-client)" % sys.executable)
        sys.exit(77)
    p, out = run(["--sim", "--rate", "15", "--duration", "5s", "--max-tokens", "32",
                  "--metrics-listen", "127.0.0.1:0", "--metrics-linger", "4s"])
    page_url = url_in(wait_for_log(p, "live page on http://", timeout_s=20)) + "/metrics"

    def scrape():
        with urllib.request.urlopen(page_url, timeout=5) as r:
            if not r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
                fail("Content-Type %r" % r.headers.get("Content-Type"))
            text = r.read().decode()
        samples = {}
        try:
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        except Exception as e:  # the parser raises ValueError and friends
            fail("prometheus_client cannot parse the page: %r\n%s" % (e, text[:2000]))
        return samples

    def value(samples, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in samples:
            fail("no %s%r on the page" % (name, labels))
        return samples[key]

    # Only GET/HEAD of /metrics: anything else is refused, and the run goes on.
    base = page_url[:-len("/metrics")]
    for method, path, want in (("POST", "/metrics", 405), ("GET", "/nope", 404),
                               ("HEAD", "/metrics", 200)):
        req = urllib.request.Request(base + path, method=method, data=b"x" if method == "POST"
                                     else None)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != want:
            fail("%s %s answered %d, want %d" % (method, path, status, want))
    deadline = time.monotonic() + 60
    mid_run, final = None, None
    served = set()  # every name any page had (a gauge without a value is left out)
    while time.monotonic() < deadline and p.poll() is None:
        try:
            samples = scrape()
        except OSError:
            break  # the linger is over
        served.update(name for name, _ in samples)
        if ("surge_run_finished", ()) in samples:
            if value(samples, "surge_run_finished") == 1:
                final = samples
                break
            if value(samples, "surge_requests_total", outcome="ok") > 0:
                mid_run = samples
        time.sleep(0.3)
    if mid_run is None or final is None:
        fail("no page during the run (%s) or after it (%s)" % (mid_run is not None,
                                                               final is not None))
    wait_exit(p, 30)
    results, intervals = load(out)
    s = results["summary"]
    late = results.get("late_snapshots", 0)
    ok, err = (value(final, "surge_requests_total", outcome="ok"),
               value(final, "surge_requests_total", outcome="error"))
    if late == 0 and (ok != s["requests"]["ok"] or err != s["requests"]["errors"]):
        fail("live ok/error %d/%d, results.json %r" % (ok, err, s["requests"]))
    if ok + err != s["requests"]["total"] and late == 0:
        fail("live requests %d != results.json total %d" % (ok + err, s["requests"]["total"]))
    for cls, n in s["errors_by_class"].items():
        if value(final, "surge_errors_total", **{"class": cls}) != n:
            fail("errors of class %s differ" % cls)
    if value(final, "surge_output_tokens_total") != s["output_tokens"]:
        fail("output tokens %r vs %r" % (value(final, "surge_output_tokens_total"),
                                         s["output_tokens"]))
    if value(final, "surge_intervals_total") != results["intervals"]:
        fail("intervals %r vs %r" % (value(final, "surge_intervals_total"),
                                     results["intervals"]))
    if value(final, "surge_ttft_seconds_count") != s["ttft_ms"]["count"]:
        fail("TTFT count %r vs %r" % (value(final, "surge_ttft_seconds_count"),
                                      s["ttft_ms"]["count"]))
    p99 = value(final, "surge_ttft_seconds", quantile="0.99") * 1000
    if abs(p99 - s["ttft_ms"]["p99"]) > 0.01 * s["ttft_ms"]["p99"] + 0.01:
        fail("TTFT p99 %.3f ms vs results.json %.3f ms" % (p99, s["ttft_ms"]["p99"]))
    workers = sum(value(final, "surge_workers", state=st) for st in ("live", "lost", "left"))
    if workers != 1:
        fail("surge_workers adds up to %r, want 1" % workers)
    sim_url = results["plan"]["targets"][0]
    if value(final, "surge_server_scrape_errors_total", target=sim_url) != 0:
        fail("the sim's scrapes failed")
    value(final, "surge_server_kv_cache_usage_ratio", target=sim_url)

    # The example dashboard: valid JSON, Grafana's shape, only names the page serves.
    path = os.path.join(SRC, "docs", "grafana", "surge-dashboard.json")
    try:
        with open(path) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))
    if not isinstance(dash.get("panels"), list) or dash.get("schemaVersion", 0) < 36:
        fail("%s: no panels or schemaVersion < 36 (Grafana 10)" % path)
    used = set()
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            used.update(re.findall(r"\bsurge_[a-z0-9_]+", target.get("expr", "")))
    if len(used) < 8:
        fail("the dashboard queries only %r" % sorted(used))
    missing = sorted(used - served)
    if missing:
        fail("the dashboard uses names the endpoint does not serve: %r" % missing)
    print("ok: live totals equal results.json (%d requests); dashboard uses %d served names"
          % (ok + err, len(used)))


def sim_prefix_counters(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = {"vllm:prefix_cache_queries_total": 0.0, "vllm:prefix_cache_hits_total": 0.0}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in total:
            total[name] += float(line.rsplit(" ", 1)[1])
    return total["vllm:prefix_cache_queries_total"], total["vllm:prefix_cache_hits_total"]


def prefix():
    p = start([SURGE, "sim", "--listen", "127.0.0.1:0", "--profile", "tiny",
               "--prefix-caching"], "sim")
    sim = url_in(wait_for_log(p, "listening on"))
    q0, h0 = sim_prefix_counters(sim)
    # A small pool of long prompts, cycled: every template comes back, its blocks cached.
    # The pause after the load lets the last requests finish while the scraper still runs,
    # so its counters cover every request the sim served.
    plan = write_plan([sim], rate=4, duration_s=5, max_tokens=8,
                      extra="workload:\n  pool_size: 4\n  unique_prefix: false\n"
                            "  input_tokens: 200\n")
    with open(plan) as f:
        text = f.read()
    with open(plan, "w") as f:
        f.write(text + "    pause: 2s\n")
    run_p, out = run([plan])
    rc = wait_exit(run_p, 90)
    if rc != 0:
        fail("surge run exited %d:\n%s" % (rc, log_of(run_p)[-3000:]))
    q1, h1 = sim_prefix_counters(sim)
    results, intervals = load(out)
    rates = [iv["server"][sim]["prefix_cache_hit_rate"] for iv in intervals
             if "prefix_cache_hit_rate" in (iv.get("server") or {}).get(sim, {})]
    if len(rates) < 3 or not max(rates) > 0:
        fail("intervals' prefix_cache_hit_rate %r: want > 0 in several" % rates)
    if not all(0 <= r <= 1 for r in rates):
        fail("a hit rate outside 0..1: %r" % rates)
    s = results["server"][sim]
    want = (h1 - h0) / (q1 - q0)
    if "prefix_cache_hit_rate" not in s or abs(s["prefix_cache_hit_rate"] - want) > 1e-6:  # 6 digits
        fail("results.json prefix_cache_hit_rate %r, the sim's own counters say %.6f "
             "(%r queries, %r hits; summary %r)" % (s.get("prefix_cache_hit_rate"), want,
                                                    q1 - q0, h1 - h0, s))
    if s["prefix_cache_queries"] != q1 - q0 or s["prefix_cache_hits"] != h1 - h0:
        fail("results.json counted %r/%r, the sim %r/%r" % (
            s["prefix_cache_hits"], s["prefix_cache_queries"], h1 - h0, q1 - q0))
    if not 0 < s["max_prefix_cache_hit_rate"] <= 1:
        fail("max_prefix_cache_hit_rate %r" % s["max_prefix_cache_hit_rate"])
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    if "prefix cache hit rate" not in html[html.find('id="server"'):]:
        fail("report.html draws no prefix cache hit rate among the server charts")
    print("ok: prefix cache hit rate %.3f over the run (%d intervals, max %.3f)"
          % (want, len(rates), max(rates)))


SCENARIOS = {"two_sims": two_sims, "broken": broken, "engines": engines, "prefix": prefix,
             "prometheus": prometheus, "live": live}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... observe_test.py %s" % "|".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        cleanup()
