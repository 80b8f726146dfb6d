/*  observe.c: the coordinator's observability hooks (coord_internal.h): it starts and
    stops the targets' scraper (scrape.h) and the live server (live.h), feeds the live
    page on the loop's ticks, and writes results.json "server" and "prometheus"
    (prom_query.h). live.c itself only renders what a read-only view of the run shows.
*/
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/coord_internal.h"
#include "coordinator/prom_query.h"
#include "coordinator/run_view.h"
#include "plan/plan_yaml.h"

int observe_open(coordinator_t *self, char *err, size_t err_size)
{
    const plan_t *plan = self->plan;
    const char *path = plan->extra ? plan->extra->server_metrics_path : NULL;
    if (!path || *path) {
        char why[256];
        self->scrape = scrape_new((const char *const *)plan->target_urls, plan->target_count, path,
                                  why, sizeof why);
        if (!self->scrape) /* a target that cannot be scraped does not stop the run */
            log_warn("server metrics off: %s", why);
    }
    if (self->cfg.metrics_listen) {
        live_config_t cfg = {self->cfg.metrics_listen, self->cfg.live_token_file, self->out_dir};
        self->live = live_new(&cfg, err, err_size);
        if (!self->live)
            return -1;
        const char *token = live_token(self->live);
        if (token && !self->cfg.live_token_file) /* printed once; also in live.token */
            log_info("live page on http://%s/?token=%s (token in %s/live.token; metrics at "
                     "/metrics, figures at /live.json)",
                     live_address(self->live), token, self->out_dir);
        else
            log_info("live page on http://%s/%s (metrics at /metrics, figures at /live.json)",
                     live_address(self->live), token ? " (token: --live-token-file)" : "");
        live_tick(self->live, run_view_of(self), "waiting", clock_now_ns(), true);
    }
    return 0;
}

void observe_close(coordinator_t *self)
{
    scrape_destroy(&self->scrape);
    live_destroy(&self->live);
}

void observe_run_started(coordinator_t *self)
{
    if (self->scrape && scrape_start(self->scrape, self->run_t0_ns, self->interval_ns) != 0) {
        log_warn("server metrics off: cannot start the scraper thread");
        scrape_destroy(&self->scrape);
    }
}

void observe_tick(coordinator_t *self, const char *state, int64_t now_ns)
{
    live_tick(self->live, run_view_of(self), state, now_ns, false);
}

void observe_run_finished(coordinator_t *self)
{
    if (!self->live)
        return;
    live_finished(self->live, run_view_of(self));
    /* A Prometheus scrape after the end sees the final totals; Ctrl-C cuts it short. */
    int64_t until = clock_now_ns() + self->cfg.metrics_linger_ms * NS_PER_MS;
    while (clock_now_ns() < until && !self->stop_requested)
        clock_sleep_until_ns(
            clock_now_ns() + 50 * NS_PER_MS < until ? clock_now_ns() + 50 * NS_PER_MS : until);
}

void observe_write_results(coordinator_t *self, jsonw_t *w)
{
    if (self->scrape) /* the targets' own figures over the run, scrape errors included */
        scrape_write_summary(self->scrape, w);
    const plan_extra_t *x = self->plan->extra;
    const char *url = self->cfg.prometheus_url ? self->cfg.prometheus_url
                      : x                      ? x->prometheus_url
                                               : NULL;
    if (!url || !self->start_wall_ns)
        return; /* no server, or the run never started */
    bool planned = x && x->prometheus_query_count > 0;
    prom_query_config_t q = {
        .url = url,
        .names = planned ? (const char *const *)x->prometheus_names : prom_query_default_names,
        .exprs = planned ? (const char *const *)x->prometheus_exprs : prom_query_default_exprs,
        .count = planned ? x->prometheus_query_count : prom_query_default_count,
        .start_wall_ns = self->start_wall_ns,
        .end_wall_ns = self->start_wall_ns + self->merged->next_close * self->interval_ns,
        .run_t0_wall_ns = self->start_wall_ns,
        .step_ms =
            x && x->prometheus_step_ms > 0 ? x->prometheus_step_ms : self->interval_ns / NS_PER_MS,
    };
    log_info("prometheus: %d range queries to %s", q.count, url);
    prom_query_write(&q, w);
}
