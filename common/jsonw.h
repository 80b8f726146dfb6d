/*  jsonw.h: the one JSON writer.

    Builds JSON text into a buf_t with commas and escaping handled for you:

        jsonw_t w;  jsonw_init(&w, &out);
        jsonw_object_begin(&w);
          jsonw_key(&w, "ttft_ms"); jsonw_object_begin(&w);
            jsonw_key(&w, "p99"); jsonw_double(&w, 451.2);
          jsonw_object_end(&w);
        jsonw_object_end(&w);

    Non-finite doubles are written as null (JSON has no NaN). Strings are escaped
    per RFC 8259; invalid UTF-8 bytes are replaced with U+FFFD so the output is
    always valid JSON whatever a server sent us. Nesting is limited to
    JSONW_MAX_DEPTH levels; deeper begins are ignored (a programming error, logged).
*/
#ifndef SURGE_JSONW_H
#define SURGE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define JSONW_MAX_DEPTH 32

typedef struct {
    buf_t *out;                  /* borrowed */
    int depth;                   /* current nesting */
    bool first[JSONW_MAX_DEPTH]; /* no element written yet at this level */
    bool after_key;              /* a key was written; its value comes next */
} jsonw_t;

void jsonw_init(jsonw_t *self, buf_t *out);
void jsonw_object_begin(jsonw_t *self);
void jsonw_object_end(jsonw_t *self);
void jsonw_array_begin(jsonw_t *self);
void jsonw_array_end(jsonw_t *self);
void jsonw_key(jsonw_t *self, const char *key);
void jsonw_string(jsonw_t *self, const char *text);
void jsonw_string_len(jsonw_t *self, const char *text, size_t len);
void jsonw_int(jsonw_t *self, int64_t value);
/* Writes with up to 6 significant decimals after the point, trimmed ("1.5", "0.000123"). */
void jsonw_double(jsonw_t *self, double value);
void jsonw_bool(jsonw_t *self, bool value);
void jsonw_null(jsonw_t *self);
/* Inserts already-valid JSON text as one value. */
void jsonw_raw(jsonw_t *self, const char *json);

/* Convenience: key + value in one call. */
void jsonw_kv_string(jsonw_t *self, const char *key, const char *text);
void jsonw_kv_int(jsonw_t *self, const char *key, int64_t value);
void jsonw_kv_double(jsonw_t *self, const char *key, double value);
void jsonw_kv_bool(jsonw_t *self, const char *key, bool value);

/* Appends `len` bytes of `text` to `out` as the inside of a JSON string (no quotes). */
void json_escape_into(buf_t *out, const char *text, size_t len);

#endif
