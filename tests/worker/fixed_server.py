#!/usr/bin/env python3
"""fixed_server.py: an OpenAI-compatible test server with fixed, known timings.

Every completion (chat or text, streaming or not) answers with the first token
--ttft-ms after the request was read, then one token every --itl-ms, --tokens tokens
in all (fewer if the request's max_tokens is smaller), like vLLM with ignore_eos.
Streams are vLLM-shaped: a role-only chunk with empty content at once (which must
NOT count as the first token), one content chunk per token, a finish_reason chunk,
a usage chunk when stream_options.include_usage is set (usage in every chunk with
continuous_usage_stats), then [DONE]. Deadlines are absolute, so timing errors do
not accumulate along a stream.

A non-streaming request with "logprobs": true gets per-token logprobs ("top_logprobs": K
alternatives each), as vLLM sends them: a large body of many small JSON tokens.

With --require-key KEY, completions without "Authorization: Bearer KEY" get 401.
GET /stats answers {"requests", "concurrent", "max_concurrent", "connections",
"late_max_us"}: late_max_us is the worst lateness of a timed write so far (after its
deadline), so a test can judge the client against what the server actually did.
Prints "PORT <n>" on stdout once listening on 127.0.0.1 (kernel-chosen port).
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from quiet_http import QuietHTTPServer  # noqa: E402

LOCK = threading.Lock()
STATS = {"requests": 0, "concurrent": 0, "max_concurrent": 0, "connections": 0,
         "late_max_us": 0}


def logprobs_of(chat, n, top):
    """Per-token logprobs as vLLM returns them (chat: OpenAI's content list; completions:
    the legacy parallel arrays): a body of many JSON tokens, ~35 per output token with
    top_logprobs=2."""
    def entry():
        return {"token": "tok ", "logprob": -0.25, "bytes": [116, 111, 107, 32]}
    if chat:
        return {"content": [dict(entry(), top_logprobs=[entry() for _ in range(top)])
                            for _ in range(n)]}
    return {"tokens": ["tok "] * n, "token_logprobs": [-0.25] * n,
            "top_logprobs": [{"tok ": -0.25} for _ in range(n)] if top else None,
            "text_offset": [4 * k for k in range(n)]}


def note_late(deadline):
    """Records how late a write that was due at `deadline` actually went out."""
    late = int((time.monotonic() - deadline) * 1e6)
    with LOCK:
        STATS["late_max_us"] = max(STATS["late_max_us"], late)


def sleep_until(deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        # sleep most of the way, spin the last 200 us for precision
        time.sleep(left - 0.0002 if left > 0.0003 else 0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fixed/1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with LOCK:
            STATS["connections"] += 1

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send_json(200, dict(STATS))
        elif self.path.endswith("/v1/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "fixed", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found", "code": 404}})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        t0 = time.monotonic()
        opts = self.server.opts
        if opts.require_key and self.headers.get("Authorization") != "Bearer " + opts.require_key:
            self.send_json(401, {"error": {"message": "bad key", "code": 401}})
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "bad json", "code": 400}})
            return
        chat = self.path.endswith("/chat/completions")
        if not (chat or self.path.endswith("/completions")):
            self.send_json(404, {"error": {"message": "not found", "code": 404}})
            return
        n = opts.tokens
        if isinstance(req.get("max_tokens"), int) and req["max_tokens"] > 0:
            n = min(n, req["max_tokens"])
        prompt_tokens = 7
        ttft, itl = opts.ttft_ms / 1000.0, opts.itl_ms / 1000.0
        headers = [("X-Backend", opts.backend)] if opts.backend else []
        with LOCK:
            STATS["requests"] += 1
            STATS["concurrent"] += 1
            STATS["max_concurrent"] = max(STATS["max_concurrent"], STATS["concurrent"])
        try:
            if req.get("stream"):
                self.stream(req, chat, n, prompt_tokens, t0, ttft, itl, headers)
            else:
                sleep_until(t0 + ttft + (n - 1) * itl)
                note_late(t0 + ttft + (n - 1) * itl)
                text = "tok " * n
                choice = ({"index": 0, "message": {"role": "assistant", "content": text},
                           "finish_reason": "length"} if chat else
                          {"index": 0, "text": text, "finish_reason": "length"})
                if req.get("logprobs"):
                    choice["logprobs"] = logprobs_of(chat, n, req.get("top_logprobs") or 0)
                self.send_json(200, {"id": "cmpl-1", "object": "chat.completion" if chat else
                                     "text_completion", "model": "fixed", "choices": [choice],
                                     "usage": {"prompt_tokens": prompt_tokens,
                                               "completion_tokens": n,
                                               "total_tokens": prompt_tokens + n}}, headers)
        finally:
            with LOCK:
                STATS["concurrent"] -= 1

    def stream(self, req, chat, n, prompt_tokens, t0, ttft, itl, headers):
        so = req.get("stream_options") or {}
        include_usage = bool(so.get("include_usage"))
        continuous = bool(so.get("continuous_usage_stats"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        obj = "chat.completion.chunk" if chat else "text_completion"

        def event(choices, usage=None):
            e = {"id": "cmpl-1", "object": obj, "created": 1, "model": "fixed", "choices": choices}
            if usage is not None:
                e["usage"] = usage
            self.chunk(b"data: " + json.dumps(e).encode() + b"\n\n")

        def usage_of(done):
            return {"prompt_tokens": prompt_tokens, "completion_tokens": done,
                    "total_tokens": prompt_tokens + done}

        if chat:  # role chunk, empty content: not a token
            event([{"index": 0, "delta": {"role": "assistant", "content": ""},
                    "logprobs": None, "finish_reason": None}],
                  usage_of(0) if continuous else None)
        for k in range(n):
            sleep_until(t0 + ttft + k * itl)
            last = k == n - 1
            fin = "length" if last else None
            if chat:
                c = {"index": 0, "delta": {"content": "tok "}, "logprobs": None,
                     "finish_reason": fin}
            else:
                c = {"index": 0, "text": "tok ", "logprobs": None, "finish_reason": fin}
            event([c], usage_of(k + 1) if continuous else None)
            note_late(t0 + ttft + k * itl)
        if include_usage:
            event([], usage_of(n))
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttft-ms", type=float, default=50)
    ap.add_argument("--itl-ms", type=float, default=10)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--backend", default="")
    ap.add_argument("--require-key", default="", help="answer 401 unless 'Bearer KEY' is sent")
    opts = ap.parse_args()
    QuietHTTPServer.request_queue_size = 1024
    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    server.opts = opts
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
