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

size_t log_escape(char *out, size_t out_size, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!out_size)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        char esc[8];
        size_t n = 0;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\\') {
            esc[n++] = '\\';
            esc[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\x", 2);
            n = 2;
            esc[n++] = hex[c >> 4];
            esc[n++] = hex[c & 15];
        } else if (c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] >= 0x80 &&
                   (unsigned char)text[i + 1] <= 0x9f) {
            unsigned char c1 = (unsigned char)text[++i];
            memcpy(esc, "\\u00", 4);
            n = 4;
            esc[n++] = hex[c1 >> 4];
            esc[n++] = hex[c1 & 15];
        } else {
            esc[n++] = (char)c;
        }
        if (o + n >= out_size)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

void log_writev(log_level_t level, const char *fmt, va_list ap)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_threshold)
        return;
    char message[2048], line[2048];
    int m = vsnprintf(message, sizeof message, fmt, ap);
    size_t message_len = m < 0 ? 0 : (size_t)m < sizeof message ? (size_t)m : sizeof message - 1;
    int n = snprintf(line, sizeof line, "surge[%s] %-5s ", log_role, tags[level]);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return;
    /* Escaped after formatting: a peer's text in any argument stays on this one line. */
    size_t len =
        (size_t)n + log_escape(line + n, sizeof line - 1 - (size_t)n, message, message_len);
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

#define LOG_THROTTLE_WINDOW_NS 1000000000LL

void log_throttle_flush(log_throttle_t *self, int64_t now_ns, bool force, const char *what)
{
    if (!force && now_ns - self->window_start_ns < LOG_THROTTLE_WINDOW_NS)
        return;
    if (self->suppressed)
        log_warn("%lld more %s in the last %.1f s (not logged one by one)",
                 (long long)self->suppressed, what, (double)(now_ns - self->window_start_ns) / 1e9);
    self->suppressed = 0;
    self->logged = 0;
    self->window_start_ns = now_ns;
}

bool log_throttle_allow(log_throttle_t *self, int64_t now_ns, int per_second, const char *what)
{
    log_throttle_flush(self, now_ns, false, what);
    if (self->logged < per_second) {
        self->logged++;
        return true;
    }
    self->suppressed++;
    return false;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_writev(level, fmt, ap);
    va_end(ap);
}
