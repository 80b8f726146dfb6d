/*  allow.h: the worker's target allow-list (`surge worker --allow-target PATTERN`).

    A load fleet is a weapon if anyone can steer it: a worker sends traffic only to
    targets its own operator listed, whatever the coordinator asks. A pattern is
    HOST[:PORT], and HOST is one of three kinds that never mix:

      addresses   10.0.0.5, 10.0.0.0/16 (CIDR), 10.0.* (octet glob: '*' takes one or
                  more whole octets), ::1, [fd00::/8]:8000, fd00::* (fnmatch over the
                  canonical text): match a target whose host IS a numeric address
                  (as libcurl reads it: 0x0a.0.0.1 is 10.0.0.1), never a name, so
                  10.0.* does not admit 10.0.attacker.example
      hostnames   vllm-0.inference.svc.cluster.local, *.inference.svc.cluster.local,
                  vllm-[0-7].svc: dot-separated labels, case-insensitive; a label "*"
                  takes one or more whole labels, any other label is an fnmatch glob
                  within one label (vllm-* matches vllm-0, not vllm-0.evil.example);
                  match a target whose host is a name, never an address
      *           any host

    A target URL matches a pattern when its host (read by libcurl's URL parser, the
    one that sends the request) matches and, if the pattern names a port, its port
    (explicit, or 80/443 from the scheme) is that port. A hostname pattern trusts DNS:
    the name is matched, not where it resolves. An empty list allows any target
    (loopback tests, `surge run`).
*/
#ifndef SURGE_WORKER_ALLOW_H
#define SURGE_WORKER_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when pattern is a valid HOST[:PORT] (port 1..65535); -1 with why in err. */
int allow_pattern_check(const char *pattern, char *err, size_t err_size);

/* True when url is allowed by one of the patterns (none = any). host_port receives the
   target as matched, "host:port" ("[v6]:port"), for messages; may be NULL. A URL whose
   host or port cannot be read is never allowed. */
bool allow_target_permitted(const char *const *patterns, int pattern_count, const char *url,
                            char *host_port, size_t host_port_size);

#endif
