/*  fuzz_endpoint: endpoint_is_loopback (proto/endpoint.h) decides whether a fleet or ctl
    socket may run in plain text, so it must say "loopback" only for an endpoint that is
    exactly one: tcp://HOST:PORT with HOST 127.x.y.z, localhost or [::1], or ipc:// /
    inproc://. Any bytes: an answer, no crash; and a "yes" for tcp:// has no ';' (a
    ZeroMQ source;destination pair), no second "://", and a loopback host.

    Input: the endpoint (a NUL ends it). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (endpoint_is_loopback(text) && strncmp(text, "tcp://", 6) == 0) {
        const char *host = text + 6, *colon = strrchr(host, ':');
        char h[64] = "";
        if (colon && (size_t)(colon - host) < sizeof h)
            snprintf(h, sizeof h, "%.*s", (int)(colon - host), host);
        unsigned char v4[4];
        bool loopback = strcmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 ||
                        (inet_pton(AF_INET, h, v4) == 1 && v4[0] == 127);
        if (strchr(text, ';') || strstr(host, "://") || !loopback) {
            fprintf(stderr, "called loopback: %s\n", text);
            abort();
        }
    }
    free(text);
    return 0;
}
