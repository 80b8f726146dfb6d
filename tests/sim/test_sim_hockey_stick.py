#!/usr/bin/env python3
"""The hockey stick over real HTTP: with the `tiny` profile, TTFT P99 measured by a client
stays near its floor at low request rates and rises sharply past capacity, while
vllm:kv_cache_usage_perc approaches 1 and vllm:num_requests_waiting becomes non-zero.
Open loop, Poisson arrivals, bounded: a few seconds and at most 40 requests per level."""
import math
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Sim, metric_sum, run_tests  # noqa: E402

PROMPT = "Describe the tides along a rocky northern coast in early spring. " * 4  # ~65 tokens
LEVELS = [(1.0, 5.0), (2.0, 4.0), (10.0, 4.0)]  # (requests/s, seconds)


def p99(values):
    values = sorted(values)
    return values[max(0, math.ceil(0.99 * len(values)) - 1)]


def run_level(sim, rate, seconds, rng):
    ttfts, errors = [], []
    lock = threading.Lock()
    peak = {"kv": 0.0, "waiting": 0.0}
    stop = threading.Event()

    def one():
        try:
            status, _, events, t_sent = sim.stream("/v1/completions", {
                "prompt": PROMPT, "max_tokens": 32, "ignore_eos": True, "stream": True})
            assert status == 200 and events[-1][1] == "[DONE]", status
            with lock:
                ttfts.append(events[0][0] - t_sent)
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))

    def scrape():
        while not stop.is_set():
            _, samples = sim.metrics()
            peak["kv"] = max(peak["kv"], metric_sum(samples, "vllm:kv_cache_usage_perc"))
            peak["waiting"] = max(peak["waiting"],
                                  metric_sum(samples, "vllm:num_requests_waiting"))
            stop.wait(0.1)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    threads = []
    t0 = time.monotonic()
    at = 0.0
    while True:
        at += rng.expovariate(rate)
        if at > seconds:
            break
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(90)
    stop.set()
    scraper.join()
    assert not errors, errors[:3]
    return p99(ttfts), peak["kv"], peak["waiting"], len(ttfts)


def test_ttft_p99_flat_then_sharply_up_as_kv_fills_and_requests_wait():
    rng = random.Random(11)
    with Sim("--profile", "tiny", "--seed", "11") as sim:
        results = []
        for rate, seconds in LEVELS:
            res = run_level(sim, rate, seconds, rng)
            results.append(res)
            print(f"# {rate:5.1f} req/s: {res[3]} requests, TTFT p99 {res[0] * 1000:7.1f} ms, "
                  f"peak kv usage {res[1]:.2f}, peak waiting {res[2]:.0f}", flush=True)
        low, mid, high = results
        assert low[0] < 0.5 and mid[0] < 0.5, "TTFT P99 should sit near its floor below the knee"
        assert high[0] > 1.0 and high[0] > 4 * max(low[0], mid[0]), "no hockey stick"
        assert high[1] > 0.9, f"KV usage at overload only {high[1]:.2f}"
        assert high[2] >= 3, "requests did not queue at overload"


if __name__ == "__main__":
    run_tests([test_ttft_p99_flat_then_sharply_up_as_kv_fills_and_requests_wait])
