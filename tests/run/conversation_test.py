#!/usr/bin/env python3
"""conversation_test.py SCENARIO: multi-turn conversations (issue 20), real processes on
loopback (`surge run` with its local workers; a recording stub or `surge sim` nodes),
each bounded in time. Scenarios:

  turn_k_carries_turns_before_it_with_the_answers_sent
        a recording stub answers every request with a text of its own choosing (newlines,
        quotes, non-ASCII), streamed in chunks; every request it sees carries the system
        prompt, then the earlier user turns of its conversation, each followed by exactly
        the text the stub sent in answer to it, then the new turn; dataset turns come in
        the dataset's order; requests.jsonl numbers the turns 1..k per conversation
  affinity_conversation_keeps_each_conversation_on_one_node
        two `surge sim` nodes: with `affinity: conversation` every conversation's turns
        go to one node (requests.jsonl target per conversation); with `none` most
        conversations are spread over both
  fleet_per_turn_percentiles_match_the_requests
        2 workers: results.json turns[] (per turn index) hold the requests of
        requests.jsonl grouped by turn, TTFT P50/P90/P99 within 0.2%, mean input tokens
        exact; the terminal summary has a turns table and report.html a TTFT-by-turn chart
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

SURGE = os.environ.get("SURGE_BIN")
TMP = tempfile.mkdtemp(prefix="surge-conv-")


def fail(msg):
    print("FAIL: " + msg + "\n(scratch: %s)" % TMP, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class RecordingStub:
    """Streams a distinct answer to every request (SSE in HTTP chunks, the answer cut in
    three content events) and records (messages, answer) for each."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []  # (messages, answer)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                data = b'{"object":"list","data":[{"id":"stub","object":"model"}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) if length else b"{}")
                with stub.lock:
                    n = len(stub.seen)
                    answer = 'answer %d:\n "quoted" d\u00e9j\u00e0 \U0001F600 \\ end' % n
                    stub.seen.append((request.get("messages"), answer))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def event(obj):
                    payload = "data: " + (obj if isinstance(obj, str) else json.dumps(obj))
                    data = (payload + "\n\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

                base = {"id": "c1", "object": "chat.completion.chunk", "model": "stub"}
                try:
                    event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant",
                                                                     "content": ""}}]))
                    third = len(answer) // 3
                    for part in (answer[:third], answer[third:2 * third], answer[2 * third:]):
                        event(dict(base, choices=[{"index": 0, "delta": {"content": part}}]))
                    event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                               usage={"prompt_tokens": 5, "completion_tokens": 3,
                                      "total_tokens": 8}))
                    event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        QuietHTTPServer.request_queue_size = 256
        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_plan(name, text, limit_s=90, workers=1, extra_args=()):
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(TMP, name + "-results")
    try:
        p = subprocess.run([SURGE, "run", path, "--out", out, "--workers", str(workers),
                            "--threads", "1", "--progress", "plain", "--drain", "5s",
                            *extra_args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=limit_s, cwd=TMP)
    except subprocess.TimeoutExpired:
        fail("%s: surge run did not finish within %d s" % (name, limit_s))
    with open(os.path.join(TMP, name + ".log"), "w") as f:
        f.write(p.stdout + "\n---- stderr\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr, out


def records_of(out):
    with open(os.path.join(out, "requests.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def results_of(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def by_conversation(records):
    convs = {}
    for r in records:
        check("conversation" in r and "turn" in r,
              "a requests.jsonl line without conversation and turn: %s" % r)
        convs.setdefault(r["conversation"], []).append(r)
    return convs


# ---- scenarios ------------------------------------------------------------------------------


DATASET = [
    ["What is a KV cache?", "And prefix caching?", "Why does a router care?"],
    ["Name a prime.", "A larger one?", "The next one?"],
]


def turn_k_carries_turns_before_it_with_the_answers_sent():
    data = os.path.join(TMP, "chats.jsonl")
    with open(data, "w") as f:
        for turns in DATASET:
            messages = []
            for t in turns:
                messages += [{"role": "user", "content": t},
                             {"role": "assistant", "content": "the dataset's, never sent"}]
            f.write(json.dumps({"messages": messages}) + "\n")
    stub = RecordingStub()
    text = ("name: conv\ntargets: [%s]\nmodel: stub\nmax_tokens: 8\ntimeout: 5s\n"
            "outputs: {record_requests: true}\n"
            "workload:\n  dataset: %s\n  conversations:\n    think_time: 50ms\n"
            "    system_prompt_tokens: 20\n"
            "phases:\n  - {name: main, kind: constant, rate: 4/s, duration: 2s}\n"
            % (stub.url, data))
    code, _, err, out = run_plan("history", text)
    stub.stop()
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    seen = stub.seen
    check(len(seen) >= 12, "the stub saw %d requests, want 8 conversations x 3 turns" % len(seen))
    asked = {a: json.dumps(m) for m, a in seen}  # every answer is distinct
    turns_seen = {}
    for messages, _ in seen:
        check(messages and messages[0]["role"] == "system" and len(messages[0]["content"]) > 40,
              "no system prompt first: %s" % (messages or [])[:1])
        rest = messages[1:]
        check(len(rest) % 2 == 1, "not user/assistant pairs then a user turn: %s" % rest)
        users = [m["content"] for m in rest[0::2]]
        check(all(m["role"] == "user" for m in rest[0::2]) and
              all(m["role"] == "assistant" for m in rest[1::2]),
              "roles out of order: %s" % [m["role"] for m in rest])
        check(any(users == turns[:len(users)] for turns in DATASET),
              "user turns %s are not a dataset conversation in order" % users)
        for j in range(1, len(rest), 2):
            # the text the stub sent, in answer to exactly the turns before it
            answer = rest[j]["content"]
            check(answer in asked, "assistant turn %d is %r, which the stub never sent" %
                  (j // 2 + 1, answer))
            check(asked[answer] == json.dumps(messages[:j + 1]),
                  "assistant turn %d answered another history: %s" % (j // 2 + 1,
                                                                      asked[answer]))
        turns_seen[len(users)] = turns_seen.get(len(users), 0) + 1
    check(turns_seen.get(2, 0) >= 4 and turns_seen.get(3, 0) >= 4,
          "turns seen %s: want second and third turns" % turns_seen)
    convs = by_conversation(records_of(out))
    complete = 0
    for cid, records in convs.items():
        turns = sorted(r["turn"] for r in records)
        check(turns == list(range(1, len(turns) + 1)), "conversation %s turns %s" % (cid, turns))
        complete += turns == [1, 2, 3]
    check(complete >= 4, "only %d conversations reached turn 3" % complete)
    print("ok: %d requests, turns %s, %d whole conversations" % (len(seen), turns_seen, complete))


def affinity_conversation_keeps_each_conversation_on_one_node():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
    import simlib
    with simlib.Sim("--profile", "tiny") as a, simlib.Sim("--profile", "tiny") as b:
        spread = {}
        for affinity in ("conversation", "none"):
            text = ("name: affinity\ntargets: [http://127.0.0.1:%d, http://127.0.0.1:%d]\n"
                    "model: surge-sim-tiny\nmax_tokens: 4\ntimeout: 20s\nserver_metrics: off\n"
                    "outputs: {record_requests: true}\n"
                    "workload:\n  conversations:\n    turns: 4\n    think_time: 10ms\n"
                    "    context_tokens: 768\n    affinity: %s\n"
                    "phases:\n  - {name: main, kind: constant, rate: 6/s, duration: 3s}\n"
                    % (a.port, b.port, affinity))
            code, _, err, out = run_plan("affinity-" + affinity, text)
            check(code == 0, "%s: exit %d, want 0: %s" % (affinity, code, err[-2000:]))
            convs = by_conversation(records_of(out))
            multi = [c for c in convs.values() if len(c) >= 2]
            check(len(multi) >= 8, "%s: %d conversations of 2+ turns" % (affinity, len(multi)))
            spread[affinity] = sum(len({r["target"] for r in c}) > 1 for c in multi) / len(multi)
            print("%s: %d conversations, %.0f%% over both nodes" %
                  (affinity, len(multi), 100 * spread[affinity]), flush=True)
        check(spread["conversation"] == 0,
              "affinity conversation: %.0f%% of conversations moved node" %
              (100 * spread["conversation"]))
        check(spread["none"] > 0.5, "affinity none: only %.0f%% of conversations spread" %
              (100 * spread["none"]))


def prefix_cache_keeps_later_turns_fast_and_affinity_keeps_the_hits():
    """End to end with the simulator's prefix cache (a llama-3.1-8b-h100 node: 30 us of
    prefill per prompt token; 128-token answers, so turn 4 resends three answers): with
    --prefix-caching, TTFT P50 of turn 4 stays near turn 1's while its input has grown
    several times; without, it grows with the input. Two
    caching nodes: affinity conversation keeps a conversation where its history is cached
    (the nodes' own hit rate is high), none spreads its turns and the hit rate drops."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
    import simlib

    def plan(ports, affinity, name):
        return ("name: %s\ntargets: [%s]\nmodel: meta-llama/Llama-3.1-8B-Instruct\n"
                "max_tokens: 128\nignore_eos: true\ntimeout: 20s\nserver_metrics: off\n"
                "workload:\n  conversations:\n    turns: 4\n    think_time: 10ms\n"
                "    context_tokens: 32768\n    affinity: %s\n"
                "phases:\n  - {name: main, kind: constant, rate: 2/s, duration: 8s}\n"
                % (name, ", ".join("http://127.0.0.1:%d" % p for p in ports), affinity))

    def ttft_p50_by_turn(results):
        return {t["turn"]: t["summary"]["ttft_ms"]["p50"] for t in results["turns"]}

    def hit_rate(sims):
        hits = queries = 0.0
        for sim in sims:
            _, samples = sim.metrics()
            hits += simlib.metric_sum(samples, "vllm:prefix_cache_hits_total")
            queries += simlib.metric_sum(samples, "vllm:prefix_cache_queries_total")
        return hits / queries if queries else 0.0

    ttft = {}
    for caching in (True, False):
        args = ["--profile", "llama-3.1-8b-h100"] + (["--prefix-caching"] if caching else [])
        with simlib.Sim(*args) as sim:
            code, _, err, out = run_plan("cache-%s" % caching, plan([sim.port], "none", "t"))
            check(code == 0, "caching %s: exit %d: %s" % (caching, code, err[-2000:]))
            results = results_of(out)
        ttft[caching] = ttft_p50_by_turn(results)
        inputs = {t["turn"]: t["input_tokens_mean"] for t in results["turns"]}
        print("prefix caching %s: TTFT p50 by turn %s ms; mean input tokens %s" %
              (caching, ttft[caching], inputs), flush=True)
        check(4 in inputs and inputs[4] > 2 * inputs[1],
              "the input did not grow by turn: %s" % inputs)
    check(ttft[True][4] <= 1.5 * ttft[True][1],
          "with prefix caching turn 4's TTFT p50 %.1f ms is far above turn 1's %.1f ms" %
          (ttft[True][4], ttft[True][1]))
    check(ttft[False][4] > 1.5 * ttft[True][4],
          "without prefix caching turn 4's TTFT p50 %.1f ms is no slower than with it "
          "(%.1f ms)" % (ttft[False][4], ttft[True][4]))

    rates = {}
    for affinity in ("conversation", "none"):
        args = ["--profile", "llama-3.1-8b-h100", "--prefix-caching"]
        with simlib.Sim(*args) as a, simlib.Sim(*args) as b:
            code, _, err, out = run_plan("hits-" + affinity, plan([a.port, b.port], affinity,
                                                                  "h"))
            check(code == 0, "%s: exit %d: %s" % (affinity, code, err[-2000:]))
            rates[affinity] = hit_rate([a, b])
        print("affinity %s: the nodes' prefix-cache hit rate %.2f" % (affinity, rates[affinity]),
              flush=True)
    check(rates["conversation"] > rates["none"] + 0.05,
          "affinity conversation hit rate %.2f is not above none's %.2f" %
          (rates["conversation"], rates["none"]))


def hdr_rank_value(sorted_values, p):
    import math
    return sorted_values[max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)]


def fleet_per_turn_percentiles_match_the_requests():
    text = ("name: fleet-turns\ntargets: [sim://tiny]\nmodel: surge-sim-tiny\nmax_tokens: 4\n"
            "timeout: 20s\n"
            "outputs: {record_requests: true}\n"
            "workload:\n  conversations:\n    turns: {dist: uniform, min: 1, max: 4}\n"
            "    think_time: 20ms\n    context_tokens: 768\n"
            "phases:\n  - {name: main, kind: constant, rate: 8/s, duration: 4s}\n")
    code, stdout, err, out = run_plan("fleet", text, workers=2)
    check(code == 0, "exit %d, want 0: %s" % (code, err[-2000:]))
    check(any(line.split()[:2] == ["turn", "requests"] for line in stdout.splitlines()) and
          "conversations:" in stdout, "the terminal summary has no turns table")
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    check('<section id="turns">' in html and "TTFT by turn" in html,
          "report.html has no TTFT-by-turn chart")
    records = [r for r in records_of(out) if r.get("error") is None]
    results = results_of(out)
    turns = results.get("turns")
    check(isinstance(turns, list) and len(turns) >= 3, "results.json turns: %s" % turns)
    workers = [w["requests"] for w in results.get("workers", [])]
    check(len(workers) == 2 and all(n > 0 for n in workers),
          "want 2 workers that both sent requests: %s" % workers)
    by_turn = {}
    for r in records:
        by_turn.setdefault(r["turn"], []).append(r)
    for entry in turns:
        k = entry["turn"]
        mine = by_turn.get(k, [])
        s = entry["summary"]
        check(s["requests"]["ok"] == len(mine), "turn %d: %d ok in results.json, %d in "
              "requests.jsonl" % (k, s["requests"]["ok"], len(mine)))
        if not mine:
            continue
        ttft = sorted(r["ttft_ms"] for r in mine)
        for p in (50, 90, 99):
            want = hdr_rank_value(ttft, p)
            got = s["ttft_ms"]["p%d" % p]
            check(abs(got - want) <= 0.002 * want + 0.001,
                  "turn %d ttft p%d: %.4f ms, its records say %.4f ms" % (k, p, got, want))
        mean_in = sum(r["input_tokens"] for r in mine) / len(mine)
        check(abs(entry["input_tokens_mean"] - mean_in) < 0.01,
              "turn %d mean input tokens %.2f, records say %.2f" %
              (k, entry["input_tokens_mean"], mean_in))
    firsts = [k for k in by_turn if k > 1]
    check(firsts, "no later turn was answered")
    conv = results.get("conversations", {})
    convs = by_conversation(records_of(out))
    check(conv.get("completed", 0) >= 1, "results.json conversations: %s" % conv)
    print("ok: %d requests over workers %s, %d conversations, turns %s" %
          (len(records), workers, len(convs), sorted(by_turn)))


if __name__ == "__main__":
    if not SURGE or not os.access(SURGE, os.X_OK):
        print("SKIP: SURGE_BIN not set")
        sys.exit(77)
    globals()[sys.argv[1]]()
