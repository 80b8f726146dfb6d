/*  prom.c: the Prometheus text format 0.0.4, parsed strictly (see prom.h).

    One pass over the page, line by line. Names and unescaped label values go into one
    growable arena, so a page of N samples costs a handful of allocations, not 3N; the
    samples keep offsets into it while it grows and become pointers once parsing ends.
*/
#include "common/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    size_t name_off, value_off;
} label_raw_t;

typedef struct {
    size_t name_off;
    int first_label, label_count;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms;
    int line;
} sample_raw_t;

typedef struct {
    size_t name_off;
    prom_type_t type;
} family_t;

struct _prom_doc_t {
    char *arena;
    size_t arena_len, arena_cap;
    sample_raw_t *raw;
    label_raw_t *raw_labels;
    int sample_count, sample_cap;
    int label_count, label_cap;
    family_t *families;
    int family_count, family_cap;
    /* Filled at the end of prom_parse, pointing into arena. */
    prom_sample_t *samples;
    prom_label_t *labels;
};

typedef struct {
    prom_doc_t *doc;
    prom_limits_t limits;
    const char *line_start, *p, *end; /* the current line is [line_start, end) */
    int line;
    char *err;
    size_t err_size;
    bool failed;
} parser_t;

/* ---- helpers ----------------------------------------------------------------------- */

static bool fail(parser_t *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(parser_t *ps, const char *at, const char *fmt, ...)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    char message[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->err_size, "line %d:%d: %s", ps->line, (int)(at - ps->line_start) + 1,
             message);
    return false;
}

static bool grow(void **data, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int next = *cap ? *cap * 2 : 64;
    while (next < need)
        next *= 2;
    void *p = realloc(*data, (size_t)next * size);
    if (!p)
        return false;
    *data = p;
    *cap = next;
    return true;
}

/* Appends bytes to the arena and returns their offset; (size_t)-1 when out of memory. */
static size_t arena_put(prom_doc_t *doc, const char *text, size_t len)
{
    if (doc->arena_len + len + 1 > doc->arena_cap) {
        size_t next = doc->arena_cap ? doc->arena_cap * 2 : 4096;
        while (next < doc->arena_len + len + 1)
            next *= 2;
        char *p = realloc(doc->arena, next);
        if (!p)
            return (size_t)-1;
        doc->arena = p;
        doc->arena_cap = next;
    }
    size_t off = doc->arena_len;
    if (len && text) /* text NULL: reserve only (the caller writes) */
        memcpy(doc->arena + off, text, len);
    doc->arena[off + len] = '\0';
    doc->arena_len += len + 1;
    return off;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_blanks(parser_t *ps)
{
    while (ps->p < ps->end && is_blank(*ps->p))
        ps->p++;
}

static bool name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool name_char(char c, bool colon)
{
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A metric name (colon allowed) or label name; its length, 0 when none starts here. */
static size_t scan_name(parser_t *ps, bool colon)
{
    const char *s = ps->p;
    if (s >= ps->end || !name_start(*s, colon))
        return 0;
    while (s < ps->end && name_char(*s, colon))
        s++;
    return (size_t)(s - ps->p);
}

static size_t scan_token(parser_t *ps)
{
    const char *s = ps->p;
    while (s < ps->end && !is_blank(*s))
        s++;
    return (size_t)(s - ps->p);
}

static bool word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Go's strconv.ParseFloat as Prometheus uses it, minus hex floats: decimal with optional
   exponent, or Inf / +Inf / -Inf / NaN in any case. */
static bool parse_double(const char *s, size_t n, double *out)
{
    if (word_is(s, n, "+Inf") || word_is(s, n, "Inf") || word_is(s, n, "+Infinity") ||
        word_is(s, n, "Infinity")) {
        *out = INFINITY;
        return true;
    }
    if (word_is(s, n, "-Inf") || word_is(s, n, "-Infinity")) {
        *out = -INFINITY;
        return true;
    }
    if (word_is(s, n, "NaN")) {
        *out = NAN;
        return true;
    }
    char text[64];
    if (n == 0 || n >= sizeof text)
        return false;
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-')
            return false;
    }
    if (!digit)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    char *end;
    *out = strtod(text, &end);
    return end == text + n;
}

static bool parse_timestamp(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool negative = n > 0 && s[0] == '-';
    if (negative)
        i = 1;
    if (i == n || n - i > 18) /* 18 digits: no overflow, and 3e17 ms is far past any date */
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = negative ? -v : v;
    return true;
}

/* ---- lines ------------------------------------------------------------------------- */

static bool family_add(parser_t *ps, const char *name, size_t len, prom_type_t type, const char *at)
{
    prom_doc_t *doc = ps->doc;
    for (int i = 0; i < doc->family_count; i++) {
        const char *known = doc->arena + doc->families[i].name_off;
        if (strlen(known) == len && memcmp(known, name, len) == 0)
            return fail(ps, at, "a second TYPE line for %.*s", (int)(len < 80 ? len : 80), name);
    }
    /* One TYPE per family and at most one family per sample, so the sample cap bounds this
       too (plus a little for families with no sample). */
    if (doc->family_count >= ps->limits.max_samples + 64)
        return fail(ps, at, "more than %d TYPE lines", ps->limits.max_samples + 64);
    if (!grow((void **)&doc->families, &doc->family_cap, doc->family_count + 1,
              sizeof *doc->families))
        return fail(ps, at, "out of memory");
    size_t off = arena_put(doc, name, len);
    if (off == (size_t)-1)
        return fail(ps, at, "out of memory");
    doc->families[doc->family_count++] = (family_t){off, type};
    return true;
}

static bool parse_comment(parser_t *ps)
{
    ps->p++; /* '#' */
    skip_blanks(ps);
    size_t n = scan_token(ps);
    bool help = n == 4 && memcmp(ps->p, "HELP", 4) == 0;
    bool type = n == 4 && memcmp(ps->p, "TYPE", 4) == 0;
    if (!help && !type)
        return true; /* any other comment */
    ps->p += n;
    if (ps->p < ps->end && !is_blank(*ps->p))
        return true; /* "# HELPx": a comment after all */
    skip_blanks(ps);
    const char *name = ps->p;
    size_t len = scan_name(ps, true);
    if (len == 0)
        return fail(ps, ps->p, "expected a metric name after # %s", help ? "HELP" : "TYPE");
    ps->p += len;
    if (ps->p < ps->end && !is_blank(*ps->p))
        return fail(ps, ps->p, "unexpected character in a metric name");
    if (help)
        return true; /* the docstring is free text */
    skip_blanks(ps);
    const char *word = ps->p;
    size_t wn = scan_token(ps);
    static const char *const names[] = {"untyped", "counter", "gauge", "histogram", "summary"};
    int t = -1;
    for (int i = 0; i < 5; i++) {
        if (strlen(names[i]) == wn && memcmp(word, names[i], wn) == 0)
            t = i;
    }
    if (t < 0)
        return fail(ps, word, "expected counter, gauge, histogram, summary or untyped");
    ps->p += wn;
    skip_blanks(ps);
    if (ps->p != ps->end)
        return fail(ps, ps->p, "unexpected text after the type");
    return family_add(ps, name, len, (prom_type_t)t, name);
}

/* A quoted label value, unescaped into the arena; the offset, (size_t)-1 on error. */
static size_t parse_label_value(parser_t *ps)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, ps->p, "expected '\"' to start a label value");
        return (size_t)-1;
    }
    ps->p++;
    /* Unescaping only shortens, so the raw length bounds the result. */
    const char *close = ps->p;
    while (close < ps->end && *close != '"') {
        if (*close == '\\')
            close++;
        close++;
    }
    if (close >= ps->end) {
        fail(ps, ps->p - 1, "a label value without its closing '\"'");
        return (size_t)-1;
    }
    size_t off = arena_put(ps->doc, NULL, (size_t)(close - ps->p));
    if (off == (size_t)-1) {
        fail(ps, ps->p, "out of memory");
        return (size_t)-1;
    }
    char *out = ps->doc->arena + off;
    size_t n = 0;
    for (; ps->p < close; ps->p++) {
        char c = *ps->p;
        if (c == '\\') {
            char e = *++ps->p;
            if (e == 'n')
                c = '\n';
            else if (e == '\\' || e == '"')
                c = e;
            else {
                fail(ps, ps->p - 1, "unknown escape '\\%c' in a label value (\\\\, \\\" and \\n)",
                     e >= 0x20 && e < 0x7f ? e : '?');
                return (size_t)-1;
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    ps->doc->arena_len = off + n + 1; /* give back what unescaping saved */
    ps->p++;                          /* the closing quote */
    return off;
}

static bool parse_labels(parser_t *ps, sample_raw_t *s)
{
    prom_doc_t *doc = ps->doc;
    ps->p++; /* '{' */
    s->first_label = doc->label_count;
    for (;;) {
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return true;
        }
        const char *at = ps->p;
        size_t len = scan_name(ps, false);
        if (len == 0)
            return fail(ps, at, "expected a label name or '}'");
        if (s->label_count >= ps->limits.max_labels)
            return fail(ps, at, "more than %d labels on one sample", ps->limits.max_labels);
        for (int i = s->first_label; i < doc->label_count; i++) {
            const char *known = doc->arena + doc->raw_labels[i].name_off;
            if (strlen(known) == len && memcmp(known, at, len) == 0)
                return fail(ps, at, "label %.*s given twice", (int)(len < 80 ? len : 80), at);
        }
        size_t name_off = arena_put(doc, at, len);
        if (name_off == (size_t)-1)
            return fail(ps, at, "out of memory");
        ps->p += len;
        skip_blanks(ps);
        if (ps->p >= ps->end || *ps->p != '=')
            return fail(ps, ps->p, "expected '=' after the label name");
        ps->p++;
        skip_blanks(ps);
        size_t value_off = parse_label_value(ps);
        if (value_off == (size_t)-1)
            return false;
        if (!grow((void **)&doc->raw_labels, &doc->label_cap, doc->label_count + 1,
                  sizeof *doc->raw_labels))
            return fail(ps, at, "out of memory");
        doc->raw_labels[doc->label_count++] = (label_raw_t){name_off, value_off};
        s->label_count++;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return true;
        }
        return fail(ps, ps->p, "expected ',' or '}' after a label value");
    }
}

static bool parse_sample(parser_t *ps)
{
    prom_doc_t *doc = ps->doc;
    const char *at = ps->p;
    size_t len = scan_name(ps, true);
    if (len == 0)
        return fail(ps, at, "expected a metric name, a comment or a blank line");
    if (doc->sample_count >= ps->limits.max_samples)
        return fail(ps, at, "more than %d samples", ps->limits.max_samples);
    sample_raw_t s = {.line = ps->line, .first_label = doc->label_count};
    s.name_off = arena_put(doc, at, len);
    if (s.name_off == (size_t)-1)
        return fail(ps, at, "out of memory");
    ps->p += len;
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == '{' && !parse_labels(ps, &s))
        return false;
    if (ps->p < ps->end && !is_blank(*ps->p) && ps->p == at + len)
        return fail(ps, ps->p, "unexpected character in a metric name");
    skip_blanks(ps);
    const char *vat = ps->p;
    size_t vn = scan_token(ps);
    if (vn == 0)
        return fail(ps, vat, "expected a value");
    if (!parse_double(vat, vn, &s.value))
        return fail(ps, vat, "'%.*s' is not a number (a decimal, +Inf, -Inf or NaN)",
                    (int)(vn < 40 ? vn : 40), vat);
    ps->p += vn;
    skip_blanks(ps);
    if (ps->p < ps->end) {
        const char *tat = ps->p;
        size_t tn = scan_token(ps);
        if (!parse_timestamp(tat, tn, &s.timestamp_ms))
            return fail(ps, tat, "expected a timestamp in integer milliseconds");
        s.has_timestamp = true;
        ps->p += tn;
        skip_blanks(ps);
        if (ps->p < ps->end)
            return fail(ps, ps->p, "unexpected text after the timestamp");
    }
    if (!grow((void **)&doc->raw, &doc->sample_cap, doc->sample_count + 1, sizeof *doc->raw))
        return fail(ps, at, "out of memory");
    doc->raw[doc->sample_count++] = s;
    return true;
}

/* ---- the document ------------------------------------------------------------------ */

static bool finish(prom_doc_t *doc)
{
    doc->samples = calloc((size_t)doc->sample_count + 1, sizeof *doc->samples);
    doc->labels = calloc((size_t)doc->label_count + 1, sizeof *doc->labels);
    if (!doc->samples || !doc->labels)
        return false;
    for (int i = 0; i < doc->label_count; i++) {
        doc->labels[i].name = doc->arena + doc->raw_labels[i].name_off;
        doc->labels[i].value = doc->arena + doc->raw_labels[i].value_off;
    }
    for (int i = 0; i < doc->sample_count; i++) {
        const sample_raw_t *r = &doc->raw[i];
        doc->samples[i] = (prom_sample_t){
            .name = doc->arena + r->name_off,
            .labels = doc->labels + r->first_label,
            .label_count = r->label_count,
            .value = r->value,
            .has_timestamp = r->has_timestamp,
            .timestamp_ms = r->timestamp_ms,
            .line = r->line,
        };
    }
    return true;
}

prom_doc_t *prom_parse(const char *text, size_t len, const prom_limits_t *limits, char *err,
                       size_t err_size)
{
    parser_t ps = {.err = err, .err_size = err_size, .line = 0};
    if (limits)
        ps.limits = *limits;
    if (ps.limits.max_line_bytes == 0)
        ps.limits.max_line_bytes = PROM_DEFAULT_MAX_LINE_BYTES;
    if (ps.limits.max_samples <= 0)
        ps.limits.max_samples = PROM_DEFAULT_MAX_SAMPLES;
    if (ps.limits.max_labels <= 0)
        ps.limits.max_labels = PROM_DEFAULT_MAX_LABELS;
    if (err_size)
        err[0] = '\0';
    ps.doc = calloc(1, sizeof *ps.doc);
    if (!ps.doc) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    const char *p = text, *stop = text + len;
    while (p < stop && !ps.failed) {
        ps.line++;
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *end = nl ? nl : stop;
        ps.line_start = ps.p = p;
        ps.end = end > p && end[-1] == '\r' ? end - 1 : end; /* tolerate CRLF */
        if ((size_t)(end - p) > ps.limits.max_line_bytes) {
            fail(&ps, p, "line longer than %zu bytes", ps.limits.max_line_bytes);
            break;
        }
        const char *nul = memchr(p, '\0', (size_t)(ps.end - p));
        if (nul) {
            fail(&ps, nul, "a NUL byte");
            break;
        }
        skip_blanks(&ps);
        if (ps.p < ps.end) {
            if (*ps.p == '#')
                parse_comment(&ps);
            else
                parse_sample(&ps);
        }
        p = nl ? nl + 1 : stop;
    }
    if (!ps.failed && !finish(ps.doc)) {
        snprintf(err, err_size, "out of memory");
        ps.failed = true;
    }
    if (ps.failed) {
        prom_doc_destroy(&ps.doc);
        return NULL;
    }
    return ps.doc;
}

void prom_doc_destroy(prom_doc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    prom_doc_t *self = *self_p;
    free(self->arena);
    free(self->raw);
    free(self->raw_labels);
    free(self->families);
    free(self->samples);
    free(self->labels);
    free(self);
    *self_p = NULL;
}

int prom_doc_sample_count(const prom_doc_t *self)
{
    return self->sample_count;
}

const prom_sample_t *prom_doc_sample(const prom_doc_t *self, int index)
{
    if (index < 0 || index >= self->sample_count)
        return NULL;
    return &self->samples[index];
}

prom_type_t prom_doc_type(const prom_doc_t *self, const char *family)
{
    for (int i = 0; i < self->family_count; i++) {
        if (strcmp(self->arena + self->families[i].name_off, family) == 0)
            return self->families[i].type;
    }
    return PROM_UNTYPED;
}

double prom_doc_sum(const prom_doc_t *self, const char *name, int *count)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < self->sample_count; i++) {
        if (strcmp(self->samples[i].name, name) == 0) {
            sum += self->samples[i].value;
            n++;
        }
    }
    if (count)
        *count = n;
    return sum;
}

const char *prom_sample_label(const prom_sample_t *sample, const char *label_name)
{
    for (int i = 0; i < sample->label_count; i++) {
        if (strcmp(sample->labels[i].name, label_name) == 0)
            return sample->labels[i].value;
    }
    return NULL;
}

const char *prom_type_name(prom_type_t type)
{
    static const char *const names[] = {"untyped", "counter", "gauge", "histogram", "summary"};
    return (unsigned)type < 5 ? names[type] : "untyped";
}
