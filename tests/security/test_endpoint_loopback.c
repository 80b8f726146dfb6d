/*  test_endpoint_loopback.c: endpoint_is_loopback (proto/endpoint.h) says loopback only for
    an endpoint that is exactly a loopback one: plain text is allowed there without
    --insecure, so a lenient answer opens the fleet or ctl socket to the network. */
#include "check.h"
#include "proto/endpoint.h"

static void test_only_exact_loopback_endpoints_are_loopback(void)
{
    const char *loopback[] = {"tcp://127.0.0.1:5555", "tcp://127.1.2.3:*",
                              "tcp://localhost:1",    "tcp://[::1]:5555",
                              "tcp://127.0.0.1:!",    "ipc:///tmp/s",
                              "inproc://x",           "tcp://127.0.0.1:*[60000-]"};
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
        CHECK_MSG(endpoint_is_loopback(loopback[i]), "%s refused", loopback[i]);
    const char *other[] = {
        "tcp://127.0.0.1:0;0.0.0.0:25999", /* ZeroMQ source;destination: binds 0.0.0.0 */
        "tcp://127.0.0.1:5555;10.0.0.5:5555",
        "tcp://127.example.com:5555",
        "tcp://127.0.0.1.nip.io:5555",
        "tcp://0.0.0.0:5555",
        "tcp://*:5555",
        "tcp://localhost.evil:5555",
        "tcp://lo:5555",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:",
        "tcp://127.0.0.1:65536",
        "tcp://127.0.0.1:5555x",
        "tcp://[::1]:5555;[::]:1",
        "tcp://[::]:5555",
        "udp://127.0.0.1:5555",
        "127.0.0.1:5555",
        "",
        NULL,
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        CHECK_MSG(!endpoint_is_loopback(other[i]), "%s accepted", other[i] ? other[i] : "(null)");
}

CHECK_MAIN(test_only_exact_loopback_endpoints_are_loopback)
