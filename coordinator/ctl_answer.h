/*  ctl_answer.h: how `surge ctl` prints a coordinator's answer (the ctl_reply's JSON
    body) for a person. The body comes from the other end of a socket, so it is outside
    input: any JSON prints without a crash, an absent or mistyped field prints as "?" (a
    number as "nan"), and control characters in its strings (newlines, terminal escapes)
    print as '?', so an answer cannot forge lines or drive the operator's terminal. */
#ifndef SURGE_COORDINATOR_CTL_ANSWER_H
#define SURGE_COORDINATOR_CTL_ANSWER_H

#include <jansson.h>
#include <stdio.h>

/* Prints the answer to `command` (status, mark, mark-start, mark-end, stop, pause,
   resume, set-rate) to out. body may be any JSON value, or NULL. */
void ctl_answer_print(FILE *out, const char *command, const json_t *body);

#endif
