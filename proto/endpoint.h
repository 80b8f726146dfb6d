/*  endpoint.h: what a ZeroMQ endpoint string says about where its traffic goes.

    Plain text (no CURVE) is allowed without --insecure only on loopback, for the fleet
    socket, the ctl socket and a worker's connection alike, so the one answer lives here,
    below the coordinator and the worker that both ask it (docs/security.md).
*/
#ifndef SURGE_PROTO_ENDPOINT_H
#define SURGE_PROTO_ENDPOINT_H

#include <stdbool.h>

/* True when the endpoint is exactly tcp://HOST:PORT with a loopback HOST (127.x.y.z,
   localhost, [::1]) or it is ipc:// / inproc://; anything else (a source;destination
   pair, an interface name, a hostname that merely starts with 127.) is not. NULL: false. */
bool endpoint_is_loopback(const char *endpoint);

#endif
