/*  allow.h: the worker's target allow-list (`surge worker --allow-target PATTERN`).

    A load fleet is a weapon if anyone can steer it: a worker sends traffic only to
    targets its own operator listed, whatever the coordinator asks. A pattern is
    HOSTGLOB[:PORT]:

      vllm-0.inference.svc.cluster.local:8000   that host, that port only
      *.inference.svc.cluster.local             any host of the domain, any port
      10.0.*:8000                               fnmatch glob on the host, case-insensitive
      [fd00::*]:8000, ::1                       IPv6: brackets when a port follows

    A target URL matches a pattern when its host matches the glob and, if the pattern
    names a port, its port (explicit, or 80/443 from the scheme) is that port. An empty
    list allows any target (loopback tests, `surge run`).
*/
#ifndef SURGE_WORKER_ALLOW_H
#define SURGE_WORKER_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when pattern is a valid HOSTGLOB[:PORT] (port 1..65535); -1 with why in err. */
int allow_pattern_check(const char *pattern, char *err, size_t err_size);

/* True when url is allowed by one of the patterns (none = any). host_port receives the
   target as matched, "host:port" ("[v6]:port"), for messages; may be NULL. A URL whose
   host or port cannot be read is never allowed. */
bool allow_target_permitted(const char *const *patterns, int pattern_count, const char *url,
                            char *host_port, size_t host_port_size);

#endif
