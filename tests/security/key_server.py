#!/usr/bin/env python3
"""key_server.py: an OpenAI-style streaming target that requires an API key.

The expected key is read from the environment variable SURGE_TEST_EXPECTED_KEY (never
printed). A POST with "Authorization: Bearer <key>" gets a short SSE stream; any other
gets 401. GET /counts returns {"ok": n, "refused": n}, so a test proves the key was sent.

usage: key_server.py   (prints "listening on http://127.0.0.1:PORT")
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

KEY = os.environ["SURGE_TEST_EXPECTED_KEY"]
LOCK = threading.Lock()
COUNTS = {"ok": 0, "refused": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: a log line could carry the key
        pass

    def reply(self, code, ctype, data):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":  # the workers' preflight: the key opens the list
            if self.headers.get("Authorization", "") != "Bearer " + KEY:
                self.reply(401, "application/json", b'{"error": "bad key"}')
            else:
                self.reply(200, "application/json", b'{"object": "list", "data": [{"id": "key"}]}')
            return
        with LOCK:
            body = json.dumps(COUNTS).encode()
        self.reply(200, "application/json", body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        ok = self.headers.get("Authorization", "") == "Bearer " + KEY
        with LOCK:
            COUNTS["ok" if ok else "refused"] += 1
        if not ok:
            self.reply(401, "application/json", b'{"error": "bad key"}')
            return
        base = {"id": "k1", "object": "chat.completion.chunk", "model": "key"}
        events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}}]),
                  dict(base, choices=[{"index": 0, "delta": {"content": "hello"}}]),
                  dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4})]
        data = "".join("data: %s\n\n" % json.dumps(e) for e in events) + "data: [DONE]\n\n"
        self.reply(200, "text/event-stream", data.encode())


def main():
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
