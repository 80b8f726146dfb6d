/*  report_chart.c: the report's charts, drawn as inline SVG (no script, no fetch).

    One kind of chart covers every figure: x/y series on linear axes with "nice" ticks
    (1, 2, 2.5 or 5 times a power of ten), vertical marks (phase boundaries, chaos marks,
    the saturation and operating points) and shaded windows (faults). Each point carries
    an SVG <title>, which browsers show as a tooltip on hover, so values can be read off
    without any JavaScript. The SVG scales with the page (viewBox, width 100%).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

const char *const REPORT_PALETTE[REPORT_PALETTE_SIZE] = {
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"};

/* The drawing, in SVG user units; the page scales it. */
#define CHART_W      1000.0
#define CHART_H      270.0
#define PLOT_LEFT    70.0
#define PLOT_RIGHT   (CHART_W - 20.0)
#define PLOT_TOP     30.0
#define PLOT_BOTTOM  (CHART_H - 42.0)
#define CHAR_W       6.3 /* an 11px label character, to decide whether a label fits */
#define TICKS_WANTED 5

char *report_format_number(char *dst, size_t size, double v)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(dst, size, "-");
    else if (a >= 1e9)
        snprintf(dst, size, "%.3gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(dst, size, "%.3gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(dst, size, "%.3gk", v / 1e3);
    else if (a >= 100 || v == floor(v))
        snprintf(dst, size, "%.0f", v);
    else if (a >= 1)
        snprintf(dst, size, "%.3g", v);
    else
        snprintf(dst, size, "%.2g", v);
    return dst;
}

/* The tick step for a range: 1, 2, 2.5 or 5 x 10^k, about TICKS_WANTED ticks. */
static double nice_step(double range)
{
    if (!(range > 0))
        return 1;
    double raw = range / TICKS_WANTED;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nice * mag;
}

typedef struct {
    double x_min, x_max, y_min, y_max;
} extent_t;

static bool chart_extent(const report_chart_t *c, extent_t *e)
{
    bool any = false;
    e->x_min = e->y_min = INFINITY;
    e->x_max = e->y_max = -INFINITY;
    for (int s = 0; s < c->series_count; s++) {
        const report_series_t *sr = &c->series[s];
        for (int i = 0; i < sr->count; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i]))
                continue;
            any = true;
            e->x_min = fmin(e->x_min, sr->x[i]);
            e->x_max = fmax(e->x_max, sr->x[i]);
            e->y_min = fmin(e->y_min, sr->y[i]);
            e->y_max = fmax(e->y_max, sr->y[i]);
        }
    }
    if (!any)
        return false;
    for (int m = 0; m < c->mark_count; m++) {
        if (isfinite(c->marks[m].x)) {
            e->x_min = fmin(e->x_min, c->marks[m].x);
            e->x_max = fmax(e->x_max, c->marks[m].x);
        }
    }
    for (int b = 0; b < c->band_count; b++) {
        if (isfinite(c->bands[b].x0) && isfinite(c->bands[b].x1)) {
            e->x_min = fmin(e->x_min, c->bands[b].x0);
            e->x_max = fmax(e->x_max, c->bands[b].x1);
        }
    }
    if (c->x_fixed && c->x_max > c->x_min) {
        e->x_min = c->x_min;
        e->x_max = c->x_max;
    }
    /* Counts, rates and latencies are read against zero: a line at 480 on an axis that
       starts at 470 looks like a cliff. */
    if (e->y_min > 0)
        e->y_min = 0;
    if (!c->x_fixed && e->x_min > 0 && e->x_min < 0.25 * e->x_max)
        e->x_min = 0;
    if (e->x_max <= e->x_min)
        e->x_max = e->x_min + 1;
    if (e->y_max <= e->y_min)
        e->y_max = e->y_min + 1;
    return true;
}

typedef struct {
    extent_t e;
} scale_t;

static double px_x(const scale_t *s, double x)
{
    return PLOT_LEFT + (x - s->e.x_min) / (s->e.x_max - s->e.x_min) * (PLOT_RIGHT - PLOT_LEFT);
}

static double px_y(const scale_t *s, double y)
{
    return PLOT_BOTTOM - (y - s->e.y_min) / (s->e.y_max - s->e.y_min) * (PLOT_BOTTOM - PLOT_TOP);
}

static void draw_axes(buf_t *out, scale_t *s, const report_chart_t *c)
{
    char num[32];
    double ystep = nice_step(s->e.y_max - s->e.y_min);
    s->e.y_max = ceil(s->e.y_max / ystep) * ystep;
    s->e.y_min = floor(s->e.y_min / ystep) * ystep;
    double xstep = nice_step(s->e.x_max - s->e.x_min);
    for (double y = s->e.y_min; y <= s->e.y_max + ystep * 1e-6; y += ystep) {
        double py = px_y(s, y);
        buf_printf(out,
                   "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                   PLOT_LEFT, py, PLOT_RIGHT, py, PLOT_LEFT - 6, py + 4,
                   report_format_number(num, sizeof num, y));
    }
    for (double x = ceil(s->e.x_min / xstep) * xstep; x <= s->e.x_max + xstep * 1e-6; x += xstep) {
        double px = px_x(s, x);
        buf_printf(out,
                   "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                   px, PLOT_BOTTOM, px, PLOT_BOTTOM + 5, px, PLOT_BOTTOM + 18,
                   report_format_number(num, sizeof num, x));
    }
    buf_printf(out,
               "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
               PLOT_LEFT, PLOT_TOP, PLOT_LEFT, PLOT_BOTTOM, PLOT_LEFT, PLOT_BOTTOM, PLOT_RIGHT,
               PLOT_BOTTOM);
    if (c->x_label) {
        buf_printf(out, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                   (PLOT_LEFT + PLOT_RIGHT) / 2, CHART_H - 6);
        report_escape(out, c->x_label);
        buf_append_str(out, "</text>\n");
    }
    if (c->y_label) {
        buf_printf(out, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\">", PLOT_LEFT - 60,
                   PLOT_TOP - 12);
        report_escape(out, c->y_label);
        buf_append_str(out, "</text>\n");
    }
}

static void draw_bands(buf_t *out, const scale_t *s, const report_chart_t *c)
{
    for (int b = 0; b < c->band_count; b++) {
        const report_band_t *band = &c->bands[b];
        if (!isfinite(band->x0) || !isfinite(band->x1))
            continue;
        double x0 = px_x(s, band->x0), x1 = px_x(s, fmax(band->x1, band->x0));
        buf_printf(out,
                   "<rect class=\"band\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                   "<title>",
                   x0, PLOT_TOP, fmax(x1 - x0, 1.5), PLOT_BOTTOM - PLOT_TOP);
        report_escape(out, band->label ? band->label : "");
        buf_append_str(out, "</title></rect>\n");
    }
}

/* Appends label shortened to max_chars (with an ellipsis), escaped. */
static void append_label(buf_t *out, const char *label, int max_chars)
{
    /* Count code points, not bytes, so a UTF-8 name is not cut inside a character. */
    int chars = 0;
    const char *p = label;
    const char *cut = NULL;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (chars == max_chars - 1)
                cut = p;
            chars++;
        }
    }
    if (chars <= max_chars || !cut) {
        report_escape(out, label);
        return;
    }
    buf_t part;
    buf_init(&part);
    buf_append(&part, label, (size_t)(cut - label));
    report_escape(out, part.data ? part.data : "");
    buf_free(&part);
    buf_append_str(out, "\xE2\x80\xA6"); /* ... */
}

static void draw_marks(buf_t *out, const scale_t *s, const report_chart_t *c)
{
    for (int m = 0; m < c->mark_count; m++) {
        const report_mark_t *mk = &c->marks[m];
        if (!isfinite(mk->x))
            continue;
        double px = px_x(s, mk->x);
        buf_printf(out,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"1.2\"%s><title>",
                   px, PLOT_TOP - 12, px, PLOT_BOTTOM, mk->color,
                   mk->dashed ? " stroke-dasharray=\"4 3\"" : "");
        report_escape(out, mk->label ? mk->label : "");
        buf_append_str(out, "</title></line>\n");
        if (!mk->label || !*mk->label)
            continue;
        /* Labels alternate between two rows; a label may use the room up to the next mark
           on its own row (two marks on), and is left out when fewer than 3 characters fit. */
        int row = m % 2;
        double limit = PLOT_RIGHT + 10;
        for (int n = m + 2; n < c->mark_count; n += 2) {
            if (isfinite(c->marks[n].x)) {
                limit = px_x(s, c->marks[n].x);
                break;
            }
        }
        int max_chars = (int)((limit - px - 6) / CHAR_W);
        if (max_chars < 3)
            continue;
        buf_printf(out, "<text class=\"mark\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", px + 3,
                   PLOT_TOP - 16 + 11.0 * row, mk->color);
        append_label(out, mk->label, max_chars);
        buf_append_str(out, "</text>\n");
    }
}

static void draw_series(buf_t *out, const scale_t *s, const report_series_t *sr)
{
    buf_printf(out, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s d=\"", sr->color,
               sr->dashed ? " stroke-dasharray=\"6 4\"" : "");
    bool pen_down = false;
    for (int i = 0; i < sr->count; i++) {
        if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) {
            pen_down = false; /* a gap: no sample in this interval */
            continue;
        }
        buf_printf(out, "%c%.1f %.1f ", pen_down ? 'L' : 'M', px_x(s, sr->x[i]), px_y(s, sr->y[i]));
        pen_down = true;
    }
    buf_append_str(out, "\"/>\n");
    /* A lone point between gaps draws no line: give it a dot so it is not lost. */
    for (int i = 0; i < sr->count; i++) {
        if (!isfinite(sr->x[i]) || !isfinite(sr->y[i]))
            continue;
        bool lone =
            (i == 0 || !isfinite(sr->y[i - 1])) && (i == sr->count - 1 || !isfinite(sr->y[i + 1]));
        if (!sr->points && !lone)
            continue;
        char xs[32], ys[32];
        buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>",
                   px_x(s, sr->x[i]), px_y(s, sr->y[i]), sr->points ? "4" : "2", sr->color);
        report_escape(out, sr->label);
        buf_printf(out, ": %s at %s</title></circle>\n",
                   report_format_number(ys, sizeof ys, sr->y[i]),
                   report_format_number(xs, sizeof xs, sr->x[i]));
    }
}

void report_chart_svg(buf_t *out, const report_chart_t *c)
{
    buf_append_str(out, "<figure class=\"chart\"><figcaption>");
    report_escape(out, c->title);
    buf_append_str(out, "</figcaption>\n");
    scale_t s;
    if (!chart_extent(c, &s.e)) {
        /* Nothing to draw: a line of text, not an empty frame the height of a chart. */
        buf_append_str(out, "<p class=\"note\">no data in this run</p></figure>\n");
        return;
    }
    buf_append_str(out, "<div class=\"legend\">");
    for (int i = 0; i < c->series_count; i++) {
        buf_printf(out, "<span><i style=\"background:%s\"></i>", c->series[i].color);
        report_escape(out, c->series[i].label);
        buf_append_str(out, "</span>");
    }
    buf_append_str(out, "</div>\n");
    buf_printf(out,
               "<svg viewBox=\"0 0 %.0f %.0f\" "
               "width=\"100%%\" role=\"img\">\n",
               CHART_W, CHART_H);
    draw_axes(out, &s, c);
    draw_bands(out, &s, c);
    draw_marks(out, &s, c);
    for (int i = 0; i < c->series_count; i++)
        draw_series(out, &s, &c->series[i]);
    buf_append_str(out, "</svg></figure>\n");
}
