"""simlib.py: start a real `surge sim` on a kernel-chosen loopback port and talk to it
with the standard library only. Every server is stopped (SIGTERM, then SIGKILL) even when
a test fails, and a clean exit (status 0, so no sanitizer report) is checked."""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SURGE_BIN = os.environ.get("SURGE_BIN")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


class Sim:
    def __init__(self, *args):
        if not SURGE_BIN or not os.path.exists(SURGE_BIN):
            skip("SURGE_BIN is not set to a built surge")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([SURGE_BIN, "sim", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        line = b""
        deadline = time.monotonic() + 20
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop(check=False)
                raise RuntimeError(f"surge sim did not start: {self.log()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    continue
                line += ch
        text = line.decode().strip()
        assert text.startswith("listening on http://127.0.0.1:"), text
        self.port = int(text.rsplit(":", 1)[1])

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("surge sim did not exit on SIGTERM")
        if check and self.proc.returncode != 0:
            raise AssertionError(f"surge sim exited {self.proc.returncode}: {self.log()}")

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.stop(check=kind is None)
        if kind is not None:
            sys.stderr.write("--- surge sim stderr (tail) ---\n" + self.log()[-4000:] + "\n")

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict, body bytes)."""
        own = conn is None
        conn = conn or self.conn()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def post_json(self, path, body, conn=None):
        status, headers, data = self.request("POST", path, body, conn=conn)
        return status, json.loads(data) if data else None

    def stream(self, path, body, conn=None):
        """POSTs a streaming request; returns (status, headers, [(t, data_text)], t_sent)."""
        own = conn is None
        conn = conn or self.conn()
        try:
            t_sent = time.monotonic()
            conn.request("POST", path, body=json.dumps(body),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            events = []
            if resp.status != 200:
                resp.read()
                return resp.status, headers, events, t_sent
            pending = ""
            while True:
                line = resp.readline()
                if not line:
                    break
                line = line.decode()
                if line in ("\n", "\r\n"):
                    if pending:
                        events.append((time.monotonic(), pending))
                    pending = ""
                    continue
                assert line.startswith("data: "), f"not an SSE data line: {line!r}"
                pending += line[len("data: "):].rstrip("\r\n")
            return resp.status, headers, events, t_sent
        finally:
            if own:
                conn.close()

    def metrics(self):
        status, headers, data = self.request("GET", "/metrics")
        assert status == 200, status
        return parse_prometheus(data.decode())


def parse_prometheus(text):
    """Returns (types {name: type}, samples {(name, frozenset(labels)): value})."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            if "{" in head:
                name, rest = head.split("{", 1)
                labels = []
                for part in rest.rstrip("}").split(","):
                    if part:
                        k, v = part.split("=", 1)
                        labels.append((k, v.strip('"')))
                key = (name, frozenset(labels))
            else:
                key = (head, frozenset())
            samples[key] = float(value)
    return types, samples


def metric_sum(samples, name, **labels):
    total = 0.0
    for (n, lbls), v in samples.items():
        if n == name and all((k, str(val)) in lbls for k, val in labels.items()):
            total += v
    return total


def run_tests(tests):
    failed = 0
    for fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok   {fn.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
        except SystemExit:
            raise
        except BaseException:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{len(tests)} tests, {failed} failed")
    sys.exit(1 if failed else 0)


def connect_refused(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
