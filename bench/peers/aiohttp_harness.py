"""aiohttp_harness.py: the peer shaped like the widely copied LoadTestHarness
(async sessions, time.time() timestamps, per-line SSE parsing) for docs/performance.md,
"Side by side". Written for this comparison; it copies no one's code.

--warmup S: requests started in the first S seconds (connection set-up) are left out
of TTFT/ITL, as surge's --warmup leaves them out of its summary.

Closed loop (--concurrency N workers, each sending the next request when the last one
ends) or open loop (--rate R: one task per request at its planned time; lag = how late
the task started). Prints one JSON line: requests, errors, achieved req/s, TTFT/ITL
percentiles in ms, lag P99, and the process's peak RSS.

  /usr/bin/python3 aiohttp_harness.py --url http://127.0.0.1:8000 --concurrency 100 \
      --duration 10 [--max-tokens 16] [--model M] [--rate R] [--no-stream]
"""
import argparse
import asyncio
import json
import resource
import time

import aiohttp


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


class LoadTestHarness:
    def __init__(self, url, model, max_tokens, stream, warmup_s=0.0):
        self.record_from = time.time() + warmup_s  # samples of earlier requests are dropped
        self.url = url.rstrip("/") + "/v1/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.stream = stream
        self.ttft_ms, self.itl_ms, self.lag_ms = [], [], []
        self.ok = self.errors = 0
        self.open = self.open_max = 0

    def payload(self):
        body = {"model": self.model, "max_tokens": self.max_tokens, "ignore_eos": True,
                "messages": [{"role": "user", "content": "Benchmark prompt."}],
                "stream": self.stream}
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    async def one_request(self, session):
        start = time.time()
        record = start >= self.record_from
        first = last = None
        self.open += 1
        self.open_max = max(self.open_max, self.open)
        try:
            async with session.post(self.url, json=self.payload()) as resp:
                if resp.status != 200:
                    self.errors += 1
                    await resp.read()
                    return
                if not self.stream:
                    json.loads(await resp.read())
                    self.ok += 1
                    if record:
                        self.ttft_ms.append((time.time() - start) * 1000)
                    return
                async for raw in resp.content:  # one line at a time
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data: "):
                        continue
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    choices = chunk.get("choices") or []
                    if choices and choices[0].get("delta", {}).get("content"):
                        now = time.time()
                        if first is None:
                            first = now
                            if record:
                                self.ttft_ms.append((now - start) * 1000)
                        elif record:
                            self.itl_ms.append((now - last) * 1000)
                        last = now
                self.ok += 1
        except Exception:
            self.errors += 1
        finally:
            self.open -= 1

    async def closed_loop(self, concurrency, duration):
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            end = time.time() + duration

            async def user():
                while time.time() < end:
                    await self.one_request(session)

            await asyncio.gather(*(user() for _ in range(concurrency)))

    async def open_loop(self, rate, duration):
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = time.time()
            tasks, n = [], int(rate * duration)

            async def planned(i):
                due = t0 + i / rate
                self.lag_ms.append((time.time() - due) * 1000)
                await self.one_request(session)

            for i in range(n):
                delay = t0 + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(planned(i)))
            await asyncio.gather(*tasks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", default="surge-sim-instant")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--warmup", type=float, default=0, help="seconds left out of TTFT/ITL")
    a = ap.parse_args()
    h = LoadTestHarness(a.url, a.model, a.max_tokens, not a.no_stream, a.warmup)
    t0 = time.time()
    if a.rate > 0:
        asyncio.run(h.open_loop(a.rate, a.duration))
    else:
        asyncio.run(h.closed_loop(a.concurrency or 1, a.warmup + a.duration))
    elapsed = time.time() - t0
    out = {"tool": "aiohttp", "requests": h.ok + h.errors, "ok": h.ok, "errors": h.errors,
           "seconds": round(elapsed, 3), "rps": round((h.ok + h.errors) / elapsed, 1),
           "open_max": h.open_max,
           "rss_max_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    for name, vals in (("ttft", h.ttft_ms), ("itl", h.itl_ms), ("lag", h.lag_ms)):
        for p in (50, 99):
            v = pct(vals, p)
            out["%s_p%d_ms" % (name, p)] = None if v is None else round(v, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
