/*  idle.h: whether an engine thread polls or sleeps when nothing is due this instant.

    Sleeping (epoll_wait with a timeout, the timerfd for the next arrival) costs a
    context switch and the kernel's wake-up latency on every arrival and every answer:
    at 12,000 streaming requests/s on one thread, 3 context switches per request and
    ~40% of the thread's CPU in the scheduler, and the wake-up delay lands in every lag
    and every timestamp. Polling (epoll_wait with timeout 0) has neither, and burns the
    core while it waits.

    ENGINE_IDLE_AUTO polls only while the thread is busy anyway: it measures the fraction
    of wall time spent doing work (turns of the loop that sent or read something, timed
    in the thread: the kernel's sleep and wake-up are not in it, so it reads low) over
    windows of IDLE_WINDOW_NS, starts polling when a window was at least IDLE_POLL_ENTER
    busy and stops when one is below IDLE_POLL_LEAVE. One thread against an instant
    target measured 0.25 busy at 10,000 streaming requests/s (sleeping: 1-2 ms lag P99)
    and 0.11 at 5,000 (polling), so it polls from ~12,000/s up and sleeps again below
    ~6,500/s. Even then it only polls while an answer is in flight or an arrival is due
    within IDLE_HORIZON_NS, and yields the core after each empty poll. A lightly loaded
    thread sleeps exactly as before.
    ENGINE_IDLE_SLEEP never polls (CPU-limited containers, shared cores).
    ENGINE_IDLE_POLL polls whenever it would poll in AUTO's busy state (dedicated cores).

    Pure: the caller supplies every time; tests/worker/test_idle.c drives it.
*/
#ifndef SURGE_WORKER_IDLE_H
#define SURGE_WORKER_IDLE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { ENGINE_IDLE_AUTO = 0, ENGINE_IDLE_SLEEP, ENGINE_IDLE_POLL } engine_idle_t;

#define IDLE_WINDOW_NS  (10 * 1000000LL) /* utilisation measured over 10 ms */
#define IDLE_POLL_ENTER 0.3              /* busy fraction that turns polling on */
#define IDLE_POLL_LEAVE 0.15             /* ... and off */
#define IDLE_HORIZON_NS (1 * 1000000LL)  /* poll for arrivals due this soon */

typedef struct {
    engine_idle_t mode;
    int64_t window_start_ns, work_ns;
    bool busy; /* the last window's verdict */
    int64_t windows, busy_windows;
} idle_t;

void idle_init(idle_t *self, engine_idle_t mode, int64_t now_ns);
/* A turn of the loop that sent or read something took work_ns. */
void idle_add_work(idle_t *self, int64_t work_ns);
/* About to wait until wake_ns (INT64_MAX: no deadline) with `inflight` answers pending:
   true to poll (epoll_wait timeout 0), false to sleep. */
bool idle_should_poll(idle_t *self, int64_t now_ns, int64_t wake_ns, bool inflight);
/* "auto", "sleep", "poll" -> mode; false if unknown. */
bool idle_mode_parse(const char *text, engine_idle_t *out);
const char *idle_mode_name(engine_idle_t mode);

#endif
