#!/usr/bin/python3
"""ctl_garbage.py ENDPOINT OPERATOR.key_secret COORDINATOR.key: as an admitted operator,
sends garbage, malformed msgpack, a request missing its command, a wrong message type and a
multi-frame message to the ctl socket; each must get an error reply (ok false). Needs
Debian's python3-zmq (exit 77 otherwise)."""
import re
import sys

try:
    import zmq
except ImportError:
    print("python3-zmq is not installed (scripts/setup.sh --test-deps)")
    sys.exit(77)


def key(path, which):
    with open(path) as f:
        return re.search(which + r'-key = "(.{40})"', f.read()).group(1).encode()


endpoint, secret, server = sys.argv[1:4]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.curve_secretkey = key(secret, "secret")
s.curve_publickey = key(secret, "public")
s.curve_serverkey = key(server, "public")
s.connect(endpoint)


def mp_str(t):
    return bytes([0xa0 | len(t)]) + t


probes = {
    "garbage bytes": [b"\x00\xffnot msgpack at all\x13\x37"],
    "truncated msgpack": [b"\x85\xa1v\x01"],
    "a huge announced map": [b"\xdf\xff\xff\xff\xff"],
    "no command": [b"\x83" + mp_str(b"v") + b"\x01" + mp_str(b"t") + mp_str(b"ctl_request") +
                   mp_str(b"id") + b"\x01"],
    "a command of the wrong type": [b"\x84" + mp_str(b"v") + b"\x01" + mp_str(b"t") +
                                    mp_str(b"ctl_request") + mp_str(b"id") + b"\x01" +
                                    mp_str(b"cmd") + b"\x05"],
    "an unknown command": [b"\x84" + mp_str(b"v") + b"\x01" + mp_str(b"t") +
                           mp_str(b"ctl_request") + mp_str(b"id") + b"\x01" + mp_str(b"cmd") +
                           mp_str(b"format-disk")],
    "a worker's message type": [b"\x83" + mp_str(b"v") + b"\x01" + mp_str(b"t") +
                                mp_str(b"bye") + mp_str(b"reason") + mp_str(b"x")],
    "two frames": [b"a", b"b"],
}
for what, frames in probes.items():
    s.send_multipart(frames)
    if not s.poll(5000):
        print("no answer to %s" % what)
        sys.exit(1)
    reply = s.recv()
    if b"\xa2ok\xc2" not in reply or b"ctl_reply" not in reply:
        print("%s: not an error reply: %r" % (what, reply[:200]))
        sys.exit(1)
print("ok: %d hostile requests each got an error reply" % len(probes))
