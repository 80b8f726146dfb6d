/*  log.c: formats a line into a stack buffer and writes it in one call. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_role = "surge";
static log_level_t log_threshold = LOG_LEVEL_INFO;

void log_set_role(const char *role)
{
    log_role = role ? role : "surge";
}

void log_set_level(log_level_t level)
{
    log_threshold = level;
}

int log_level_parse(const char *text, log_level_t *level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_writev(log_level_t level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_threshold)
        return;
    char line[2048];
    int n = snprintf(line, sizeof line, "surge[%s] %-5s ", log_role, tags[level]);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_writev(level, fmt, ap);
    va_end(ap);
}
