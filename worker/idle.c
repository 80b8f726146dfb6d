/*  idle.c: poll or sleep (see idle.h). */
#include "worker/idle.h"

#include <string.h>

void idle_init(idle_t *self, engine_idle_t mode, int64_t now_ns)
{
    memset(self, 0, sizeof *self);
    self->mode = mode;
    self->window_start_ns = now_ns;
}

void idle_add_work(idle_t *self, int64_t work_ns)
{
    if (work_ns > 0)
        self->work_ns += work_ns;
}

bool idle_should_poll(idle_t *self, int64_t now_ns, int64_t wake_ns, bool inflight)
{
    int64_t elapsed = now_ns - self->window_start_ns;
    if (elapsed >= IDLE_WINDOW_NS) {
        double busy = (double)self->work_ns / (double)elapsed;
        self->busy = busy >= (self->busy ? IDLE_POLL_LEAVE : IDLE_POLL_ENTER);
        self->windows++;
        self->busy_windows += self->busy;
        self->window_start_ns = now_ns;
        self->work_ns = 0;
    } else if (elapsed < 0) {
        self->window_start_ns = now_ns; /* never: the clock is monotonic */
    }
    bool hot = self->mode == ENGINE_IDLE_POLL || (self->mode == ENGINE_IDLE_AUTO && self->busy);
    if (!hot)
        return false;
    return inflight || (wake_ns != INT64_MAX && wake_ns - now_ns < IDLE_HORIZON_NS);
}

bool idle_mode_parse(const char *text, engine_idle_t *out)
{
    static const char *const names[] = {"auto", "sleep", "poll"};
    for (int i = 0; i < 3; i++) {
        if (text && strcmp(text, names[i]) == 0) {
            *out = (engine_idle_t)i;
            return true;
        }
    }
    return false;
}

const char *idle_mode_name(engine_idle_t mode)
{
    return mode == ENGINE_IDLE_SLEEP ? "sleep" : mode == ENGINE_IDLE_POLL ? "poll" : "auto";
}
