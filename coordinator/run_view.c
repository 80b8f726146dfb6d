/*  run_view.c: the coordinator, read-only (see run_view.h). The view is the coordinator
    itself behind an opaque type: every answer is read when asked. */
#include "coordinator/run_view.h"
#include "coordinator/coord_internal.h"

static const coordinator_t *coordinator_of(const run_view_t *self)
{
    return (const coordinator_t *)self;
}

const run_view_t *run_view_of(const coordinator_t *coordinator)
{
    return (const run_view_t *)coordinator;
}

const char *run_view_id(const run_view_t *self)
{
    return coordinator_of(self)->run_id;
}

const char *run_view_out_dir(const run_view_t *self)
{
    return coordinator_of(self)->out_dir;
}

const plan_t *run_view_plan(const run_view_t *self)
{
    return coordinator_of(self)->plan;
}

const char *run_view_ctl_endpoint(const run_view_t *self)
{
    const char *endpoint = coordinator_of(self)->ctl_endpoint;
    return endpoint ? endpoint : "";
}

int64_t run_view_t0_ns(const run_view_t *self)
{
    return coordinator_of(self)->run_t0_ns;
}

int64_t run_view_interval_ns(const run_view_t *self)
{
    return coordinator_of(self)->interval_ns;
}

int64_t run_view_heartbeat_ns(const run_view_t *self)
{
    return coordinator_of(self)->hb_ns;
}

const run_timeline_t *run_view_timeline(const run_view_t *self)
{
    return &coordinator_of(self)->timeline;
}

int run_view_announced_phase(const run_view_t *self)
{
    return coordinator_of(self)->announced_phase;
}

bool run_view_end_known(const run_view_t *self)
{
    return coordinator_of(self)->plan_finished;
}

const merge_totals_t *run_view_merged(const run_view_t *self)
{
    return coordinator_of(self)->merged;
}

int64_t run_view_rejected_messages(const run_view_t *self)
{
    return coordinator_of(self)->rejected_messages;
}

run_view_fleet_t run_view_fleet(const run_view_t *self)
{
    const coordinator_t *c = coordinator_of(self);
    run_view_fleet_t f = {.expected = c->cfg.workers};
    for (int i = 0; i < c->worker_count; i++) {
        const worker_t *w = c->workers[i];
        f.live += w->state == WORKER_LIVE;
        f.lost += w->state == WORKER_DEAD;
        f.left += w->state == WORKER_LEFT;
        f.inflight += w->state == WORKER_LIVE ? w->inflight : 0;
    }
    return f;
}

int run_view_worker_count(const run_view_t *self)
{
    return coordinator_of(self)->worker_count;
}

run_view_worker_t run_view_worker(const run_view_t *self, int index)
{
    const worker_t *w = coordinator_of(self)->workers[index];
    bool live = w->state == WORKER_LIVE;
    return (run_view_worker_t){
        .id = w->id,
        .state = live                      ? "live"
                 : w->state == WORKER_DEAD ? "lost"
                                           : "left",
        .share = live ? w->to - w->from : 0,
        .inflight = live ? w->inflight : 0,
        .requests = w->requests,
    };
}

scrape_t *run_view_scrape(const run_view_t *self)
{
    return coordinator_of(self)->scrape;
}

const chaos_t *run_view_chaos(const run_view_t *self)
{
    return coordinator_of(self)->chaos;
}
