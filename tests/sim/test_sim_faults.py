#!/usr/bin/env python3
"""Every fault mode of `surge sim` does what it says, for as long as it says, and shows in
/metrics; the admin endpoint refuses bad specs."""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import Sim, connect_refused, metric_sum, run_tests  # noqa: E402

MSG = [{"role": "user", "content": "Say something about rivers."}]


def set_fault(sim, **spec):
    status, body = sim.post_json("/admin/fault", spec)
    assert status == 200, body
    return body


def fault_active(sim, kind):
    _, samples = sim.metrics()
    return metric_sum(samples, "surge_sim_fault_active", kind=kind)


def completion(sim, max_tokens=4, conn=None):
    return sim.post_json("/v1/completions",
                         {"prompt": "hello", "max_tokens": max_tokens, "ignore_eos": True},
                         conn=conn)


def test_down_refuses_connections_then_comes_back():
    with Sim("--profile", "instant") as sim:
        set_fault(sim, kind="down", duration_s=1.5)
        time.sleep(0.3)
        assert connect_refused(sim.port), "still accepting while down"
        deadline = time.monotonic() + 10
        while connect_refused(sim.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        status, body = completion(sim)
        assert status == 200, body
        _, samples = sim.metrics()
        assert metric_sum(samples, "surge_sim_faults_injected_total", kind="down") == 1


def test_down_cuts_open_streams():
    with Sim("--profile", "tiny") as sim:
        conn = sim.conn()
        conn.request("POST", "/v1/chat/completions", body=json.dumps(
            {"messages": MSG, "max_tokens": 200, "ignore_eos": True, "stream": True}))
        resp = conn.getresponse()
        assert resp.status == 200
        resp.readline()
        set_fault(sim, kind="down", duration_s=1)
        try:
            data = resp.read()
            assert b"[DONE]" not in data
        except (http.client.IncompleteRead, ConnectionError):
            pass
        conn.close()


def test_503_fault_answers_503_and_health_fails_until_cleared():
    with Sim("--profile", "instant") as sim:
        set_fault(sim, kind="503", duration_s=60)
        status, body = completion(sim)
        assert status == 503 and body["error"]["code"] == 503
        assert sim.request("GET", "/health")[0] == 503
        assert fault_active(sim, "503") == 1
        status, listed = sim.request("GET", "/admin/faults")[0:3:2]
        assert [f["kind"] for f in json.loads(listed)["faults"]] == ["503"]
        assert sim.request("DELETE", "/admin/fault?kind=503")[0] == 200
        assert completion(sim)[0] == 200
        assert fault_active(sim, "503") == 0


def test_startup_fault_flag_expires_by_itself():
    with Sim("--profile", "instant", "--fault", "kind=503,duration_s=0.7") as sim:
        assert completion(sim)[0] == 503
        time.sleep(1.0)
        assert completion(sim)[0] == 200


def timed_completion(sim, tokens):
    t0 = time.monotonic()
    status, body = completion(sim, tokens)
    assert status == 200, body
    return time.monotonic() - t0


def test_slow_multiplies_step_time():
    with Sim("--profile", "tiny") as sim:
        base = timed_completion(sim, 10)
        set_fault(sim, kind="slow", factor=4, duration_s=30)
        slow = timed_completion(sim, 10)
        assert fault_active(sim, "slow") == 1
        assert slow > 2.5 * base, (base, slow)


def test_error_rate_fails_that_fraction_with_500():
    with Sim("--profile", "instant", "--seed", "3") as sim:
        set_fault(sim, kind="error_rate", fraction=0.5, duration_s=30)
        statuses = [completion(sim)[0] for _ in range(60)]
        assert set(statuses) == {200, 500}, set(statuses)
        assert 10 <= statuses.count(500) <= 50, statuses.count(500)
        set_fault(sim, kind="error_rate", fraction=1.0, duration_s=30)
        assert all(completion(sim)[0] == 500 for _ in range(5))
        _, samples = sim.metrics()
        assert metric_sum(samples, "surge_sim_fault_hits_total", kind="error_rate") >= 15


def test_drop_mid_stream_cuts_after_data_and_before_done():
    with Sim("--profile", "tiny") as sim:
        set_fault(sim, kind="drop_mid_stream", duration_s=30)
        conn = sim.conn()
        conn.request("POST", "/v1/completions", body=json.dumps(
            {"prompt": "hello", "max_tokens": 30, "ignore_eos": True, "stream": True}))
        resp = conn.getresponse()
        assert resp.status == 200
        got = b""
        try:
            while True:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
                if not chunk:
                    break
                got += chunk
        except (http.client.IncompleteRead, ConnectionError):
            pass
        conn.close()
        assert b"data: {" in got, got
        assert b"[DONE]" not in got, "the stream was not cut"
        try:
            status, _ = completion(sim, 20)  # non-stream: the connection dies too
            assert False, f"got a reply ({status}) through a drop fault"
        except (http.client.RemoteDisconnected, ConnectionError):
            pass
        sim.request("DELETE", "/admin/fault")
        assert completion(sim, 3)[0] == 200


def test_stall_silences_streams_then_they_finish():
    with Sim("--profile", "tiny") as sim:
        set_fault(sim, kind="stall", start_s=0.4, duration_s=1.2)
        status, _, events, t_sent = sim.stream("/v1/chat/completions", {
            "messages": MSG, "max_tokens": 40, "ignore_eos": True, "stream": True})
        assert status == 200 and events[-1][1] == "[DONE]"
        times = [t for t, _ in events]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) > 0.9, max(gaps)
        content = [e for e in events[1:-1] if json.loads(e[1])["choices"]]
        assert len(content) == 40


def test_admin_rejects_bad_fault_specs():
    with Sim("--profile", "instant") as sim:
        for spec in ({"kind": "meteor"}, {"kind": "down"}, {"kind": "slow", "factor": 0.1},
                     {"kind": "error_rate", "fraction": 2}, {"kind": "slow", "duration_s": "x"}):
            status, body = sim.post_json("/admin/fault", spec)
            assert status == 400 and body["error"]["code"] == 400, (spec, status)
        assert sim.request("DELETE", "/admin/fault?kind=meteor")[0] == 400


def main():
    run_tests([
        test_down_refuses_connections_then_comes_back,
        test_down_cuts_open_streams,
        test_503_fault_answers_503_and_health_fails_until_cleared,
        test_startup_fault_flag_expires_by_itself,
        test_slow_multiplies_step_time,
        test_error_rate_fails_that_fraction_with_500,
        test_drop_mid_stream_cuts_after_data_and_before_done,
        test_stall_silences_streams_then_they_finish,
        test_admin_rejects_bad_fault_specs,
    ])


if __name__ == "__main__":
    main()
