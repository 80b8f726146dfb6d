#!/usr/bin/env python3
"""Prefix caching over real HTTP (`surge sim --prefix-caching`): chat requests that share a
long prefix find its full KV blocks cached, counted by vLLM V1's counters
vllm:prefix_cache_queries_total (prompt tokens looked up) and vllm:prefix_cache_hits_total
(tokens found); turn 2 of a conversation, which resends turn 1 and its answer, finds that
whole history cached. Token counts follow docs/simulator.md (4 bytes a token, a chat
message is a 3-token header, its content and an end-of-turn token)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Sim, metric_sum, run_tests  # noqa: E402

BLOCK = 16  # the profile's block size
SYSTEM = ("You are the archivist of a small harbor town. Answer from the ledger below. " * 40)[:2000]
assert len(SYSTEM) == 2000


def counters(sim):
    _, samples = sim.metrics()
    return (metric_sum(samples, "vllm:prefix_cache_queries_total"),
            metric_sum(samples, "vllm:prefix_cache_hits_total"))


def chat(sim, messages, max_tokens=8):
    status, body = sim.post_json("/v1/chat/completions", {
        "messages": messages, "max_tokens": max_tokens, "ignore_eos": True})
    assert status == 200, (status, body)
    return body


def full_blocks(tokens):
    return tokens // BLOCK * BLOCK


def test_second_request_hits_the_shared_prefix_full_blocks_and_queries_count_both():
    with Sim("--profile", "llama-3.1-8b-h100", "--prefix-caching") as sim:
        q0, h0 = counters(sim)
        assert (q0, h0) == (0, 0)
        first = chat(sim, [{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": "Which ships left in March?"}])
        q1, h1 = counters(sim)
        assert h1 == 0, h1
        second = chat(sim, [{"role": "system", "content": SYSTEM},
                            {"role": "user", "content": "Who kept the lighthouse?"}])
        q2, h2 = counters(sim)
        # Shared tokens: BOS, the system message (3 + 500 + 1), the user header (3); the
        # user contents differ from their first 4 bytes on.
        shared = 1 + (3 + len(SYSTEM) // 4 + 1) + 3
        assert h2 - h1 == full_blocks(shared), (h2 - h1, full_blocks(shared))
        assert q1 - q0 == first["usage"]["prompt_tokens"], (q1, first["usage"])
        assert q2 - q0 == first["usage"]["prompt_tokens"] + second["usage"]["prompt_tokens"]


def test_turn_2_resending_turn_1_and_its_answer_finds_that_history_cached():
    with Sim("--profile", "llama-3.1-8b-h100", "--prefix-caching") as sim:
        turn1 = [{"role": "system", "content": SYSTEM},
                 {"role": "user", "content": "Which ships left in March?"}]
        answer = chat(sim, turn1, max_tokens=40)
        text = answer["choices"][0]["message"]["content"]
        p1, o1 = answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"]
        _, h1 = counters(sim)
        turn2 = turn1 + [{"role": "assistant", "content": text},
                         {"role": "user", "content": "And in April?"}]
        second = chat(sim, turn2)
        _, h2 = counters(sim)
        # The answer resent counts exactly its tokens: turn 1's prompt ended with the
        # assistant header, then come the answer's o1 tokens, its end of turn, the new user
        # message (4 + ceil(13 / 4)) and the assistant header again.
        assert second["usage"]["prompt_tokens"] == p1 + o1 + 1 + (4 + 4) + 3, second["usage"]
        # Every block of turn 1's prompt + answer whose KV was computed (all but the
        # answer's last token) is found.
        assert h2 - h1 == full_blocks(p1 + o1 - 1), (h2 - h1, p1, o1)


def test_without_prefix_caching_nothing_is_looked_up():
    with Sim("--profile", "llama-3.1-8b-h100") as sim:
        for _ in range(2):
            chat(sim, [{"role": "system", "content": SYSTEM},
                       {"role": "user", "content": "Which ships left in March?"}])
        assert counters(sim) == (0, 0)


if __name__ == "__main__":
    run_tests([test_second_request_hits_the_shared_prefix_full_blocks_and_queries_count_both,
               test_turn_2_resending_turn_1_and_its_answer_finds_that_history_cached,
               test_without_prefix_caching_nothing_is_looked_up])
