#!/usr/bin/env python3
"""stub_target.py MODE: a target that misbehaves in one way (measured_nothing_test.py).

  hang     lists the model "stub" at GET /v1/models, then accepts every request, reads
           it and never answers (a hung inference server); GET /counts says how many
           requests it holds
  error    no /v1/models (404), and every POST is answered 500 with an OpenAI error
           object (a target that answers, but only with errors)

Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else "hang"
LOCK = threading.Lock()
HELD = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/counts":
            with LOCK:
                self.reply(200, json.dumps({"held": HELD[0]}).encode())
        elif self.path == "/v1/models" and MODE == "hang":
            self.reply(200, b'{"object": "list", "data": [{"id": "stub"}]}')
        else:
            self.reply(404, b'{"error": {"message": "Not Found"}}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        if MODE == "error":
            self.reply(500, b'{"error": {"message": "stub: internal error", "code": 500}}')
            return
        with LOCK:
            HELD[0] += 1
        time.sleep(3600)  # hung: the connection stays open, nothing is ever sent


def main():
    QuietHTTPServer.request_queue_size = 512
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
