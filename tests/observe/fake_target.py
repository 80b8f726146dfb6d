#!/usr/bin/env python3
"""fake_target.py: an OpenAI-style streaming target with a chosen Prometheus page.

Every POST gets a short, well-formed SSE stream (a role chunk, 3 content chunks 10 ms
apart, a usage chunk, [DONE]), so the client's figures are normal. The metrics page
(GET /metrics, or --path) depends on --flavor:

  broken  takes turns: a page that is not Prometheus text, an HTTP 500, an answer that
          hangs for longer than any scrape timeout, a page far over the size cap
  sglang  SGLang's names, two tp ranks: running 3 + 5, queued 1 + 2, token_usage 0.5 and
          0.7; per scrape and rank the counters grow by 100 prompt and 50 generation
          tokens and the queue histogram by 2 requests of 25 ms each; at the 6th scrape the
          counters restart (a server restart) from 10 generation tokens per rank;
          cache_hit_rate 0.25 and 0.35
  tgi     TGI's names: batch size 4, queue 2; per scrape 30 generated and 60 input tokens,
          4 queued requests of 50 ms

GET /hits says how many metrics requests came.

usage: fake_target.py [--flavor broken|sglang|tgi] [--path /metrics]
       (prints "listening on http://...")
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

LOCK = threading.Lock()
HITS = [0]
MODES = ["garbage", "500", "hang", "huge"]
FLAVOR = ["broken"]
PATH = ["/metrics"]
RESET_AT = 6


def sglang_page(n):
    """Scrape n (1-based): counters as a restarted server shows them from RESET_AT on."""
    lines = ["# TYPE sglang:num_running_reqs gauge"]
    for rank, (run, queue, usage, hit) in enumerate([(3, 1, 0.5, 0.25), (5, 2, 0.7, 0.35)]):
        k = 'model_name="m",tp_rank="%d"' % rank
        if n < RESET_AT:
            prompt, gen, qn = 100 * n, 50 * n, 2 * n
        else:
            m = n - RESET_AT  # restarted: small values, then the same growth
            prompt, gen, qn = 20 + 100 * m, 10 + 50 * m, 2 + 2 * m
        lines += ["sglang:num_running_reqs{%s} %d" % (k, run),
                  "sglang:num_queue_reqs{%s} %d" % (k, queue),
                  "sglang:token_usage{%s} %g" % (k, usage),
                  "sglang:cache_hit_rate{%s} %g" % (k, hit),
                  "sglang:prompt_tokens_total{%s} %d" % (k, prompt),
                  "sglang:generation_tokens_total{%s} %d" % (k, gen),
                  'sglang:queue_time_seconds_bucket{%s,le="+Inf"} %d' % (k, qn),
                  "sglang:queue_time_seconds_sum{%s} %g" % (k, 0.025 * qn),
                  "sglang:queue_time_seconds_count{%s} %d" % (k, qn)]
    return "\n".join(lines) + "\n"


def tgi_page(n):
    return ("# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 4\ntgi_queue_size 2\n"
            "tgi_request_queue_duration_sum %g\ntgi_request_queue_duration_count %d\n"
            "tgi_request_input_length_sum %d\ntgi_request_input_length_count %d\n"
            "tgi_request_generated_tokens_sum %d\ntgi_request_generated_tokens_count %d\n"
            % (0.2 * n, 4 * n, 60 * n, 4 * n, 30 * n, 4 * n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hits":
            with LOCK:
                self.reply(200, json.dumps({"metrics": HITS[0]}).encode(), "application/json")
            return
        if self.path != PATH[0]:
            self.reply(404, b"no\n")
            return
        with LOCK:
            mode = MODES[HITS[0] % len(MODES)]
            HITS[0] += 1
            n = HITS[0]
        if FLAVOR[0] == "sglang":
            self.reply(200, sglang_page(n).encode())
        elif FLAVOR[0] == "tgi":
            self.reply(200, tgi_page(n).encode())
        elif mode == "garbage":
            self.reply(200, b"<html>{ this is not: prometheus text }</html>\nvllm:x{ 1\n")
        elif mode == "500":
            self.reply(500, b"internal error\n")
        elif mode == "hang":
            time.sleep(3)
            self.reply(200, b"vllm:num_requests_running 1\n")
        else:
            self.reply(200, b"# " + b"x" * (9 << 20) + b"\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            payload = "data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n"
            data = payload.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        base = {"id": "c1", "object": "chat.completion.chunk", "model": "broken"}
        try:
            event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}}]))
            for i in range(3):
                time.sleep(0.01)
                event(dict(base, choices=[{"index": 0, "delta": {"content": "tok%d " % i}}]))
            event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}))
            event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flavor", choices=["broken", "sglang", "tgi"], default="broken")
    ap.add_argument("--path", default="/metrics")
    args = ap.parse_args()
    FLAVOR[0], PATH[0] = args.flavor, args.path
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
