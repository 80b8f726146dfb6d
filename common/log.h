/*  log.h: the one logging path.

    Lines go to stderr as `surge[role] LEVEL message`, one write(2) per line so
    lines from several processes sharing a terminal do not interleave mid-line.
    Never log a secret: API keys and CURVE secret keys have no business here
    (docs/security.md).
*/
#ifndef SURGE_LOG_H
#define SURGE_LOG_H

#include <stdarg.h>

typedef enum { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

/* Names the process in every line ("coordinator", "worker-3", "sim"). Borrowed. */
void log_set_role(const char *role);
void log_set_level(log_level_t level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *text, log_level_t *level);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_writev(log_level_t level, const char *fmt, va_list ap);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
