/*  buf.c: growable byte buffer. Allocation failure aborts: a load generator that
    cannot allocate a few KiB has no honest way to go on measuring. */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *self)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void buf_free(buf_t *self)
{
    free(self->data);
    buf_init(self);
}

void buf_clear(buf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

char *buf_reserve(buf_t *self, size_t extra)
{
    size_t need = self->len + extra + 1;
    if (need > self->cap) {
        size_t cap = self->cap ? self->cap : 64;
        while (cap < need)
            cap *= 2;
        char *data = realloc(self->data, cap);
        if (!data) {
            fputs("surge: out of memory\n", stderr);
            abort();
        }
        self->data = data;
        self->cap = cap;
    }
    return self->data + self->len;
}

void buf_append(buf_t *self, const void *data, size_t len)
{
    char *at = buf_reserve(self, len);
    if (len)
        memcpy(at, data, len);
    self->len += len;
    self->data[self->len] = '\0';
}

void buf_append_str(buf_t *self, const char *text)
{
    buf_append(self, text, strlen(text));
}

void buf_append_char(buf_t *self, char c)
{
    buf_append(self, &c, 1);
}

void buf_vprintf(buf_t *self, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    char probe[256];
    int n = vsnprintf(probe, sizeof probe, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n < sizeof probe) {
        buf_append(self, probe, (size_t)n);
        return;
    }
    char *at = buf_reserve(self, (size_t)n);
    vsnprintf(at, (size_t)n + 1, fmt, ap);
    self->len += (size_t)n;
}

void buf_printf(buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(self, fmt, ap);
    va_end(ap);
}

char *buf_take(buf_t *self)
{
    char *data = self->data;
    if (!data)
        data = calloc(1, 1);
    buf_init(self);
    return data;
}
