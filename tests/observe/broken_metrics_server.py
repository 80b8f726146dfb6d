#!/usr/bin/env python3
"""broken_metrics_server.py: an OpenAI-style streaming target whose /metrics is broken.

Every POST gets a short, well-formed SSE stream (a role chunk, 3 content chunks 10 ms
apart, a usage chunk, [DONE]), so the client's figures are normal. GET /metrics takes
turns: a page that is not Prometheus text, an HTTP 500, an answer that hangs for longer
than any scrape timeout (then a valid page nobody waits for), a page far over the size
cap. GET /hits says how many /metrics requests came.

usage: broken_metrics_server.py   (prints "listening on http://...")
"""
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
        if self.path != "/metrics":
            self.reply(404, b"no\n")
            return
        with LOCK:
            mode = MODES[HITS[0] % len(MODES)]
            HITS[0] += 1
        if mode == "garbage":
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
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
