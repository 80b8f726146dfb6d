/*  ctl_watch.h: `surge ctl watch`, the run as a compact dashboard redrawn in a terminal
    (docs/live.md), from the coordinator's ctl `status` answer once a second. */
#ifndef SURGE_CLI_CTL_WATCH_H
#define SURGE_CLI_CTL_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Asks for the status: SURGE_EXIT_OK with a new reference in *status, else the exit code
   (the reason already printed). */
typedef int (*ctl_watch_fetch_fn)(void *ctx, json_t **status);

/* Redraws every every_ms until the run is over (0), Ctrl-C, or no answer three times in a
   row (the fetch's code). On a terminal the frame replaces the last one; otherwise frames
   follow each other. */
int ctl_watch(ctl_watch_fetch_fn fetch, void *ctx, int64_t every_ms, FILE *out, bool tty);

/* One frame of the dashboard for a status document, width columns at most per line. */
void ctl_watch_frame(const json_t *status, int width, char *out, size_t size);

#endif
