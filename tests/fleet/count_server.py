#!/usr/bin/env python3
"""count_server.py: a tiny OpenAI-style streaming target that counts what it receives.

Every POST gets a short SSE stream (a role chunk, N content chunks DELAY_MS apart, a
usage chunk, [DONE]); the server counts requests by the second they arrived in
(monotonic, since start) so tests can see, from the target's side, when load stops or
recovers. GET /counts returns {"start": t0, "now": t, "per_second": {second: n}, "total": n}.

usage: count_server.py [--chunks N] [--delay-ms MS]   (prints "listening on http://...")
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

START = time.monotonic()
LOCK = threading.Lock()
PER_SECOND = {}
TOTAL = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    chunks = 3
    delay_s = 0.01

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        if self.path == "/v1/models":  # the workers' preflight: the model is served
            data = b'{"object": "list", "data": [{"id": "count", "object": "model"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        now = time.monotonic() - START
        with LOCK:
            body = json.dumps({"start": START, "now": now, "total": TOTAL[0],
                               "per_second": {str(k): v for k, v in PER_SECOND.items()}})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        second = int(time.monotonic() - START)
        with LOCK:
            PER_SECOND[second] = PER_SECOND.get(second, 0) + 1
            TOTAL[0] += 1
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            payload = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n")
            data = payload.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        base = {"id": "c1", "object": "chat.completion.chunk", "model": "count"}
        try:
            event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}}]))
            for i in range(self.chunks):
                time.sleep(self.delay_s)
                event(dict(base, choices=[{"index": 0, "delta": {"content": "tok%d " % i}}]))
            event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       usage={"prompt_tokens": 5, "completion_tokens": self.chunks,
                              "total_tokens": 5 + self.chunks}))
            event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=10)
    args = ap.parse_args()
    Handler.chunks = args.chunks
    Handler.delay_s = args.delay_ms / 1000.0
    QuietHTTPServer.request_queue_size = 512
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
