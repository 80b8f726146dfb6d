/*  jsonw.c: JSON text builder. */
#include "common/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

void jsonw_init(jsonw_t *self, buf_t *out)
{
    memset(self, 0, sizeof *self);
    self->out = out;
    self->first[0] = true;
}

/* Writes the comma that separates this value from the previous one, if any. */
static void jsonw_separate(jsonw_t *self)
{
    if (self->after_key) {
        self->after_key = false;
        return;
    }
    if (!self->first[self->depth])
        buf_append_char(self->out, ',');
    self->first[self->depth] = false;
}

static void jsonw_open(jsonw_t *self, char c)
{
    jsonw_separate(self);
    buf_append_char(self->out, c);
    if (self->depth + 1 >= JSONW_MAX_DEPTH) {
        log_error("jsonw: nesting deeper than %d", JSONW_MAX_DEPTH);
        return;
    }
    self->depth++;
    self->first[self->depth] = true;
}

static void jsonw_close(jsonw_t *self, char c)
{
    buf_append_char(self->out, c);
    if (self->depth > 0)
        self->depth--;
}

void jsonw_object_begin(jsonw_t *self)
{
    jsonw_open(self, '{');
}

void jsonw_object_end(jsonw_t *self)
{
    jsonw_close(self, '}');
}

void jsonw_array_begin(jsonw_t *self)
{
    jsonw_open(self, '[');
}

void jsonw_array_end(jsonw_t *self)
{
    jsonw_close(self, ']');
}

void jsonw_key(jsonw_t *self, const char *key)
{
    jsonw_separate(self);
    buf_append_char(self->out, '"');
    json_escape_into(self->out, key, strlen(key));
    buf_append(self->out, "\":", 2);
    self->after_key = true;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), 0 if invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned int cp;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1F;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0F;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

void json_escape_into(buf_t *out, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            buf_append_char(out, '\\');
            buf_append_char(out, (char)c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                buf_append(out, "\\n", 2);
                break;
            case '\r':
                buf_append(out, "\\r", 2);
                break;
            case '\t':
                buf_append(out, "\\t", 2);
                break;
            default:
                buf_printf(out, "\\u%04x", c);
                break;
            }
            i++;
        } else if (c < 0x80) {
            size_t run = i;
            while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
                run++;
            buf_append(out, text + i, run - i);
            i = run;
        } else {
            size_t n = utf8_sequence_length(s + i, len - i);
            if (n == 0) {
                buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                buf_append(out, text + i, n);
                i += n;
            }
        }
    }
}

void jsonw_string_len(jsonw_t *self, const char *text, size_t len)
{
    jsonw_separate(self);
    buf_append_char(self->out, '"');
    json_escape_into(self->out, text, len);
    buf_append_char(self->out, '"');
}

void jsonw_string(jsonw_t *self, const char *text)
{
    if (!text) {
        jsonw_null(self);
        return;
    }
    jsonw_string_len(self, text, strlen(text));
}

void jsonw_int(jsonw_t *self, int64_t value)
{
    jsonw_separate(self);
    buf_printf(self->out, "%lld", (long long)value);
}

void jsonw_double(jsonw_t *self, double value)
{
    if (!isfinite(value)) {
        jsonw_null(self);
        return;
    }
    jsonw_separate(self);
    char text[64];
    int n;
    if (value != 0 && (fabs(value) >= 1e15 || fabs(value) < 1e-6))
        n = snprintf(text, sizeof text, "%.9g", value);
    else {
        n = snprintf(text, sizeof text, "%.6f", value);
        while (n > 1 && text[n - 1] == '0')
            text[--n] = '\0';
        if (n > 1 && text[n - 1] == '.')
            text[--n] = '\0';
        if (strcmp(text, "-0") == 0)
            n = snprintf(text, sizeof text, "0");
    }
    buf_append(self->out, text, (size_t)n);
}

void jsonw_bool(jsonw_t *self, bool value)
{
    jsonw_separate(self);
    buf_append_str(self->out, value ? "true" : "false");
}

void jsonw_null(jsonw_t *self)
{
    jsonw_separate(self);
    buf_append(self->out, "null", 4);
}

void jsonw_raw(jsonw_t *self, const char *json)
{
    jsonw_separate(self);
    buf_append_str(self->out, json);
}

void jsonw_kv_string(jsonw_t *self, const char *key, const char *text)
{
    jsonw_key(self, key);
    jsonw_string(self, text);
}

void jsonw_kv_int(jsonw_t *self, const char *key, int64_t value)
{
    jsonw_key(self, key);
    jsonw_int(self, value);
}

void jsonw_kv_double(jsonw_t *self, const char *key, double value)
{
    jsonw_key(self, key);
    jsonw_double(self, value);
}

void jsonw_kv_bool(jsonw_t *self, const char *key, bool value)
{
    jsonw_key(self, key);
    jsonw_bool(self, value);
}
