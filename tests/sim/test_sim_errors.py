#!/usr/bin/env python3
"""Every bad-request class gets vLLM's JSON error with the right status, a full queue gets
429 or 503 as configured, and no input, however malformed, takes the server down."""
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Sim, run_tests  # noqa: E402

SIM = None


def expect_error(status, path, body, want, raw=False):
    got, headers, data = SIM.request("POST", path, body if raw else json.dumps(body))
    assert got == want, f"{path} {body!r:.80}: status {got}, want {want}: {data[:200]!r}"
    # every error, 413 included, has vLLM's JSON shape
    err = json.loads(data)["error"]
    assert err["code"] == want and err["message"] and err["type"], err
    assert headers["content-type"] == "application/json"


def test_malformed_json_is_400():
    for path in ("/v1/completions", "/v1/chat/completions", "/tokenize"):
        for body in ('{"prompt": ', "not json", "", "\x00\xff\xfe", '{"a":1}}'):
            expect_error(400, path, body, 400, raw=True)


def test_invalid_fields_are_400():
    cases = [
        ("/v1/completions", {"max_tokens": 5}),                      # no prompt
        ("/v1/completions", {"prompt": 5}),
        ("/v1/completions", {"prompt": ["a", "b"]}),                 # several prompts
        ("/v1/completions", {"prompt": "x", "max_tokens": -1}),
        ("/v1/completions", {"prompt": "x", "max_tokens": "ten"}),
        ("/v1/completions", {"prompt": "x", "max_tokens": 0}),
        ("/v1/completions", {"prompt": "x", "max_tokens": 10 ** 9}),  # past max_model_len
        ("/v1/completions", {"prompt": "x", "stream": "yes"}),
        ("/v1/completions", {"prompt": "x", "n": 2}),
        ("/v1/completions", {"prompt": "x", "temperature": "hot"}),
        ("/v1/completions", {"prompt": "x", "stream_options": {"include_usage": True}}),
        ("/v1/completions", {"prompt": "x", "stream": True, "stream_options": 3}),
        ("/v1/chat/completions", {"messages": "hello"}),
        ("/v1/chat/completions", {"messages": []}),
        ("/v1/chat/completions", {"messages": [{"content": "no role"}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"x": 1}]}]}),
        ("/v1/completions", [1, 2, 3]),                              # not an object
    ]
    for path, body in cases:
        expect_error(400, path, body, 400)


def test_unknown_path_and_unknown_model_are_404():
    got, _, data = SIM.request("GET", "/v1/nothing")
    assert got == 404 and json.loads(data)["error"]["code"] == 404
    expect_error(404, "/v1/completions", {"model": "gpt-99", "prompt": "x"}, 404)
    expect_error(404, "/v1/chat/completions",
                 {"model": "gpt-99", "messages": [{"role": "user", "content": "x"}]}, 404)


def test_wrong_method_is_405():
    got, _, _ = SIM.request("GET", "/v1/completions")
    assert got == 405, got


def test_oversize_body_is_413():
    expect_error(413, "/v1/completions", {"prompt": "x" * 5000}, 413)


def test_garbage_on_the_wire_never_crashes_the_server():
    payloads = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,  # a TLS hello
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 200000 + b"\r\n\r\n",
        b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"prompt\":",
        b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"BREW /pot HTTP/1.1\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"GET /" + b"%" * 5000 + b" HTTP/1.1\r\n\r\n",
        b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 22\r\n\r\n"
        + b'{"messages":[[[[[[[[[[',
    ]
    nested = "[" * 100000 + "]" * 100000
    for p in payloads:
        s = socket.create_connection(("127.0.0.1", SIM.port), timeout=5)
        try:
            s.sendall(p)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
    SIM.request("POST", "/v1/completions", '{"prompt":' + nested[:3000] + "}")
    got, _, _ = SIM.request("GET", "/health")
    assert got == 200
    got, body = SIM.post_json("/v1/completions", {"prompt": "still here", "max_tokens": 2})
    assert got == 200 and body["usage"]["completion_tokens"] >= 1


def flood_statuses(sim, n=12):
    """n concurrent long-prompt requests at once; returns (statuses, bodies)."""
    results = [None] * n

    def one(i):
        results[i] = sim.request("POST", "/v1/completions", json.dumps(
            {"prompt": "word " * 80, "max_tokens": 8, "ignore_eos": True}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [r[0] for r in results], [r[2] for r in results]


def test_full_queue_answers_429_by_default_and_503_when_configured():
    for flag, want in (([], 429), (["--queue-full-status", "503"], 503)):
        with Sim("--profile", "tiny", "--max-queue", "1", *flag) as sim:
            statuses, bodies = flood_statuses(sim)
            assert 200 in statuses, statuses
            assert want in statuses, statuses
            assert set(statuses) <= {200, want}, statuses
            err = json.loads(bodies[statuses.index(want)])["error"]
            assert err["code"] == want and "overloaded" in err["message"]


def main():
    global SIM
    with Sim("--profile", "instant", "--max-body-bytes", "4096") as sim:
        SIM = sim
        run_tests([
            test_malformed_json_is_400,
            test_invalid_fields_are_400,
            test_unknown_path_and_unknown_model_are_404,
            test_wrong_method_is_405,
            test_oversize_body_is_413,
            test_garbage_on_the_wire_never_crashes_the_server,
            test_full_queue_answers_429_by_default_and_503_when_configured,
        ])


if __name__ == "__main__":
    main()
