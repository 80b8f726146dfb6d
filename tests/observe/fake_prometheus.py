#!/usr/bin/env python3
"""fake_prometheus.py: answers Prometheus's /api/v1/query_range like a server would.

A query containing "up_bad(" gets Prometheus's 400 bad_data error; any other gets a
matrix of two series ({gpu="0"} at 50, {gpu="1"} at 60) with one point per step from start
to end, the second point "NaN". GET /requests lists the queries received, with their
start, end and step, so a test can check the window it was asked about.

usage: fake_prometheus.py   (prints "listening on http://...")
"""
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

LOCK = threading.Lock()
SEEN = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/requests":
            with LOCK:
                self.reply(200, SEEN)
            return
        if url.path != "/api/v1/query_range":
            self.reply(404, {"status": "error", "error": "not found"})
            return
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        with LOCK:
            SEEN.append({"query": q["query"], "start": start, "end": end, "step": step})
        if "up_bad(" in q["query"]:
            self.reply(400, {"status": "error", "errorType": "bad_data",
                             "error": "1:8: parse error: unclosed left parenthesis"})
            return
        times = []
        t = start
        while t <= end + 1e-9 and len(times) < 11000:
            times.append(t)
            t += step
        result = []
        for gpu, level in ((0, 50), (1, 60)):
            values = [[ts, "NaN" if i == 1 else str(level)] for i, ts in enumerate(times)]
            result.append({"metric": {"gpu": str(gpu), "Hostname": "node-1"}, "values": values})
        self.reply(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


def main():
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
