/*  ctl.h: the operator's control socket of a running coordinator (docs/chaos.md).

    A second ROUTER, polled by the coordinator's one loop: each request (proto
    ctl_request) is answered at once (ctl_reply); nothing here waits. Commands: status,
    mark, mark-start, mark-end, pause, resume, set-rate, stop. A request that cannot be
    decoded, or names an unknown command, gets an error reply and is counted; it changes
    nothing.

    Load overrides act the way re-segmentation does: the current phase is announced
    again to every worker, taking over half a heartbeat ahead, so the whole fleet
    switches at one instant and the fleet total never counts twice:
      pause      the phase goes on with no arrivals (rate 0, concurrency 0, users 0), and
                 so does every later phase until `resume`;
      resume     the plan's own load again, on the phase's original global sequence
                 (or the set-rate's, when one is in force);
      set-rate   a flat rate for the rest of the current phase (rate phases only), on a
                 new global sequence that starts at the takeover time.
    The plan's clock keeps running: no phase is extended. Every override is recorded
    (results.json chaos.overrides, the phase's "overridden" flag, the intervals' offered
    rate).
*/
#ifndef SURGE_COORDINATOR_CTL_H
#define SURGE_COORDINATOR_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonw.h"
#include "proto/curve.h"
#include "coordinator/chaos.h"
#include "proto/proto.h"

typedef struct _ctl_t ctl_t;
typedef struct _run_view_t run_view_t;

/* What a ctl command may change in the run, given by the coordinator with each
   ctl_handle. Everything else ctl answers from the read-only view (run_view.h). */
typedef struct {
    chaos_t *chaos; /* the campaign's record: marks, fault windows, overrides (borrowed) */
    /* The current phase is announced again with the overrides in force, taking over half a
       heartbeat ahead (the re-segmentation path); arg is given back. */
    void (*announce_again)(void *arg);
    void *arg;
} ctl_commands_t;

/* Binds the ctl socket. Off loopback it needs CURVE with operator keys (curve set up
   with curve_server_allow_ctl) unless insecure. NULL with a reason in err. */
ctl_t *ctl_new(const char *bind, const curve_server_t *curve, bool insecure, char *err,
               size_t err_size);
void ctl_destroy(ctl_t **self_p);
/* The bound endpoint ("tcp://127.0.0.1:40123"). */
const char *ctl_endpoint(const ctl_t *self);
/* Writes the endpoint to DIR/ctl.endpoint (one line) for scripts, and logs it. */
void ctl_write_endpoint_file(const ctl_t *self, const char *dir);
/* The socket, for the coordinator's poller (a zsock_t). */
void *ctl_socket(ctl_t *self);

/* Answers every request waiting on the socket. state: "waiting", "running", "draining". */
void ctl_handle(ctl_t *self, const run_view_t *run, const ctl_commands_t *commands,
                const char *state, int64_t now_ns);

/* From send_phase: applies the overrides in force to the phase message about to go out. */
void ctl_adjust_phase(ctl_t *self, int index, proto_phase_t *phase);
/* The offered global rate at offset_ns from run_t0 once overrides are applied to the
   plan's `planned` rate for phase `phase`. */
double ctl_rate_at(const ctl_t *self, int64_t offset_ns, int phase, double planned);
/* True when an override touched phase `index` (its verdict inputs are flagged). */
bool ctl_phase_overridden(const ctl_t *self, int index);
/* True once `stop` was asked; the coordinator then ends the run as planned runs end. */
bool ctl_stop_requested(const ctl_t *self);
/* results.json: "ctl": {endpoint, requests, refused, stopped_at_s}. */
void ctl_write_results(const ctl_t *self, jsonw_t *w);

#endif
