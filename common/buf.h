/*  buf.h: a growable byte buffer, the one used everywhere text or bytes are built.

    A buf_t is a plain struct (embed it or put it on the stack); buf_init() makes it
    empty, buf_free() releases its memory. data is always NUL-terminated so text
    can be passed to C string functions. Growth doubles, so appending is amortised
    O(1) and a reused buffer stops allocating once it has reached its working size.
*/
#ifndef SURGE_BUF_H
#define SURGE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* owned; NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *self);
void buf_free(buf_t *self);
/* Empties the buffer but keeps its memory for reuse. */
void buf_clear(buf_t *self);
void buf_append(buf_t *self, const void *data, size_t len);
void buf_append_str(buf_t *self, const char *text);
void buf_append_char(buf_t *self, char c);
void buf_printf(buf_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *self, const char *fmt, va_list ap);
/* Makes room for `extra` more bytes; returns a pointer to where they go. */
char *buf_reserve(buf_t *self, size_t extra);
/* Hands the memory to the caller (who frees it) and leaves the buffer empty. */
char *buf_take(buf_t *self);

#endif
