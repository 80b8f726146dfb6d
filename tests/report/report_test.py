#!/usr/bin/env python3
"""report_test.py SCENARIO: report.html, the CSV exports and `surge compare`, from real runs.

Every scenario starts with a real short `surge run` against a local `surge sim` (loopback,
2 workers, a few seconds) and then renders its results directory. Scenarios:

  sections_numbers_csv_escaping
      `surge report DIR` writes report.html, phases.csv, intervals.csv; the HTML has every
      section, shows the numbers results.json holds, is tag-balanced (html.parser with a
      strict stack), references nothing outside the file (no src/href to a URL, no script,
      no @import or url(), a CSP of default-src 'none'); CSV rows equal the phases and the
      intervals; hostile strings planted in the results (phase names, target URL, chaos
      fault, server metric name) come out escaped in HTML and quoted/defused in CSV; server
      metrics and chaos faults planted in the results are drawn, with a bottleneck reading;
      the client-limited banner appears exactly when a measured phase lagged or dropped;
      `surge report --summary` prints the summary; a run with no results.json and a torn
      last interval line still renders, with banners saying so.
  compare_marks_known_difference
      two runs at 2 and 6 req/s, and a copy of the first with its TTFT p99 doubled:
      `surge compare` marks the higher rate "better", the doubled p99 "(+100.0%) worse",
      nothing beyond a 1000% threshold, and --html writes a balanced page with the marks.
  opens_offline_in_headless_chromium
      Debian's chromium loads report.html from file:// headless: the page renders, logs no
      console message, and the network stack starts no request for it (Chromium's NetLog);
      two planted faults prove both detectors see what they should; a screenshot is a
      1400x3000 PNG much larger than a blank page's. Skipped (77) without chromium.
"""
import csv
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SURGE = os.environ.get("SURGE_BIN")
BUILD = os.environ.get("SURGE_BUILD", tempfile.gettempdir())
TMP = tempfile.mkdtemp(prefix="surge-report-")
HOSTILE = "<script>alert(1)</script>, \"x\""


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def surge(*args, timeout=120, expect=0):
    p = subprocess.run([SURGE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        fail("surge %s: exit %d (wanted %d)\nstdout:\n%s\nstderr:\n%s"
             % (" ".join(args), p.returncode, expect, p.stdout, p.stderr[-3000:]))
    return p


def real_run(name, rate):
    """A short real run against sim://tiny; returns its results directory."""
    out = os.path.join(TMP, name)
    log = os.path.join(TMP, name + ".log")
    with open(log, "w") as f:
        p = subprocess.run([SURGE, "run", "--target", "sim://tiny", "--model", "surge-sim-tiny",
                            "--rate", str(rate), "--duration", "5s", "--warmup", "2s",
                            "--workers", "2", "--out", out, "--quiet"],
                           stdout=f, stderr=subprocess.STDOUT, timeout=180)
    check(p.returncode == 0, "surge run exited %d (log %s)" % (p.returncode, log))
    check(os.path.exists(os.path.join(out, "results.json")), "no results.json in " + out)
    return out


def load(path):
    with open(path) as f:
        return json.load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def interval_lines(d):
    with open(os.path.join(d, "intervals.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def write_intervals(d, items, torn=None):
    with open(os.path.join(d, "intervals.jsonl"), "w") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
        if torn:
            f.write(torn)


# ---- HTML checks -------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href",
             "background", "ping", "manifest"}


class StrictParser(html.parser.HTMLParser):
    """Tag balance with a strict stack: every end tag closes the innermost open element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.urls, self.text = [], [], [], [], []
        self.style_text = []

    def attrs_seen(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in URL_ATTRS:
                self.urls.append((tag, k, v))
            if k == "style":
                self.style_text.append(v or "")

    def handle_starttag(self, tag, attrs):
        self.attrs_seen(tag, attrs)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.attrs_seen(tag, attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append("</%s> at %s closes %s" % (tag, self.getpos(),
                                                          self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "style":
            self.style_text.append(data)
        self.text.append(data)


def check_html(path):
    """Balanced, self-contained; returns the parser (tags, text)."""
    text = read(path)
    p = StrictParser()
    p.feed(text)
    p.close()
    check(not p.errors, "%s: unbalanced tags: %s" % (path, p.errors[:5]))
    check(not p.stack, "%s: elements never closed: %s" % (path, p.stack[:5]))
    check(text.lstrip().startswith("<!DOCTYPE html>"), path + ": no doctype")
    for tag, attr, value in p.urls:
        check((value or "").startswith("#"),
              "%s: <%s %s=%r> points outside the page" % (path, tag, attr, value))
    for banned in ("script", "link", "iframe", "object", "embed", "img", "base"):
        check(banned not in p.tags, "%s: has a <%s> element" % (path, banned))
    styles = " ".join(p.style_text).lower()
    check("@import" not in styles and "url(" not in styles,
          path + ": CSS imports or references a URL")
    check("default-src 'none'" in text, path + ": no Content-Security-Policy default-src 'none'")
    return p


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    for i, r in enumerate(body):
        check(len(r) == len(header), "%s row %d: %d fields, header has %d"
              % (path, i + 1, len(r), len(header)))
    return header, body


def client_limited(results):
    for p in results.get("phases", []):
        s = p.get("summary")
        if not isinstance(s, dict) or p.get("measured") is False:
            continue
        lag = (s.get("lag_ms") or {}).get("p99")
        if (isinstance(lag, (int, float)) and lag > 50) or s["requests"].get("dropped", 0) > 0:
            return True
    return False


# ---- Scenarios ---------------------------------------------------------------------------

def sections_numbers_csv_escaping():
    d = real_run("run", 4)
    r = surge("report", d)
    check("report.html" in r.stdout, "surge report does not say where the report is")
    results = load(os.path.join(d, "results.json"))
    html_path = os.path.join(d, "report.html")
    p = check_html(html_path)
    page = read(html_path)
    for section in ("summary", "hockey", "latency", "throughput", "errors", "breakdown",
                    "client", "server"):
        check('<section id="%s">' % section in page, "section %s missing" % section)
    for title in ("Latency vs throughput", "TTFT (time to first token)",
                  "ITL (inter-token latency)", "E2E (end-to-end latency)", "Request rate",
                  "Token throughput", "Errors by class", "Phases", "Targets", "Workers",
                  "Client health", "Schedule lag", "Server-side metrics"):
        check(title in page, "title %r missing" % title)
    s = results["summary"]
    for label, want in (("requests", "%.0f" % s["requests"]["total"]),
                        ("TTFT p99", "%.1f" % s["ttft_ms"]["p99"]),
                        ("E2E p99", "%.1f" % s["e2e_ms"]["p99"]),
                        ("output", "%.0f" % s["output_tokens_per_s"])):
        card = '<div class="k">%s</div><div class="v">%s<small>' % (label, want)
        check(card in page, "card %s does not show %s from results.json" % (label, want))
    for ph in results["phases"]:
        check('<td class="t">%s</td>' % ph["name"] in page, "phase %s not in the table" % ph["name"])
        check("%.1f" % ph["summary"]["ttft_ms"]["p99"] in page, "phase TTFT p99 missing")
    for w in results["workers"]:
        check('<td class="t">%s</td>' % w["id"] in page, "worker %s not in the table" % w["id"])
    check(page.count("<svg") >= 10, "fewer charts than expected: %d" % page.count("<svg"))
    check(("The client limited this test" in page) == client_limited(results),
          "the client-limited banner disagrees with the phases' lag and drops")
    header, rows = csv_rows(os.path.join(d, "phases.csv"))
    check(len(rows) == len(results["phases"]), "phases.csv: %d rows for %d phases"
          % (len(rows), len(results["phases"])))
    check(rows[-1][header.index("ttft_ms_p99")] == "%.10g" % results["phases"][-1]["summary"]["ttft_ms"]["p99"],
          "phases.csv ttft_ms_p99 differs from results.json")
    ivs = interval_lines(d)
    header_i, rows_i = csv_rows(os.path.join(d, "intervals.csv"))
    check(len(rows_i) == len(ivs), "intervals.csv: %d rows for %d intervals" % (len(rows_i), len(ivs)))
    check(rows_i[0][header_i.index("requests_total")] == str(ivs[0]["summary"]["requests"]["total"]),
          "intervals.csv requests_total differs from intervals.jsonl")

    summ = surge("report", "--summary", d)
    check("overall (measured phases)" in summ.stdout, "--summary prints no summary")

    # Hostile strings, server metrics, chaos and a lagging phase planted in a copy.
    h = os.path.join(TMP, "hostile")
    shutil.copytree(d, h)
    res = load(os.path.join(h, "results.json"))
    main = res["phases"][-1]
    old_name = main["name"]
    main["name"] = HOSTILE
    res["phases"][0]["name"] = '=HYPERLINK("http://evil")'
    res["plan"]["name"] = '"><img src=x onerror=alert(1)>'
    res["targets"][0]["url"] = "http://x/</table><script>alert(2)</script>"
    main["summary"]["lag_ms"]["p99"] = 120.0
    res["chaos"] = {"faults": [{"name": "<b>gpu-3</b> killed", "start_s": 3, "end_s": 5,
                                "detection_s": 0.5, "recovery_s": 1.5, "error_rate": 0.1,
                                "throughput_change_pct": -40, "ttft_change_pct": 120}],
                    "marks": [{"t_s": 3, "text": "gpu-3 <killed>"}]}
    with open(os.path.join(h, "results.json"), "w") as f:
        json.dump(res, f)
    ivs_h = interval_lines(h)
    for iv in ivs_h:
        if iv["phase"] == old_name:
            iv["phase"] = HOSTILE
            iv["server"] = {"http://sim-a:8000": {"running": 8, "waiting": 3,
                                                  "kv_cache_usage": 0.97, "preemptions": 1,
                                                  "<svg onload=alert(3)>": 1}}
    write_intervals(h, ivs_h)
    surge("report", h)
    hp = check_html(os.path.join(h, "report.html"))
    page = read(os.path.join(h, "report.html"))
    check("<script>" not in page and "<img" not in page and "<b>gpu" not in page
          and "<svg onload" not in page, "a planted string reached the HTML unescaped")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in page, "the hostile phase name is not shown escaped")
    check("&lt;b&gt;gpu-3&lt;/b&gt; killed" in page, "the chaos fault is not in the chaos table")
    check("Chaos impact" in page and 'class="band"' in page, "no chaos table or fault window")
    check("KV cache usage" in page and "the KV cache is full (97%" in page,
          "server metrics drawn without the KV cache chart or the bottleneck reading")
    check("The client limited this test" in page and "120.0 ms" in page,
          "no client-limited banner for a phase with lag p99 120 ms")
    check(len(hp.tags) > 100, "the hostile report is suspiciously small")
    _, rows = csv_rows(os.path.join(h, "phases.csv"))
    check(rows[-1][1] == HOSTILE, "phases.csv does not round-trip a name with a comma and quotes")
    check(rows[0][1] == '\'=HYPERLINK("http://evil")', "a formula-like name is not defused: %r" % rows[0][1])

    # A run that never finished: no results.json, a torn last interval line.
    u = os.path.join(TMP, "unfinished")
    shutil.copytree(d, u)
    os.unlink(os.path.join(u, "results.json"))
    write_intervals(u, interval_lines(d), torn='{"interval": 999, "sta')
    surge("report", u)
    check_html(os.path.join(u, "report.html"))
    page = read(os.path.join(u, "report.html"))
    check("results.json is missing" in page, "no banner for the missing results.json")
    check("1 line(s) of intervals.jsonl could not be read" in page, "no banner for the torn line")
    _, rows = csv_rows(os.path.join(u, "intervals.csv"))
    check(len(rows) == len(ivs), "intervals.csv of the unfinished run: %d rows" % len(rows))
    r = surge("report", os.path.join(TMP, "no-such-dir"), expect=3)
    check("no results.json or intervals.jsonl" in r.stderr, "a missing directory is not explained")
    print("ok: report.html sections, numbers, self-containment, escaping, CSV, unfinished run")


def compare_marks_known_difference():
    a = real_run("slow", 2)
    b = real_run("fast", 6)
    r = surge("compare", a, b, "--color", "never")
    lines = r.stdout.splitlines()
    sent = [l for l in lines if l.strip().startswith("sent req/s")]
    check(sent and "better" in sent[0], "6 req/s vs 2 req/s not marked better:\n" + r.stdout)
    check("A  slow" in r.stdout and "B  fast" in r.stdout, "runs are not named by directory")
    r = surge("compare", b, a, "--color", "never")
    sent = [l for l in r.stdout.splitlines() if l.strip().startswith("sent req/s")]
    check(sent and "worse" in sent[0], "2 req/s vs 6 req/s not marked worse:\n" + r.stdout)

    c = os.path.join(TMP, "slower-ttft")
    shutil.copytree(a, c)
    res = load(os.path.join(c, "results.json"))
    res["summary"]["ttft_ms"]["p99"] *= 2
    res["plan"]["name"] = "after <change>"
    with open(os.path.join(c, "results.json"), "w") as f:
        json.dump(res, f)
    html_out = os.path.join(TMP, "compare.html")
    r = surge("compare", a, c, "--color", "never", "--html", html_out)
    ttft = [l for l in r.stdout.splitlines() if l.strip().startswith("TTFT p99 ms")]
    check(ttft and "(+100.0%) worse" in ttft[0], "doubled TTFT p99 not marked:\n" + r.stdout)
    p50 = [l for l in r.stdout.splitlines() if l.strip().startswith("TTFT p50 ms")]
    check(p50 and "(=)" in p50[0], "an unchanged figure is not shown equal")
    check("1 figure(s) worse, 0 better" in r.stdout, "the tally is wrong:\n" + r.stdout)
    check_html(html_out)
    page = read(html_out)
    check('class="worse"' in page and "after &lt;change&gt;" in page,
          "the HTML comparison lacks the mark or the escaped run name")
    r = surge("compare", a, c, "--color", "never", "--threshold", "1000")
    check("0 figure(s) worse, 0 better" in r.stdout,
          "a 100% difference marked under a 1000% threshold:\n" + r.stdout)
    r = surge("compare", a, "--color", "never", expect=2)
    print("ok: compare marks the known differences")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG")
    return struct.unpack(">II", head[16:24])


def chromium(url, extra, tag):
    """Runs headless chromium on url; returns (stderr text, page-initiated request URLs)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=TMP)
    netlog = os.path.join(TMP, tag + "-netlog.json")
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
            "--log-net-log=" + netlog] + extra + [url]
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish within 120 s: " + " ".join(args))
    check(p.returncode == 0, "chromium exit %d:\n%s" % (p.returncode, p.stderr[-2000:]))
    with open(netlog) as f:
        log = json.load(f)
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    # Requests made for the page carry its top frame's network isolation key (file://);
    # the browser's own background traffic (update checks) carries none.
    page_requests = []
    for e in log["events"]:
        prm = e.get("params", {})
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and \
                prm.get("network_isolation_key", "").startswith("file://") and \
                not prm.get("url", "").startswith(("file:", "data:")):
            page_requests.append(prm["url"])
    return p.stdout, p.stderr, page_requests


def console_lines(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l]


def opens_offline_in_headless_chromium():
    global CHROMIUM
    CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
    if not CHROMIUM:
        print("skip: chromium is not installed (scripts/setup.sh --test-deps installs it)")
        sys.exit(77)
    d = real_run("browser", 4)
    surge("report", d)
    url = "file://" + os.path.join(d, "report.html")
    dom, err, requests = chromium(url, ["--dump-dom"], "report")
    check("Latency vs throughput" in dom and "<svg" in dom, "chromium did not render the report")
    check(not console_lines(err), "console messages: %s" % console_lines(err))
    check(not requests, "the page made network requests: %s" % requests)

    # The detectors see what they should: a fetch without the CSP reaches the network
    # stack; with it, it is blocked and logged on the console.
    page = read(os.path.join(d, "report.html"))
    leaky = os.path.join(TMP, "leaky.html")
    with open(leaky, "w") as f:
        f.write(page.replace("<main>", '<main><img src="http://127.0.0.1:9/leak.png">', 1)
                .replace("default-src 'none'", "default-src *"))
    _, _, requests = chromium("file://" + leaky, ["--dump-dom"], "leaky")
    check(any("127.0.0.1:9/leak.png" in u for u in requests),
          "the NetLog check did not see a planted request: %s" % requests)
    blocked = os.path.join(TMP, "blocked.html")
    with open(blocked, "w") as f:
        f.write(page.replace("<main>", '<main><img src="http://127.0.0.1:9/leak.png">', 1))
    _, err, _ = chromium("file://" + blocked, ["--dump-dom"], "blocked")
    check(console_lines(err), "the console check did not see a blocked fetch")

    shot = os.path.join(BUILD, "report-screenshot.png")
    blank = os.path.join(TMP, "blank.png")
    with open(os.path.join(TMP, "blank.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body></body></html>")
    chromium(url, ["--screenshot=" + shot, "--window-size=1400,3000"], "shot")
    chromium("file://" + os.path.join(TMP, "blank.html"),
             ["--screenshot=" + blank, "--window-size=1400,3000"], "blank")
    check(png_size(shot) == (1400, 3000), "screenshot is %dx%d" % png_size(shot))
    big, small = os.path.getsize(shot), os.path.getsize(blank)
    check(big > 10 * small, "screenshot %d bytes, a blank page %d: nothing drawn?" % (big, small))
    print("ok: chromium renders the report offline, no console message, no request; "
          "screenshot %s (%d bytes, blank %d)" % (shot, big, small))


SCENARIOS = {f.__name__: f for f in (sections_numbers_csv_escaping,
                                     compare_marks_known_difference,
                                     opens_offline_in_headless_chromium)}

if __name__ == "__main__":
    if not SURGE or len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: SURGE_BIN=... report_test.py {%s}" % ",".join(SCENARIOS))
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
