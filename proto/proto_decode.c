/*  proto_decode.c: msgpack -> proto_msg_t, strictly (see proto.h, docs/protocol.md).

    Two passes. structure_check() walks the raw bytes first: exactly one object, no
    trailing bytes, nesting at most PROTO_MAX_DEPTH, no map over PROTO_MAX_MAP_KEYS,
    and no container claiming more elements than there are bytes left (each element
    takes at least one byte). Only then does msgpack-c unpack it, so a 5-byte message
    announcing a 4-billion-element array cannot make it allocate 100 GB. The second
    pass reads fields through getters that keep the first error (sticky) so each
    message decoder reads top to bottom.
*/
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/histogram.h"
#include "common/limits.h"
#include "proto/proto.h"
#include "proto/proto_fields.h"

/* ---- pass 1: structure ---------------------------------------------------------- */

static uint64_t read_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walks the one object that starts at data[0]; *end_out is where it ends. Returns
   PROTO_OK or an error with a reason. */
static int object_walk(const unsigned char *data, size_t len, size_t *end_out, char *err,
                       size_t err_size)
{
    uint64_t pending[PROTO_MAX_DEPTH + 1]; /* elements still expected at each level */
    int depth = 0;
    pending[0] = 1;
    size_t pos = 0;
    uint64_t objects = 0;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (++objects > PROTO_MAX_ELEMENTS) {
            snprintf(err, err_size, "more than %d msgpack objects", PROTO_MAX_ELEMENTS);
            return PROTO_ERR_OVERSIZE;
        }
        if (pos >= len) {
            snprintf(err, err_size, "truncated msgpack at byte %zu", pos);
            return PROTO_ERR_MALFORMED;
        }
        unsigned char b = data[pos++];
        uint64_t skip = 0, children = 0;
        bool is_map = false;
        int size_bytes = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            children = b & 0x0f;
            is_map = true;
        } else if (b >= 0x90 && b <= 0x9f) {
            children = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                size_bytes = 1;
                break; /* bin8, str8 */
            case 0xc5:
            case 0xda:
                size_bytes = 2;
                break;
            case 0xc6:
            case 0xdb:
                size_bytes = 4;
                break;
            case 0xc7:
                size_bytes = 1;
                skip = 1;
                break; /* ext: + type byte */
            case 0xc8:
                size_bytes = 2;
                skip = 1;
                break;
            case 0xc9:
                size_bytes = 4;
                skip = 1;
                break;
            case 0xca:
                skip = 4;
                break;
            case 0xcb:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xde:
                size_bytes = 2;
                break;
            case 0xdd:
            case 0xdf:
                size_bytes = 4;
                break;
            default:
                snprintf(err, err_size, "invalid msgpack byte 0x%02x at %zu", b, pos - 1);
                return PROTO_ERR_MALFORMED;
            }
            if (size_bytes) {
                if (len - pos < (size_t)size_bytes) {
                    snprintf(err, err_size, "truncated msgpack at byte %zu", pos);
                    return PROTO_ERR_MALFORMED;
                }
                uint64_t n = read_be(data + pos, size_bytes);
                pos += (size_t)size_bytes;
                if (b >= 0xdc && b <= 0xdf) {
                    children = n;
                    is_map = b >= 0xde;
                } else {
                    skip += n;
                }
            }
        }
        if (skip > len - pos) {
            snprintf(err, err_size, "truncated msgpack: %llu bytes announced at byte %zu, %zu left",
                     (unsigned long long)skip, pos, len - pos);
            return PROTO_ERR_MALFORMED;
        }
        pos += (size_t)skip;
        if (is_map && children > PROTO_MAX_MAP_KEYS) {
            snprintf(err, err_size, "map of %llu keys (cap %d)", (unsigned long long)children,
                     PROTO_MAX_MAP_KEYS);
            return PROTO_ERR_OVERSIZE;
        }
        if (is_map)
            children *= 2;
        if (children) {
            if (children > len - pos) {
                snprintf(err, err_size,
                         "truncated msgpack: %llu elements announced, %zu bytes left",
                         (unsigned long long)children, len - pos);
                return PROTO_ERR_MALFORMED;
            }
            if (depth + 1 > PROTO_MAX_DEPTH) {
                snprintf(err, err_size, "nesting deeper than %d", PROTO_MAX_DEPTH);
                return PROTO_ERR_MALFORMED;
            }
            pending[++depth] = children;
        }
    }
    *end_out = pos;
    return PROTO_OK;
}

/* Returns PROTO_OK or an error with a reason. */
static int structure_check(const unsigned char *data, size_t len, char *err, size_t err_size)
{
    size_t pos = 0;
    int status = object_walk(data, len, &pos, err, err_size);
    if (status != PROTO_OK)
        return status;
    if (pos != len) {
        snprintf(err, err_size, "%zu trailing bytes after the message", len - pos);
        return PROTO_ERR_MALFORMED;
    }
    return PROTO_OK;
}

/* The string whose msgpack encoding is exactly data[0..len); false when it is another type. */
static bool raw_str(const unsigned char *data, size_t len, const unsigned char **str, size_t *n)
{
    size_t head = data[0] >= 0xa0 && data[0] <= 0xbf ? 1
                  : data[0] == 0xd9                  ? 2
                  : data[0] == 0xda                  ? 3
                  : data[0] == 0xdb                  ? 5
                                                     : 0;
    if (!head || head > len)
        return false;
    *str = data + head;
    *n = len - head;
    return true;
}

/* The integer whose msgpack encoding is exactly data[0..len); false when it is not one. */
static bool raw_int(const unsigned char *data, size_t len, int64_t *value)
{
    unsigned char b = data[0];
    if (b <= 0x7f || b >= 0xe0) {
        *value = (int8_t)b;
        return true;
    }
    if (b >= 0xcc && b <= 0xd3 && len > 1) {
        uint64_t v = read_be(data + 1, (int)(len - 1));
        bool is_signed = b >= 0xd0;
        int bits = (int)(len - 1) * 8;
        if (is_signed && bits < 64 && (v >> (bits - 1)) & 1)
            v |= ~0ULL << bits; /* sign-extend */
        if (!is_signed && v > (uint64_t)INT64_MAX)
            return false;
        *value = (int64_t)v;
        return true;
    }
    return false;
}

int proto_peek_type(const void *data, size_t len, proto_type_t *type)
{
    *type = PROTO_TYPE_COUNT;
    char err[128];
    if (len > PROTO_MAX_MESSAGE_BYTES)
        return PROTO_ERR_OVERSIZE;
    int status = structure_check(data, len, err, sizeof err);
    if (status != PROTO_OK)
        return status;
    const unsigned char *p = data;
    size_t pos;
    uint64_t pairs;
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        pairs = p[0] & 0x0f;
        pos = 1;
    } else if (p[0] == 0xde || p[0] == 0xdf) {
        pos = p[0] == 0xde ? 3 : 5; /* structure_check saw the size bytes */
        pairs = read_be(p + 1, (int)pos - 1);
    } else {
        return PROTO_ERR_NOT_MAP;
    }
    int64_t version = -1;
    bool have_type = false;
    for (uint64_t i = 0; i < pairs; i++) {
        size_t key_len = 0, value_len = 0;
        object_walk(p + pos, len - pos, &key_len, err, sizeof err); /* cannot fail now */
        const unsigned char *key, *text;
        size_t key_n, text_n;
        bool is_str = raw_str(p + pos, key_len, &key, &key_n);
        pos += key_len;
        object_walk(p + pos, len - pos, &value_len, err, sizeof err);
        if (is_str && key_n == 1 && key[0] == 't' && !have_type) {
            have_type = true;
            if (!raw_str(p + pos, value_len, &text, &text_n))
                return PROTO_ERR_WRONG_TYPE;
            for (int t = 0; t < PROTO_TYPE_COUNT; t++) {
                if (strlen(proto_type_names[t]) == text_n &&
                    memcmp(proto_type_names[t], text, text_n) == 0)
                    *type = (proto_type_t)t;
            }
        } else if (is_str && key_n == 1 && key[0] == 'v' && version < 0) {
            if (!raw_int(p + pos, value_len, &version) || version < 0)
                return PROTO_ERR_WRONG_TYPE;
        }
        pos += value_len;
    }
    if (!have_type || version < 0)
        return PROTO_ERR_MISSING;
    if (*type == PROTO_TYPE_COUNT)
        return PROTO_ERR_UNKNOWN_TYPE;
    return version == PROTO_VERSION ? PROTO_OK : PROTO_ERR_VERSION;
}

/* ---- pass 2: fields ------------------------------------------------------------- */

typedef struct {
    int status; /* first error, sticky */
    char *err;
    size_t err_size;
    const char *where;     /* "total", "targets[3]", or "" */
    int64_t counters_left; /* histogram counters this message may still decode to */
} dec_t;

static void fail(dec_t *d, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(dec_t *d, int status, const char *fmt, ...)
{
    if (d->status != PROTO_OK)
        return;
    d->status = status;
    if (!d->err || !d->err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->err_size, fmt, ap);
    va_end(ap);
}

static bool key_is(const msgpack_object *key, const char *name)
{
    size_t n = strlen(name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
           memcmp(key->via.str.ptr, name, n) == 0;
}

/* The value of `key` in map (first occurrence), NULL when absent (an error if required). */
static const msgpack_object *find(dec_t *d, const msgpack_object *map, const char *key,
                                  bool required)
{
    if (d->status != PROTO_OK)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    }
    if (required)
        fail(d, PROTO_ERR_MISSING, "missing field %s%s%s", d->where, *d->where ? "." : "", key);
    return NULL;
}

static const char *type_word(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    default:
        return "ext";
    }
}

static void wrong_type(dec_t *d, const char *key, const char *want, const msgpack_object *o)
{
    fail(d, PROTO_ERR_WRONG_TYPE, "field %s%s%s: want %s, got %s", d->where, *d->where ? "." : "",
         key, want, type_word(o));
}

static int64_t get_i64(dec_t *d, const msgpack_object *map, const char *key, bool required,
                       int64_t min, int64_t max, int64_t dflt)
{
    const msgpack_object *o = find(d, map, key, required);
    if (!o)
        return dflt;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            fail(d, PROTO_ERR_BAD_VALUE, "field %s: %llu out of range", key,
                 (unsigned long long)o->via.u64);
            return dflt;
        }
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        wrong_type(d, key, "int", o);
        return dflt;
    }
    if (v < min || v > max) {
        fail(d, PROTO_ERR_BAD_VALUE, "field %s%s%s: %lld outside [%lld, %lld]", d->where,
             *d->where ? "." : "", key, (long long)v, (long long)min, (long long)max);
        return dflt;
    }
    return v;
}

static uint64_t get_u64(dec_t *d, const msgpack_object *map, const char *key, bool required)
{
    const msgpack_object *o = find(d, map, key, required);
    if (!o)
        return 0;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            fail(d, PROTO_ERR_BAD_VALUE, "field %s: negative", key);
        else
            wrong_type(d, key, "unsigned int", o);
        return 0;
    }
    return o->via.u64;
}

static double get_f64(dec_t *d, const msgpack_object *map, const char *key, bool required,
                      double min, double max, double dflt)
{
    const msgpack_object *o = find(d, map, key, required);
    if (!o)
        return dflt;
    double v;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = (double)o->via.i64;
    else {
        wrong_type(d, key, "number", o);
        return dflt;
    }
    if (!(v >= min && v <= max)) { /* also refuses NaN */
        fail(d, PROTO_ERR_BAD_VALUE, "field %s: %g outside [%g, %g]", key, v, min, max);
        return dflt;
    }
    return v;
}

static bool get_bool(dec_t *d, const msgpack_object *map, const char *key, bool required, bool dflt)
{
    const msgpack_object *o = find(d, map, key, required);
    if (!o)
        return dflt;
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        wrong_type(d, key, "bool", o);
        return dflt;
    }
    return o->via.boolean;
}

/* Copies a str object into a new NUL-terminated string; refuses NUL bytes inside. */
static char *copy_str(dec_t *d, const char *key, const msgpack_object *o, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        wrong_type(d, key, "str", o);
        return NULL;
    }
    if (o->via.str.size > cap) {
        fail(d, PROTO_ERR_OVERSIZE, "field %s: string of %u bytes (cap %zu)", key, o->via.str.size,
             cap);
        return NULL;
    }
    if (memchr(o->via.str.ptr, 0, o->via.str.size)) {
        fail(d, PROTO_ERR_BAD_VALUE, "field %s: NUL byte in string", key);
        return NULL;
    }
    char *s = malloc(o->via.str.size + 1);
    if (!s) {
        fail(d, PROTO_ERR_OVERSIZE, "field %s: out of memory", key);
        return NULL;
    }
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static char *get_str(dec_t *d, const msgpack_object *map, const char *key, bool required,
                     size_t cap)
{
    const msgpack_object *o = find(d, map, key, required);
    if (!o)
        return required ? NULL : strdup("");
    return copy_str(d, key, o, cap);
}

static char **get_str_array(dec_t *d, const msgpack_object *map, const char *key, int *count_out,
                            int max_count, size_t item_cap)
{
    *count_out = 0;
    const msgpack_object *o = find(d, map, key, true);
    if (!o)
        return NULL;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, key, "array", o);
        return NULL;
    }
    if (o->via.array.size > (uint32_t)max_count) {
        fail(d, PROTO_ERR_OVERSIZE, "field %s: %u items (cap %d)", key, o->via.array.size,
             max_count);
        return NULL;
    }
    char **items = calloc(o->via.array.size + 1, sizeof *items);
    if (!items)
        return NULL;
    for (uint32_t i = 0; i < o->via.array.size && d->status == PROTO_OK; i++) {
        items[i] = copy_str(d, key, &o->via.array.ptr[i], item_cap);
        if (items[i])
            (*count_out)++;
    }
    return items;
}

static void free_str_array(char **items, int count)
{
    if (!items)
        return;
    for (int i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

static const msgpack_object *get_map(dec_t *d, const msgpack_object *map, const char *key,
                                     bool required)
{
    const msgpack_object *o = find(d, map, key, required);
    if (o && o->type != MSGPACK_OBJECT_MAP) {
        wrong_type(d, key, "map", o);
        return NULL;
    }
    return o;
}

/* An enum by name: a str of at most f->max bytes that f->enum_parse knows. */
static int get_enum(dec_t *d, const msgpack_object *map, const proto_field_t *f)
{
    char *name = get_str(d, map, f->key, f->required, (size_t)f->max);
    int value = d->status == PROTO_OK ? f->enum_parse(name) : 0;
    if (value < 0) {
        char known[128] = "";
        for (int i = 0, len = 0; strcmp(f->enum_name(i), "?") != 0 && len < (int)sizeof known; i++)
            len += snprintf(known + len, sizeof known - (size_t)len, "%s%s", i ? ", " : "",
                            f->enum_name(i));
        fail(d, PROTO_ERR_BAD_VALUE, "field %s%s%s: unknown '%s' (%s)", d->where,
             *d->where ? "." : "", f->key, name, known);
        value = 0;
    }
    free(name);
    return value;
}

/* Reads every field of the table into the struct at base, with the table's rules (the
   first error sticks; later fields are then left at their defaults). */
static void decode_fields(dec_t *d, const msgpack_object *map, const proto_field_t *fields,
                          size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const proto_field_t *f = &fields[i];
        char *at = (char *)base + f->offset;
        bool required = f->required && !f->omit_empty;
        switch (f->type) {
        case PROTO_FIELD_INT:
            *(int *)at = (int)get_i64(d, map, f->key, required, f->min, f->max, (int64_t)f->dflt);
            break;
        case PROTO_FIELD_I64:
            *(int64_t *)at = get_i64(d, map, f->key, required, f->min, f->max, (int64_t)f->dflt);
            break;
        case PROTO_FIELD_U64:
            *(uint64_t *)at = get_u64(d, map, f->key, required);
            break;
        case PROTO_FIELD_F64:
            *(double *)at = get_f64(d, map, f->key, required, f->fmin, f->fmax, f->dflt);
            break;
        case PROTO_FIELD_BOOL:
            *(bool *)at = get_bool(d, map, f->key, required, f->dflt != 0);
            break;
        case PROTO_FIELD_STR:
            *(char **)at = get_str(d, map, f->key, required, (size_t)f->max);
            break;
        case PROTO_FIELD_STR_ARRAY:
            if (required || find(d, map, f->key, false))
                *(char ***)at =
                    get_str_array(d, map, f->key, (int *)((char *)base + f->count_offset),
                                  f->max_items, (size_t)f->max);
            break;
        case PROTO_FIELD_ENUM:
            *(int *)at = get_enum(d, map, f);
            break;
        }
    }
}

#define DECODE_FIELDS(d, map, table, base)                                                         \
    decode_fields(d, map, table, PROTO_FIELD_COUNT(table), base)

/* ---- metrics ----------------------------------------------------------------------- */

/* digits: the layout the sender must use (PROTO_TOTAL_DIGITS or PROTO_TARGET_DIGITS). */
static metrics_t *decode_metrics(dec_t *d, const msgpack_object *o, int want_digits)
{
    if (d->status != PROTO_OK)
        return NULL;
    if (o->type != MSGPACK_OBJECT_MAP) {
        wrong_type(d, "metrics", "map", o);
        return NULL;
    }
    int digits = (int)get_i64(d, o, "d", true, want_digits, want_digits, want_digits);
    const msgpack_object *counters = get_map(d, o, "c", true);
    const msgpack_object *errors = get_map(d, o, "e", true);
    const msgpack_object *hists = get_map(d, o, "h", true);
    const msgpack_object *oor = get_map(d, o, "o", false);
    if (d->status != PROTO_OK)
        return NULL;

    metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* Counters travel by name; one a peer does not send is 0. */
    for (size_t i = 0; i < PROTO_COUNTER_FIELD_COUNT; i++) {
        int64_t *field = (int64_t *)((char *)&m->c + proto_counter_fields[i].offset);
        *field = get_i64(d, counters, proto_counter_fields[i].name, false, 0, INT64_MAX / 4, 0);
    }
    for (int i = 0; i < ERR_CLASS_COUNT; i++)
        m->c.errors[i] =
            get_i64(d, errors, error_class_name((error_class_t)i), false, 0, INT64_MAX / 4, 0);

    for (int i = 0; i < METRIC_HIST_COUNT && d->status == PROTO_OK; i++) {
        const char *name = metric_hist_name((metric_hist_t)i);
        const msgpack_object *h = find(d, hists, name, false);
        if (!h) {
            /* Absent means empty (the encoder leaves empty histograms out): compact, so
               that a snapshot of idle targets costs no 26-184 KiB of zeroed counters. */
            m->hist[i] =
                hist_new_compact(HIST_DEFAULT_LOWEST, HIST_DEFAULT_HIGHEST, digits, NULL, 0);
            continue;
        }
        if (h->type != MSGPACK_OBJECT_BIN) {
            wrong_type(d, name, "bin", h);
            break;
        }
        if (h->via.bin.size > PROTO_MAX_HIST_BYTES) {
            fail(d, PROTO_ERR_OVERSIZE, "histogram %s: %u bytes (cap %d)", name, h->via.bin.size,
                 PROTO_MAX_HIST_BYTES);
            break;
        }
        char herr[160] = "";
        /* Merges are exact only between equal layouts: anything else is refused from its
           header, before its counters cost anything. */
        m->hist[i] =
            hist_decode_compressed_layout(h->via.bin.ptr, h->via.bin.size, HIST_DEFAULT_LOWEST,
                                          HIST_DEFAULT_HIGHEST, digits, herr, sizeof herr);
        if (!m->hist[i]) {
            fail(d, PROTO_ERR_BAD_VALUE, "histogram %s: %s", name, herr);
            break;
        }
        d->counters_left -= (int64_t)(hist_memory_bytes(m->hist[i]) / sizeof(int64_t));
        if (d->counters_left < 0) {
            fail(d, PROTO_ERR_OVERSIZE,
                 "histogram %s: the message's histograms hold more than %d counters", name,
                 PROTO_MAX_DECODED_COUNTERS);
            break;
        }
    }
    for (int i = 0; oor && i < METRIC_HIST_COUNT && d->status == PROTO_OK; i++) {
        int64_t n = get_i64(d, oor, metric_hist_name((metric_hist_t)i), false, 0, INT64_MAX / 4, 0);
        if (n && m->hist[i])
            hist_set_out_of_range(m->hist[i], n);
    }
    for (int i = 0; i < METRIC_HIST_COUNT; i++) {
        if (!m->hist[i] && d->status == PROTO_OK)
            fail(d, PROTO_ERR_BAD_VALUE, "out of memory for histograms");
    }
    if (d->status != PROTO_OK) {
        for (int i = 0; i < METRIC_HIST_COUNT; i++)
            hist_destroy(&m->hist[i]);
        free(m);
        return NULL;
    }
    return m;
}

/* ---- messages ------------------------------------------------------------------- */

static void decode_hello(dec_t *d, const msgpack_object *o, proto_hello_t *h)
{
    DECODE_FIELDS(d, o, proto_hello_fields, h);
    if (d->status == PROTO_OK && !*h->worker_id)
        fail(d, PROTO_ERR_BAD_VALUE, "field id: empty");
}

/* Optional "prompt_max_tokens": exactly one int in [0, PROTO_MAX_TOKENS_VALUE] per
   prompt, or absent (NULL). */
static int *get_prompt_max_tokens(dec_t *d, const msgpack_object *map, int prompt_count)
{
    const char *key = "prompt_max_tokens";
    const msgpack_object *o = find(d, map, key, false);
    if (!o || d->status != PROTO_OK)
        return NULL;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, key, "array", o);
        return NULL;
    }
    if (o->via.array.size != (uint32_t)prompt_count) {
        fail(d, PROTO_ERR_BAD_VALUE, "field %s: %u entries for %d prompts", key, o->via.array.size,
             prompt_count);
        return NULL;
    }
    int *values = calloc((size_t)prompt_count + 1, sizeof *values);
    if (!values) {
        fail(d, PROTO_ERR_OVERSIZE, "field %s: out of memory", key);
        return NULL;
    }
    for (int i = 0; i < prompt_count && d->status == PROTO_OK; i++) {
        const msgpack_object *v = &o->via.array.ptr[i];
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= PROTO_MAX_TOKENS_VALUE)
            values[i] = (int)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            fail(d, PROTO_ERR_BAD_VALUE, "field %s[%d]: outside [0, %d]", key, i,
                 PROTO_MAX_TOKENS_VALUE);
        else
            fail(d, PROTO_ERR_WRONG_TYPE, "field %s[%d]: want int, got %s", key, i, type_word(v));
    }
    if (d->status != PROTO_OK) {
        free(values);
        return NULL;
    }
    return values;
}

/* Optional "classes" and "prompt_class", together: 1..PROTO_MAX_CLASSES names, and one
   class index in [0, class_count) per prompt. */
static void decode_plan_classes(dec_t *d, const msgpack_object *o, proto_plan_t *p)
{
    const msgpack_object *names = find(d, o, "classes", false);
    const msgpack_object *of = find(d, o, "prompt_class", false);
    if (d->status != PROTO_OK || (!names && !of))
        return;
    if (!names || !of) {
        fail(d, PROTO_ERR_MISSING, "field %s: required with %s", names ? "prompt_class" : "classes",
             names ? "classes" : "prompt_class");
        return;
    }
    p->classes = get_str_array(d, o, "classes", &p->class_count, PROTO_MAX_CLASSES,
                               PROTO_MAX_CLASS_NAME_BYTES);
    if (d->status != PROTO_OK)
        return;
    if (p->class_count < 1) {
        fail(d, PROTO_ERR_BAD_VALUE, "field classes: empty");
        return;
    }
    if (of->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, "prompt_class", "array", of);
        return;
    }
    if (of->via.array.size != (uint32_t)p->prompt_count) {
        fail(d, PROTO_ERR_BAD_VALUE, "field prompt_class: %u entries for %d prompts",
             of->via.array.size, p->prompt_count);
        return;
    }
    p->prompt_class = calloc((size_t)p->prompt_count + 1, sizeof *p->prompt_class);
    if (!p->prompt_class) {
        fail(d, PROTO_ERR_OVERSIZE, "field prompt_class: out of memory");
        return;
    }
    for (int i = 0; i < p->prompt_count && d->status == PROTO_OK; i++) {
        const msgpack_object *v = &of->via.array.ptr[i];
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 < (uint64_t)p->class_count)
            p->prompt_class[i] = (int)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            fail(d, PROTO_ERR_BAD_VALUE, "field prompt_class[%d]: outside [0, %d)", i,
                 p->class_count);
        else
            fail(d, PROTO_ERR_WRONG_TYPE, "field prompt_class[%d]: want int, got %s", i,
                 type_word(v));
    }
}

/* A "turns" or "think_ms" distribution: a known kind, and bounds inside [lo, hi]. */
static void decode_dist(dec_t *d, const msgpack_object *map, const char *key, const char *where,
                        const proto_field_t *fields, size_t n, int lo, int hi, dist_t *out)
{
    const msgpack_object *o = get_map(d, map, key, true);
    if (!o || d->status != PROTO_OK)
        return;
    d->where = where;
    decode_fields(d, o, fields, n, out);
    if (d->status == PROTO_OK) {
        if (out->kind == DIST_FIXED && out->mean < lo)
            fail(d, PROTO_ERR_BAD_VALUE, "field conv.%s.mean: below %d", key, lo);
        else if ((out->kind == DIST_UNIFORM || out->kind == DIST_NORMAL) &&
                 (out->min < lo || out->min > out->max))
            fail(d, PROTO_ERR_BAD_VALUE, "field conv.%s: needs %d <= min <= max <= %d", key, lo,
                 hi);
    }
    d->where = "conv";
}

/* Optional "conv": what a worker needs to hold conversations. */
static void decode_plan_conversations(dec_t *d, const msgpack_object *o, proto_plan_t *p)
{
    const msgpack_object *m = get_map(d, o, "conv", false);
    if (!m || d->status != PROTO_OK)
        return;
    proto_conversations_t *c = calloc(1, sizeof *c);
    if (!c) {
        fail(d, PROTO_ERR_OVERSIZE, "field conv: out of memory");
        return;
    }
    p->conversations = c;
    d->where = "conv";
    decode_dist(d, m, "turns", "conv.turns", proto_turns_dist_fields,
                PROTO_FIELD_COUNT(proto_turns_dist_fields), 1, PROTO_MAX_TURNS, &c->turns);
    decode_dist(d, m, "think_ms", "conv.think_ms", proto_think_dist_fields,
                PROTO_FIELD_COUNT(proto_think_dist_fields), 0, PROTO_MAX_THINK_MS,
                &c->think_time_ms);
    DECODE_FIELDS(d, m, proto_conversations_fields, c);
    const msgpack_object *counts = find(d, m, "turn_counts", true);
    d->where = "";
    if (d->status == PROTO_OK && c->shared_prefix_fraction > 0 && !*c->shared_prefix)
        fail(d, PROTO_ERR_BAD_VALUE, "field conv.prefix_frac: %g without a prefix",
             c->shared_prefix_fraction);
    if (d->status != PROTO_OK)
        return;
    if (counts->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, "conv.turn_counts", "array", counts);
        return;
    }
    if (counts->via.array.size > PROTO_MAX_CONVERSATIONS) {
        fail(d, PROTO_ERR_OVERSIZE, "field conv.turn_counts: %u conversations (cap %d)",
             counts->via.array.size, PROTO_MAX_CONVERSATIONS);
        return;
    }
    c->turn_counts = calloc((size_t)counts->via.array.size + 1, sizeof *c->turn_counts);
    if (!c->turn_counts) {
        fail(d, PROTO_ERR_OVERSIZE, "field conv.turn_counts: out of memory");
        return;
    }
    c->conversation_count = (int)counts->via.array.size;
    int64_t sum = 0;
    for (int i = 0; i < c->conversation_count && d->status == PROTO_OK; i++) {
        const msgpack_object *v = &counts->via.array.ptr[i];
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 >= 1 &&
            v->via.u64 <= PROTO_MAX_TURNS)
            sum += c->turn_counts[i] = (int)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            fail(d, PROTO_ERR_BAD_VALUE, "field conv.turn_counts[%d]: outside [1, %d]", i,
                 PROTO_MAX_TURNS);
        else
            fail(d, PROTO_ERR_WRONG_TYPE, "field conv.turn_counts[%d]: want int, got %s", i,
                 type_word(v));
    }
    size_t bytes = 0;
    for (int i = 0; i < c->turn_text_count; i++)
        bytes += strlen(c->turn_texts[i]);
    if (d->status == PROTO_OK && bytes > PROTO_MAX_TURN_TEXT_BYTES)
        fail(d, PROTO_ERR_OVERSIZE, "field conv.turn_texts: %zu bytes (cap %d)", bytes,
             PROTO_MAX_TURN_TEXT_BYTES);
    else if (d->status == PROTO_OK && sum != c->turn_text_count)
        fail(d, PROTO_ERR_BAD_VALUE, "field conv.turn_counts: %lld turns in all, but %d turn_texts",
             (long long)sum, c->turn_text_count);
}

static void decode_plan(dec_t *d, const msgpack_object *o, proto_plan_t *p)
{
    DECODE_FIELDS(d, o, proto_plan_fields, p);
    p->prompt_max_tokens = get_prompt_max_tokens(d, o, p->prompt_count);
    if (d->status != PROTO_OK)
        return;
    for (int i = 0; i < p->header_count; i++) {
        /* One line each: a CR or LF would let a header smuggle others into the request. */
        if (!strchr(p->headers[i], ':') || strpbrk(p->headers[i], "\r\n")) {
            fail(d, PROTO_ERR_BAD_VALUE, "field headers: entry %d is not one \"Name: value\" line",
                 i);
            return;
        }
    }
    if (strpbrk(p->capture_header, ":\r\n ")) {
        fail(d, PROTO_ERR_BAD_VALUE, "field capture_header: not a header name");
        return;
    }
    if (*p->balance && strcmp(p->balance, "round_robin") != 0 &&
        strcmp(p->balance, "random") != 0 && strcmp(p->balance, "least_inflight") != 0)
        fail(d, PROTO_ERR_BAD_VALUE,
             "field balance: '%s' is not round_robin, random or least_inflight", p->balance);
    else if (strcmp(p->api, "chat") != 0 && strcmp(p->api, "completions") != 0)
        fail(d, PROTO_ERR_BAD_VALUE, "field api: '%s' is neither chat nor completions", p->api);
    else if (p->target_count < 1)
        fail(d, PROTO_ERR_BAD_VALUE, "field targets: empty");
    else if (p->prompt_count < 1)
        fail(d, PROTO_ERR_BAD_VALUE, "field prompts: empty");
    else if ((uint64_t)p->prompt_count *
                 (strlen(p->model) + strlen(p->extra_body_json) + PROTO_BODY_OVERHEAD_BYTES) >
             PROTO_MAX_PLAN_REPEATED_BYTES)
        fail(d, PROTO_ERR_OVERSIZE,
             "field prompts: %d prompts, each repeating a %zu-byte model and a %zu-byte "
             "extra_body, would make more than %d bytes of request bodies",
             p->prompt_count, strlen(p->model), strlen(p->extra_body_json),
             PROTO_MAX_PLAN_REPEATED_BYTES);
    decode_plan_classes(d, o, p);
    decode_plan_conversations(d, o, p);
}

static void decode_phase(dec_t *d, const msgpack_object *o, proto_phase_t *p)
{
    DECODE_FIELDS(d, o, proto_phase_fields, p);
    DECODE_FIELDS(d, o, proto_schedule_fields, &p->schedule);
    if (d->status != PROTO_OK)
        return;
    if (!find(d, o, "takeover", false))
        p->takeover_ns = p->t0_ns; /* older coordinators: the phase's first assignment */
    if (p->segment_from > p->segment_to)
        fail(d, PROTO_ERR_BAD_VALUE, "segment [%g, %g) is reversed", p->segment_from,
             p->segment_to);
}

/* "phases" (optional: older workers do not send it). One entry may leave its metrics
   out (the total is the phase's); with several, each carries its own. */
static void decode_snapshot_phases(dec_t *d, const msgpack_object *o, proto_snapshot_t *s)
{
    const msgpack_object *phases = find(d, o, "phases", false);
    if (!phases || d->status != PROTO_OK)
        return;
    if (phases->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, "phases", "array", phases);
        return;
    }
    uint32_t n = phases->via.array.size;
    if (n > PROTO_MAX_SNAPSHOT_PHASES) {
        fail(d, PROTO_ERR_OVERSIZE, "field phases: %u entries (cap %d)", n,
             PROTO_MAX_SNAPSHOT_PHASES);
        return;
    }
    if (n == 0)
        return;
    s->phases = calloc(n, sizeof *s->phases);
    if (!s->phases)
        return;
    d->where = "phases[]";
    for (uint32_t i = 0; i < n && d->status == PROTO_OK; i++) {
        const msgpack_object *e = &phases->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_MAP) {
            wrong_type(d, "phases[]", "map", e);
            break;
        }
        proto_phase_part_t *part = &s->phases[i];
        DECODE_FIELDS(d, e, proto_phase_part_fields, part);
        const msgpack_object *m = find(d, e, "m", false);
        if (d->status != PROTO_OK)
            break;
        s->phase_count++;
        if (m)
            part->metrics = decode_metrics(d, m, PROTO_TOTAL_DIGITS);
        else if (n > 1)
            fail(d, PROTO_ERR_MISSING, "field phases[].m: required when several phases are named");
    }
    d->where = "";
}

/* "classes" (optional: absent when the plan has none): one metrics per class. */
/* An optional array of at most `cap` metrics (2 significant digits): "classes", "turns". */
static metrics_t **decode_metrics_list(dec_t *d, const msgpack_object *o, const char *key,
                                       const char *where, int cap, int digits, int *count_out)
{
    *count_out = 0;
    const msgpack_object *list = find(d, o, key, false);
    if (!list || d->status != PROTO_OK)
        return NULL;
    if (list->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, key, "array", list);
        return NULL;
    }
    uint32_t n = list->via.array.size;
    if (n > (uint32_t)cap) {
        fail(d, PROTO_ERR_OVERSIZE, "field %s: %u entries (cap %d)", key, n, cap);
        return NULL;
    }
    if (n == 0)
        return NULL;
    metrics_t **out = calloc(n, sizeof *out);
    if (!out)
        return NULL;
    d->where = where;
    for (uint32_t i = 0; i < n && d->status == PROTO_OK; i++) {
        out[i] = decode_metrics(d, &list->via.array.ptr[i], digits);
        if (out[i])
            (*count_out)++;
    }
    d->where = "";
    return out;
}

static void decode_snapshot_classes(dec_t *d, const msgpack_object *o, proto_snapshot_t *s)
{
    s->per_class = decode_metrics_list(d, o, "classes", "classes[]", PROTO_MAX_CLASSES,
                                       PROTO_TARGET_DIGITS, &s->class_count);
    s->per_turn = decode_metrics_list(d, o, "turns", "turns[]", PROTO_MAX_TURN_BUCKETS,
                                      PROTO_TOTAL_DIGITS, &s->turn_count);
}

static void decode_snapshot(dec_t *d, const msgpack_object *o, proto_snapshot_t *s)
{
    DECODE_FIELDS(d, o, proto_snapshot_fields, s);
    const msgpack_object *total = find(d, o, "total", true);
    const msgpack_object *targets = find(d, o, "targets", true);
    const msgpack_object *requests = find(d, o, "requests", false);
    if (d->status != PROTO_OK)
        return;
    if (s->seq == 0) {
        fail(d, PROTO_ERR_BAD_VALUE, "field seq: 0 (sequence numbers start at 1)");
        return;
    }
    d->where = "total";
    s->total = decode_metrics(d, total, PROTO_TOTAL_DIGITS);
    d->where = "";
    if (d->status != PROTO_OK)
        return;
    if (targets->type != MSGPACK_OBJECT_ARRAY) {
        wrong_type(d, "targets", "array", targets);
        return;
    }
    if (targets->via.array.size > PROTO_MAX_TARGETS) {
        fail(d, PROTO_ERR_OVERSIZE, "field targets: %u entries (cap %d)", targets->via.array.size,
             PROTO_MAX_TARGETS);
        return;
    }
    if (targets->via.array.size) {
        s->per_target = calloc(targets->via.array.size, sizeof *s->per_target);
        if (!s->per_target)
            return;
    }
    d->where = "targets[]";
    for (uint32_t i = 0; i < targets->via.array.size && d->status == PROTO_OK; i++) {
        s->per_target[i] = decode_metrics(d, &targets->via.array.ptr[i], PROTO_TARGET_DIGITS);
        if (s->per_target[i])
            s->target_count++;
    }
    d->where = "";
    if (requests && d->status == PROTO_OK) {
        if (requests->type != MSGPACK_OBJECT_BIN) {
            wrong_type(d, "requests", "bin", requests);
            return;
        }
        if (requests->via.bin.size > PROTO_MAX_REQUESTS_BYTES) {
            fail(d, PROTO_ERR_OVERSIZE, "field requests: %u bytes (cap %d)", requests->via.bin.size,
                 PROTO_MAX_REQUESTS_BYTES);
            return;
        }
        s->requests_jsonl = malloc(requests->via.bin.size + 1);
        if (!s->requests_jsonl)
            return;
        memcpy(s->requests_jsonl, requests->via.bin.ptr, requests->via.bin.size);
        s->requests_jsonl[requests->via.bin.size] = '\0';
        s->requests_jsonl_len = requests->via.bin.size;
    }
    decode_snapshot_phases(d, o, s);
    decode_snapshot_classes(d, o, s);
}

static void decode_body(dec_t *d, const msgpack_object *o, proto_msg_t *msg)
{
    switch (msg->type) {
    case PROTO_HELLO:
        decode_hello(d, o, &msg->u.hello);
        break;
    case PROTO_WELCOME:
        DECODE_FIELDS(d, o, proto_welcome_fields, &msg->u.welcome);
        break;
    case PROTO_PLAN:
        decode_plan(d, o, &msg->u.plan);
        break;
    case PROTO_PHASE:
        decode_phase(d, o, &msg->u.phase);
        break;
    case PROTO_SNAPSHOT:
        decode_snapshot(d, o, &msg->u.snapshot);
        break;
    case PROTO_ACK:
        DECODE_FIELDS(d, o, proto_ack_fields, &msg->u.ack);
        break;
    case PROTO_HEARTBEAT:
        DECODE_FIELDS(d, o, proto_heartbeat_fields, &msg->u.heartbeat);
        if (find(d, o, "ready", false))
            msg->u.heartbeat.ready =
                get_bool(d, o, "ready", true, false) ? PROTO_READY_YES : PROTO_READY_NOT_YET;
        break;
    case PROTO_STOP:
        DECODE_FIELDS(d, o, proto_stop_fields, &msg->u.stop);
        break;
    case PROTO_BYE:
        DECODE_FIELDS(d, o, proto_bye_fields, &msg->u.bye);
        break;
    case PROTO_CTL_REQUEST:
        DECODE_FIELDS(d, o, proto_ctl_request_fields, &msg->u.ctl_request);
        break;
    case PROTO_CTL_REPLY:
        DECODE_FIELDS(d, o, proto_ctl_reply_fields, &msg->u.ctl_reply);
        break;
    default:
        break;
    }
}

int proto_decode(proto_msg_t *msg, const void *data, size_t len, char *err, size_t err_size)
{
    memset(msg, 0, sizeof *msg);
    msg->type = PROTO_TYPE_COUNT;
    msg->owned = true;
    if (err && err_size)
        err[0] = '\0';
    dec_t d = {PROTO_OK, err, err_size, "", PROTO_MAX_DECODED_COUNTERS};
    if (len > PROTO_MAX_MESSAGE_BYTES) {
        fail(&d, PROTO_ERR_OVERSIZE, "message of %zu bytes (cap %d)", len, PROTO_MAX_MESSAGE_BYTES);
        return d.status;
    }
    int status = structure_check(data, len, err, err_size);
    if (status != PROTO_OK)
        return status;

    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t offset = 0;
    int rc = msgpack_unpack_next(&unpacked, data, len, &offset);
    const msgpack_object *root = &unpacked.data;
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != len) {
        fail(&d, PROTO_ERR_MALFORMED, "msgpack-c refused the message (%d)", rc);
    } else if (root->type != MSGPACK_OBJECT_MAP) {
        fail(&d, PROTO_ERR_NOT_MAP, "message is a %s, not a map", type_word(root));
    } else {
        msg->version = (int)get_i64(&d, root, "v", true, 0, 1 << 20, 0);
        const msgpack_object *t = find(&d, root, "t", true);
        if (t && t->type != MSGPACK_OBJECT_STR)
            wrong_type(&d, "t", "str", t);
        if (d.status == PROTO_OK) {
            for (int i = 0; i < PROTO_TYPE_COUNT; i++) {
                if (key_is(t, proto_type_names[i]))
                    msg->type = (proto_type_t)i;
            }
            if (msg->type == PROTO_TYPE_COUNT)
                fail(&d, PROTO_ERR_UNKNOWN_TYPE, "unknown message type '%.*s'",
                     (int)(t->via.str.size > 64 ? 64 : t->via.str.size), t->via.str.ptr);
            else if (msg->version != PROTO_VERSION)
                fail(&d, PROTO_ERR_VERSION, "protocol version %d, this side speaks %d",
                     msg->version, PROTO_VERSION);
            else
                decode_body(&d, root, msg);
        }
    }
    msgpack_unpacked_destroy(&unpacked);
    if (d.status != PROTO_OK) {
        int version = msg->version;
        proto_type_t type = msg->type;
        proto_msg_clear(msg);
        msg->version = version;
        msg->type = type;
    }
    return d.status;
}

void proto_msg_clear(proto_msg_t *msg)
{
    if (msg->owned) {
        switch (msg->type) {
        case PROTO_HELLO:
            free(msg->u.hello.worker_id);
            free(msg->u.hello.software);
            free_str_array(msg->u.hello.allow, msg->u.hello.allow_count);
            break;
        case PROTO_WELCOME:
            free(msg->u.welcome.reason);
            free(msg->u.welcome.run_id);
            break;
        case PROTO_PLAN:
            free_str_array(msg->u.plan.targets, msg->u.plan.target_count);
            free(msg->u.plan.model);
            free(msg->u.plan.api);
            free_str_array(msg->u.plan.prompts, msg->u.plan.prompt_count);
            free(msg->u.plan.prompt_max_tokens);
            free(msg->u.plan.prompt_class);
            free_str_array(msg->u.plan.classes, msg->u.plan.class_count);
            free(msg->u.plan.extra_body_json);
            free(msg->u.plan.api_key_env);
            free(msg->u.plan.api_key_file);
            free_str_array(msg->u.plan.headers, msg->u.plan.header_count);
            free(msg->u.plan.balance);
            free(msg->u.plan.capture_header);
            free(msg->u.plan.ca_file);
            if (msg->u.plan.conversations) {
                proto_conversations_t *c = msg->u.plan.conversations;
                free(c->system_prompt);
                free(c->shared_prefix);
                free(c->turn_counts);
                free_str_array(c->turn_texts, c->turn_text_count);
                free(c);
            }
            break;
        case PROTO_PHASE:
            free(msg->u.phase.name);
            break;
        case PROTO_SNAPSHOT:
            free(msg->u.snapshot.worker_id);
            metrics_destroy(&msg->u.snapshot.total);
            for (int i = 0; i < msg->u.snapshot.target_count; i++)
                metrics_destroy(&msg->u.snapshot.per_target[i]);
            free(msg->u.snapshot.per_target);
            free(msg->u.snapshot.requests_jsonl);
            for (int i = 0; i < msg->u.snapshot.phase_count; i++)
                metrics_destroy(&msg->u.snapshot.phases[i].metrics);
            free(msg->u.snapshot.phases);
            for (int i = 0; i < msg->u.snapshot.class_count; i++)
                metrics_destroy(&msg->u.snapshot.per_class[i]);
            free(msg->u.snapshot.per_class);
            for (int i = 0; i < msg->u.snapshot.turn_count; i++)
                metrics_destroy(&msg->u.snapshot.per_turn[i]);
            free(msg->u.snapshot.per_turn);
            break;
        case PROTO_STOP:
            free(msg->u.stop.reason);
            break;
        case PROTO_BYE:
            free(msg->u.bye.reason);
            break;
        case PROTO_CTL_REQUEST:
            free(msg->u.ctl_request.command);
            free(msg->u.ctl_request.text);
            break;
        case PROTO_CTL_REPLY:
            free(msg->u.ctl_reply.error);
            free(msg->u.ctl_reply.body_json);
            break;
        default:
            break;
        }
    }
    memset(msg, 0, sizeof *msg);
}
