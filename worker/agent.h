/*  agent.h: the worker's ZeroMQ side: joins a coordinator and drives the load engine.

    One DEALER socket, handled on the caller's thread (the engine's HTTP loops run on
    their own threads, so heartbeats are never starved by load). The agent says hello,
    estimates its clock offset to the coordinator from heartbeat round trips (keeping
    the minimum-RTT sample), builds the engine from the plan message, turns phase
    messages into engine_start_phase (coordinator time -> local monotonic time), and
    sends every closed interval as a snapshot, kept until acknowledged and re-sent
    after a reconnect.

    Self-fencing: when the coordinator has not echoed one of our heartbeats for 3
    heartbeat intervals (it may not be hearing us, so it may already have handed our
    segment on), the agent halts the engine and aborts in-flight requests, then says
    hello again; a fleet that loses its coordinator stops within that time.
*/
#ifndef SURGE_WORKER_AGENT_H
#define SURGE_WORKER_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/idle.h"

typedef struct {
    const char *endpoint;  /* "tcp://host:5555" */
    const char *worker_id; /* NULL: hostname:pid */
    int threads;           /* engine threads, 0 = one per core */
    int capacity;          /* weight for segment sizing, 0 = threads */
    engine_idle_t idle;    /* the engine threads' idle policy (worker/idle.h) */
    bool insecure;         /* allow a non-loopback endpoint without CURVE */
    /* CURVE (proto/curve.h): this worker's secret certificate and the coordinator's public
       one; both or neither (plain text). */
    const char *cert_path;
    const char *coordinator_key_path;
    /* Targets this worker may send to: HOSTGLOB[:PORT] patterns (worker/allow.h:
       "*.svc.cluster.local", "10.0.*:8000", "[::1]:8000"); none = any. A plan naming
       any other target is refused whole (bye with the reason; exit 3). Borrowed. */
    const char *const *allow;
    int allow_count;
    /* A plan's api_key_file is read only when its real path lies inside this directory
       (a Kubernetes Secret mount); NULL: such plans are refused. Borrowed. */
    const char *api_key_dir;
    int64_t reconnect_timeout_ms; /* give up when no coordinator for this long; 0 = 60 s */
    int protocol_version;         /* 0 = PROTO_VERSION (tests announce another) */
} agent_config_t;

/* Whether the agent may start with this config: an endpoint; CURVE with both cert_path
   and coordinator_key_path or neither; and plain text only to a loopback endpoint
   (proto/endpoint.h) unless insecure, since anyone on the path could otherwise steer
   this worker's load. 0, or -1 with the reason (and how to fix it) in why. */
int agent_config_check(const agent_config_t *config, char *why, size_t why_size);

/* Runs until the coordinator ends the run (exit 0), refuses us or is gone for longer
   than reconnect_timeout_ms (exit 3), or *stop becomes non-zero (SIGINT/SIGTERM: stop
   the load, send what was measured, exit 0). A config agent_config_check refuses is
   refused here too (logged, exit 2) before any socket exists. Returns an exit code. */
int agent_run(const agent_config_t *config, volatile sig_atomic_t *stop);

#endif
