#!/usr/bin/env python3
"""Protocol conformance of a real `surge sim`: vLLM's response shapes and SSE framing for
both endpoints, stream and not, usage equal to the tokens sent, models, tokenize, health,
metrics names and types, keep-alive."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Sim, metric_sum, run_tests  # noqa: E402

PROMPT = "Tell me a story about a lighthouse keeper and the sea."
MESSAGES = [{"role": "system", "content": "You are brief."},
            {"role": "user", "content": PROMPT}]
SIM = None


def check_common(obj, prefix, kind):
    assert obj["id"].startswith(prefix), obj["id"]
    assert obj["object"] == kind, obj["object"]
    assert isinstance(obj["created"], int) and obj["created"] > 1600000000
    assert obj["model"] == "surge-sim-instant"


def test_completion_non_stream_has_vllm_shape_and_exact_usage():
    status, body = SIM.post_json("/v1/completions", {
        "model": "surge-sim-instant", "prompt": PROMPT, "max_tokens": 7, "ignore_eos": True})
    assert status == 200, body
    check_common(body, "cmpl-", "text_completion")
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "length"
    assert choice["text"].startswith(" ") and len(choice["text"].split()) == 7, choice["text"]
    usage = body["usage"]
    assert usage["completion_tokens"] == 7
    assert usage["prompt_tokens"] == 1 + (len(PROMPT) + 3) // 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + 7


def test_chat_non_stream_has_vllm_shape_and_exact_usage():
    status, body = SIM.post_json("/v1/chat/completions", {
        "model": "surge-sim-instant", "messages": MESSAGES, "max_tokens": 5,
        "ignore_eos": True})
    assert status == 200, body
    check_common(body, "chatcmpl-", "chat.completion")
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert len(choice["message"]["content"].split()) == 5
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


def stream_events(path, body):
    status, headers, events, _ = SIM.stream(path, body)
    assert status == 200, status
    assert headers["content-type"].startswith("text/event-stream"), headers
    assert events and events[-1][1] == "[DONE]", events[-3:]
    return [json.loads(data) for _, data in events[:-1]]


def test_completion_stream_framing_usage_chunk_and_done():
    chunks = stream_events("/v1/completions", {
        "model": "surge-sim-instant", "prompt": PROMPT, "max_tokens": 9, "ignore_eos": True,
        "stream": True, "stream_options": {"include_usage": True}})
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("cmpl-")
    content = [c for c in chunks if c["choices"]]
    final = chunks[-1]
    for c in chunks:
        assert c["object"] == "text_completion" and c["model"] == "surge-sim-instant"
    assert len(content) == 9, len(content)
    assert all(c["choices"][0]["text"].startswith(" ") for c in content)
    assert all(c["choices"][0]["finish_reason"] is None for c in content[:-1])
    assert content[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in content)  # no continuous stats asked
    assert final["choices"] == [] and final["usage"]["completion_tokens"] == len(content)


def test_chat_stream_role_first_content_events_equal_usage():
    chunks = stream_events("/v1/chat/completions", {
        "model": "surge-sim-instant", "messages": MESSAGES, "max_tokens": 12,
        "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}})
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c for c in chunks[1:] if c["choices"]]
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
    assert all(c["choices"][0]["delta"]["content"] for c in content)
    assert len(content) == 12
    assert content[-1]["choices"][0]["finish_reason"] == "length"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["completion_tokens"] == len(content) == 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + 12


def test_continuous_usage_stats_count_every_token():
    chunks = stream_events("/v1/chat/completions", {
        "messages": MESSAGES, "max_tokens": 6, "ignore_eos": True, "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True}})
    content = [c for c in chunks[1:] if c["choices"]]
    assert [c["usage"]["completion_tokens"] for c in content] == [1, 2, 3, 4, 5, 6]
    assert chunks[0]["usage"]["completion_tokens"] == 0


def test_stream_without_include_usage_has_no_usage_chunk():
    chunks = stream_events("/v1/completions", {
        "prompt": PROMPT, "max_tokens": 3, "ignore_eos": True, "stream": True})
    assert len(chunks) == 3 and all(c["choices"] for c in chunks)


def test_without_ignore_eos_length_is_drawn_and_finish_reason_says_so():
    reasons = set()
    for _ in range(30):
        status, body = SIM.post_json("/v1/completions", {"prompt": PROMPT, "max_tokens": 200})
        assert status == 200
        n = body["usage"]["completion_tokens"]
        assert 1 <= n <= 200
        assert len(body["choices"][0]["text"].split()) == n
        reason = body["choices"][0]["finish_reason"]
        assert reason == ("length" if n == 200 else "stop"), (n, reason)
        reasons.add(n)
    assert len(reasons) > 5, reasons  # a distribution, not a constant


def test_default_max_tokens_is_16_for_completions():
    status, body = SIM.post_json("/v1/completions", {"prompt": PROMPT, "ignore_eos": True})
    assert status == 200 and body["usage"]["completion_tokens"] == 16


def test_same_seed_same_text_and_ids():
    outs = []
    for _ in range(2):
        with Sim("--profile", "instant", "--seed", "99") as sim:
            outs.append([sim.post_json("/v1/completions",
                                       {"prompt": PROMPT, "max_tokens": 50})[1]
                         for _ in range(3)])
    strip = [[(b["id"], b["choices"][0]["text"]) for b in run] for run in outs]
    assert strip[0] == strip[1]


def test_models_lists_the_served_model():
    status, _, data = SIM.request("GET", "/v1/models")
    body = json.loads(data)
    assert status == 200 and body["object"] == "list"
    assert body["data"][0]["id"] == "surge-sim-instant" and body["data"][0]["object"] == "model"
    assert body["data"][0]["max_model_len"] > 0


def test_tokenize_count_matches_usage():
    status, tok = SIM.post_json("/tokenize", {"model": "surge-sim-instant", "prompt": PROMPT})
    assert status == 200 and tok["count"] == len(tok["tokens"])
    _, body = SIM.post_json("/v1/completions", {"prompt": PROMPT, "max_tokens": 1})
    assert tok["count"] == body["usage"]["prompt_tokens"]
    status, tok = SIM.post_json("/tokenize", {"messages": MESSAGES})
    _, body = SIM.post_json("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 1})
    assert status == 200 and tok["count"] == body["usage"]["prompt_tokens"]


def test_health_is_200():
    status, _, _ = SIM.request("GET", "/health")
    assert status == 200


def test_keep_alive_serves_many_requests_on_one_connection():
    conn = SIM.conn()
    try:
        conn.connect()
        local = conn.sock.getsockname()
        for i in range(5):
            status, body = SIM.post_json("/v1/completions",
                                         {"prompt": PROMPT, "max_tokens": 2}, conn=conn)
            assert status == 200
            status, _, events, _ = SIM.stream("/v1/chat/completions", {
                "messages": MESSAGES, "max_tokens": 3, "ignore_eos": True, "stream": True},
                conn=conn)
            assert status == 200 and events[-1][1] == "[DONE]"
            assert conn.sock is not None and conn.sock.getsockname() == local, "reconnected"
    finally:
        conn.close()


REQUIRED = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:gpu_cache_usage_perc": "gauge",
    "vllm:num_preemptions_total": "counter",
    "vllm:prompt_tokens_total": "counter",
    "vllm:generation_tokens_total": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:time_per_output_token_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "surge_sim_fault_active": "gauge",
}


def test_metrics_have_vllm_names_types_and_consistent_counts():
    before_types, before = SIM.metrics()
    _, body = SIM.post_json("/v1/completions",
                            {"prompt": PROMPT, "max_tokens": 4, "ignore_eos": True})
    types, samples = SIM.metrics()
    for name, kind in REQUIRED.items():
        assert types.get(name) == kind, f"{name}: TYPE {types.get(name)}, want {kind}"
        if kind == "histogram":
            assert metric_sum(samples, name + "_count") >= 1, name
            inf = metric_sum(samples, name + "_bucket", le="+Inf")
            assert inf == metric_sum(samples, name + "_count"), name
        else:
            assert any(n == name for n, _ in samples), f"no sample for {name}"
    gen = metric_sum(samples, "vllm:generation_tokens_total") - \
        metric_sum(before, "vllm:generation_tokens_total")
    assert gen == 4, gen
    prompt = metric_sum(samples, "vllm:prompt_tokens_total") - \
        metric_sum(before, "vllm:prompt_tokens_total")
    assert prompt == body["usage"]["prompt_tokens"], prompt


def main():
    global SIM
    with Sim("--profile", "instant", "--seed", "5") as sim:
        SIM = sim
        run_tests([
            test_completion_non_stream_has_vllm_shape_and_exact_usage,
            test_chat_non_stream_has_vllm_shape_and_exact_usage,
            test_completion_stream_framing_usage_chunk_and_done,
            test_chat_stream_role_first_content_events_equal_usage,
            test_continuous_usage_stats_count_every_token,
            test_stream_without_include_usage_has_no_usage_chunk,
            test_without_ignore_eos_length_is_drawn_and_finish_reason_says_so,
            test_default_max_tokens_is_16_for_completions,
            test_same_seed_same_text_and_ids,
            test_models_lists_the_served_model,
            test_tokenize_count_matches_usage,
            test_health_is_200,
            test_keep_alive_serves_many_requests_on_one_connection,
            test_metrics_have_vllm_names_types_and_consistent_counts,
        ])


if __name__ == "__main__":
    main()
