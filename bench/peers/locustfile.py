"""locustfile.py: the Locust peer for docs/performance.md, "Side by side".

A user class that streams chat completions and reports TTFT the way Locust's docs
suggest for custom measurements: it fires `events.request` with the time to the first
content token as `response_time` (request_type "TTFT"); the whole request is the normal
"POST" entry. With SURGE_PEER_ITL=1 it also fires one "ITL" event per later token.

Environment:
  SURGE_PEER_MODEL        model name (default surge-sim-instant)
  SURGE_PEER_MAX_TOKENS   max_tokens (default 16)
  SURGE_PEER_USER_RATE    requests/s per user (constant_throughput); 0: back to back
  SURGE_PEER_ITL          1: report inter-token latency events too
  SURGE_PEER_STREAM       0: non-streaming requests

  /usr/bin/python3 -m locust -f locustfile.py --headless -H URL -u USERS -r RATE -t 10s
"""
import json
import os
import time

import locust.runners
from locust import HttpUser, constant, constant_throughput, task

# Debian's python3-locust 2.12.1-1 ships an empty version string; a worker announcing ""
# is refused by the master as "an old (pre 2.0) worker". Give both the same non-empty one.
if not locust.runners.__version__:
    locust.runners.__version__ = "2.12.1+debian"

MODEL = os.environ.get("SURGE_PEER_MODEL", "surge-sim-instant")
MAX_TOKENS = int(os.environ.get("SURGE_PEER_MAX_TOKENS", "16"))
USER_RATE = float(os.environ.get("SURGE_PEER_USER_RATE", "0"))
ITL = os.environ.get("SURGE_PEER_ITL", "0") == "1"
STREAM = os.environ.get("SURGE_PEER_STREAM", "1") != "0"


class ChatUser(HttpUser):
    wait_time = constant_throughput(USER_RATE) if USER_RATE > 0 else constant(0)

    @task
    def chat(self):
        body = {"model": MODEL, "max_tokens": MAX_TOKENS, "ignore_eos": True,
                "messages": [{"role": "user", "content": "Benchmark prompt."}],
                "stream": STREAM}
        if not STREAM:
            self.client.post("/v1/chat/completions", json=body, name="chat")
            return
        body["stream_options"] = {"include_usage": True}
        start = time.perf_counter()
        first = last = None
        with self.client.post("/v1/chat/completions", json=body, stream=True,
                              catch_response=True, name="chat") as resp:
            if resp.status_code != 200:
                resp.failure("status %d" % resp.status_code)
                return
            for line in resp.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    break
                chunk = json.loads(data)
                choices = chunk.get("choices") or []
                if not (choices and choices[0].get("delta", {}).get("content")):
                    continue
                now = time.perf_counter()
                if first is None:
                    first = now
                    self.environment.events.request.fire(
                        request_type="TTFT", name="chat", response_time=(now - start) * 1000,
                        response_length=0, exception=None, context={})
                elif ITL:
                    self.environment.events.request.fire(
                        request_type="ITL", name="chat", response_time=(now - last) * 1000,
                        response_length=0, exception=None, context={})
                last = now
            resp.success()
