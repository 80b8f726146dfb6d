/*  sim_faults.h: the faults a simulated node can be told to have, for chaos tests.

    Each kind has at most one active window [start_ns, end_ns) on the monotonic clock;
    setting a kind again replaces its window. The server asks sim_faults_active() where
    the fault bites (accept, request arrival, step timing, token delivery) and counts
    the requests it hit, so /metrics shows both the state and the damage.
*/
#ifndef SURGE_SIM_FAULTS_H
#define SURGE_SIM_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "simulator/sim.h"

#define SIM_FAULT_FOREVER INT64_MAX

typedef struct {
    bool set;
    int64_t start_ns;
    int64_t end_ns; /* SIM_FAULT_FOREVER: until cleared */
    double factor;
    double fraction;
    int64_t injected_total; /* times this kind was set */
    int64_t hits_total;     /* requests (or steps, for slow/stall) it affected */
} sim_fault_state_t;

typedef struct {
    sim_fault_state_t kinds[SIM_FAULT_KIND_COUNT];
} sim_faults_t;

/* The spec of a POST /admin/fault body ({"kind": "slow", "duration_s": 5, "factor": 3,
   "start_s": 0, "fraction": 1}; unset fields get sim_fault_spec_parse's defaults). 0, or -1
   with the reason (the 400's text) in err; the values are checked by sim_faults_set. */
int sim_fault_spec_from_json(const json_t *root, sim_fault_spec_t *spec, char *err,
                             size_t err_size);

void sim_faults_init(sim_faults_t *self);
/* Arms a fault `spec->start_s` from now_ns. -1 with a reason for an invalid spec. */
int sim_faults_set(sim_faults_t *self, const sim_fault_spec_t *spec, int64_t now_ns, char *err,
                   size_t err_size);
/* Clears one kind, or every kind when kind < 0. */
void sim_faults_clear(sim_faults_t *self, int kind);
bool sim_faults_active(const sim_faults_t *self, sim_fault_kind_t kind, int64_t now_ns);
/* The state of a kind (its factor, fraction, counters). */
sim_fault_state_t *sim_faults_get(sim_faults_t *self, sim_fault_kind_t kind);

/* {"faults":[{"kind":"slow","active":true,"starts_in_s":0,"remaining_s":3.2,...}]} */
void sim_faults_write_json(const sim_faults_t *self, jsonw_t *w, int64_t now_ns);
/* surge_sim_fault_active{kind=...}, surge_sim_faults_injected_total, surge_sim_fault_hits_total. */
void sim_faults_write_metrics(const sim_faults_t *self, buf_t *out, int64_t now_ns);

#endif
