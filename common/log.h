/*  log.h: the one logging path.

    Lines go to stderr as `surge[role] LEVEL message`, one write(2) per line so
    lines from several processes sharing a terminal do not interleave mid-line.
    Never log a secret: API keys and CURVE secret keys have no business here
    (docs/security.md).

    Every line is escaped (log_escape) after it is formatted: text from peers (worker ids,
    mark texts, refusal reasons) cannot start a forged line or send a terminal escape.
*/
#ifndef SURGE_LOG_H
#define SURGE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

/* Names the process in every line ("coordinator", "worker-3", "sim"). Borrowed. */
void log_set_role(const char *role);
void log_set_level(log_level_t level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *text, log_level_t *level);

/* Copies text[0..len) into out (always NUL-terminated, truncated to out_size - 1) with
   control characters escaped: \n, \r, \t, \\ for a backslash, \xNN for the other bytes
   below 0x20 and 0x7f, \u00NN for the C1 controls U+0080..U+009F in UTF-8 (CSI is one).
   Other bytes, UTF-8 included, are kept. Returns the length written. */
size_t log_escape(char *out, size_t out_size, const char *text, size_t len);

/* A throttle for warnings a peer can trigger at will (failed handshakes): at most
   `per_second` lines per second; the ones beyond are counted and reported in one line
   ("N more ... in the last S s") when the second is over. Zero-initialise it. */
typedef struct {
    int64_t window_start_ns;
    int logged;
    int64_t suppressed;
} log_throttle_t;

/* Whether this occurrence may be logged (after a summary of the last window, if any);
   now_ns is any monotonic clock. */
bool log_throttle_allow(log_throttle_t *self, int64_t now_ns, int per_second, const char *what);
/* Logs the summary of a finished window that suppressed some (call now and then, and at
   the end: then pass force). */
void log_throttle_flush(log_throttle_t *self, int64_t now_ns, bool force, const char *what);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_writev(log_level_t level, const char *fmt, va_list ap);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
