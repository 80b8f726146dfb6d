#!/usr/bin/env python3
"""hostile_server.py: a server that misbehaves in one known way per path prefix.

Requests to /m/<mode>/v1/... get mode <mode>, so one engine with one target per mode
(base URL http://127.0.0.1:PORT/m/<mode>) sees every failure at once and its
per-target breakdown says how each was classified:

  ok           a correct short stream
  http500      500 with a JSON error body
  http429      429 Too Many Requests
  http404      404
  reset        200, two content events, then a TCP reset (SO_LINGER 0)
  badjson      200, events whose data is not JSON, then [DONE]
  garbage      200, bytes that are not SSE at all, then a clean end
  error_event  200, an {"error": ...} event inside the stream
  truncated    200, content events, then a clean end without finish_reason or [DONE]
  never_ends   200, a comment every 50 ms, forever (the client's timeout must end it)
  silent       reads the request and never answers
  huge         200, one 1 MiB event, then a normal ending
  idle_close   a correct short stream; the kept-alive connection is then closed by the
               server after 30 ms idle (the client's pooled socket is hung up on)

Prints "PORT <n>" once listening on 127.0.0.1.
"""
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402


def content_event(text, finish=None):
    e = {"id": "x", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(e).encode() + b"\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def plain(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.plain(200, {"object": "list", "data": []})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        parts = self.path.split("/")
        mode = parts[2] if len(parts) > 2 and parts[1] == "m" else "ok"
        getattr(self, "mode_" + mode, self.mode_ok)()

    def mode_ok(self):
        self.start_stream()
        self.chunk(content_event("a"))
        self.chunk(content_event("b", "stop"))
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")

    def mode_http500(self):
        self.plain(500, {"error": {"message": "internal", "code": 500}})

    def mode_http429(self):
        self.plain(429, {"error": {"message": "slow down", "code": 429}})

    def mode_http404(self):
        self.plain(404, {"error": {"message": "no such model", "code": 404}})

    def mode_reset(self):
        self.start_stream()
        self.chunk(content_event("a"))
        self.chunk(content_event("b"))
        self.wfile.flush()
        time.sleep(0.02)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def mode_badjson(self):
        self.start_stream()
        self.chunk(b'data: {"choices": [{"delta": {"content": "a"\n\n')
        self.chunk(b"data: not json at all\n\n")
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")

    def mode_garbage(self):
        self.start_stream()
        self.chunk(b"\x00\x01\x02 this is not an event stream \xff\xfe")
        self.chunk(b"")

    def mode_error_event(self):
        self.start_stream()
        self.chunk(content_event("a"))
        self.chunk(b'data: {"error": {"message": "engine died", "code": 500}}\n\n')
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")

    def mode_truncated(self):
        self.start_stream()
        self.chunk(content_event("a"))
        self.chunk(content_event("b"))
        self.chunk(b"")

    def mode_never_ends(self):
        self.start_stream()
        self.chunk(content_event("a"))
        try:
            while True:
                self.chunk(b": ping\n\n")
                time.sleep(0.05)
        except OSError:
            self.close_connection = True

    def mode_silent(self):
        try:
            self.connection.recv(1)  # until the client gives up and closes
        except OSError:
            pass
        self.close_connection = True

    def mode_idle_close(self):
        self.mode_ok()
        self.wfile.flush()
        # http.server closes a connection whose next request line times out.
        self.connection.settimeout(0.03)

    def mode_huge(self):
        self.start_stream()
        self.chunk(content_event("a"))
        big = content_event("x" * (1 << 20))
        for i in range(0, len(big), 65536):
            self.chunk(big[i:i + 65536])
        self.chunk(content_event("b", "stop"))
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")


def main():
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    sys.exit(main())
