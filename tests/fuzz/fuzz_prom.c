/*  fuzz_prom: any bytes given to the Prometheus text parser must give a document or an
    error message, never a crash, an out-of-bounds access or a leak; and a document, when
    written out again in the format, must parse to the very same samples (names, labels in
    order, values, timestamps): what the parser accepts it understood completely.

    Input layout: byte 0 picks the limits (small ones, so the caps are hit), the rest is
    the page. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/prom.h"

static void write_value(buf_t *out, double v)
{
    if (isnan(v))
        buf_append_str(out, "NaN");
    else if (isinf(v))
        buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(out, "%.17g", v);
}

static void write_doc(const prom_doc_t *doc, buf_t *out)
{
    for (int i = 0; i < prom_doc_sample_count(doc); i++) {
        const prom_sample_t *s = prom_doc_sample(doc, i);
        buf_append_str(out, s->name);
        if (s->label_count) {
            buf_append_char(out, '{');
            for (int k = 0; k < s->label_count; k++) {
                buf_printf(out, "%s%s=\"", k ? "," : "", s->labels[k].name);
                for (const char *c = s->labels[k].value; *c; c++) {
                    if (*c == '\\' || *c == '"')
                        buf_append_char(out, '\\');
                    if (*c == '\n')
                        buf_append_str(out, "\\n");
                    else
                        buf_append_char(out, *c);
                }
                buf_append_char(out, '"');
            }
            buf_append_char(out, '}');
        }
        buf_append_char(out, ' ');
        write_value(out, s->value);
        if (s->has_timestamp)
            buf_printf(out, " %lld", (long long)s->timestamp_ms);
        buf_append_char(out, '\n');
    }
}

static int same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    prom_limits_t limits = {0};
    if (data[0] & 1)
        limits = (prom_limits_t){.max_line_bytes = 64, .max_samples = 8, .max_labels = 3};
    char err[256];
    prom_doc_t *doc = prom_parse((const char *)data + 1, size - 1, &limits, err, sizeof err);
    if (!doc) {
        if (strncmp(err, "line ", 5) != 0 && strcmp(err, "out of memory") != 0)
            abort(); /* every error says where */
        return 0;
    }
    buf_t text;
    buf_init(&text);
    write_doc(doc, &text);
    prom_doc_t *again = prom_parse(text.data ? text.data : "", text.len, NULL, err, sizeof err);
    if (!again)
        abort(); /* a page written from accepted samples must parse */
    if (prom_doc_sample_count(again) != prom_doc_sample_count(doc))
        abort();
    for (int i = 0; i < prom_doc_sample_count(doc); i++) {
        const prom_sample_t *a = prom_doc_sample(doc, i), *b = prom_doc_sample(again, i);
        if (strcmp(a->name, b->name) != 0 || a->label_count != b->label_count ||
            !same_value(a->value, b->value) || a->has_timestamp != b->has_timestamp ||
            (a->has_timestamp && a->timestamp_ms != b->timestamp_ms))
            abort();
        if (limits.max_labels && a->label_count > limits.max_labels)
            abort();
        for (int k = 0; k < a->label_count; k++) {
            if (strcmp(a->labels[k].name, b->labels[k].name) != 0 ||
                strcmp(a->labels[k].value, b->labels[k].value) != 0)
                abort();
        }
    }
    prom_doc_destroy(&again);
    prom_doc_destroy(&doc);
    buf_free(&text);
    return 0;
}
