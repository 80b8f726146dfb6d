/*  sse.c: incremental Server-Sent Events parser (WHATWG "event stream" rules).

    Hot path: runs inside libcurl's write callback for every byte of every
   streamed response. No allocation after sse_parser_new (one block: the struct
   with the data buffer behind it), no locks, and bytes are copied once,
   straight into the event being assembled. Runs of value bytes are scanned for
   the line end and copied in one memcpy; only line starts and field names go
   byte by byte.

    The parser is a small state machine that survives any split of the input:
   the only state carried between feed calls is the line state, the field name
   read so far (a few bytes), the event being built, whether the last byte was a
   CR (so that a CR ending one chunk and an LF starting the next make one line
   end), and how much of a leading BOM has been seen.
*/
#include "common/sse.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An event type is a short word ("message", "error"); longer means a hostile or
   broken server, and the event is treated as oversize. */
#define SSE_MAX_EVENT_TYPE_BYTES 64
/* Event ids are opaque resume tokens; surge never resumes, it only reports
 * them. */
#define SSE_MAX_ID_BYTES 256
/* Longest field name we need to recognise is "retry"; longer names are unknown
 * fields. */
#define SSE_MAX_FIELD_NAME_BYTES 8

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

typedef enum {
    LINE_START,  /* at the first byte of a line */
    FIELD_NAME,  /* reading a field name, up to ':' or the line end */
    VALUE_SPACE, /* just after the colon: one optional space is dropped */
    VALUE,       /* reading the value up to the line end */
    COMMENT,     /* a line starting with ':' (keep-alives): ignored to the line end */
} line_state_t;

typedef enum {
    FIELD_IGNORED, /* retry, unknown fields, and everything while skipping an
                      oversize event */
    FIELD_DATA,
    FIELD_EVENT,
    FIELD_ID,
} field_t;

struct _sse_parser_t {
    size_t max_event_bytes;
    line_state_t state;
    field_t field;
    bool after_cr;         /* last byte was CR: an LF right after it ends nothing new */
    bool event_started;    /* a field line was seen since the last blank line */
    bool skipping;         /* inside an oversize event, discarding until its blank line */
    bool bom_done;         /* past the point where a BOM may appear */
    int bom_matched;       /* bytes of the BOM matched so far (it may be split too) */
    size_t consumed_bytes; /* of the last feed call */

    char name[SSE_MAX_FIELD_NAME_BYTES];
    size_t name_len; /* may exceed the buffer: then the name matches nothing */

    char event_type[SSE_MAX_EVENT_TYPE_BYTES + 1];
    size_t event_type_len;

    /* Two id buffers: an id line is read into the spare one and only becomes the
       last event id when its line ends without a NUL (the spec ignores ids
       containing NUL). */
    char id[2][SSE_MAX_ID_BYTES + 1];
    size_t id_len[2];
    int id_current;
    bool id_has_nul;

    size_t data_lines; /* data lines in the current event: lines after the first
                          add '\n' */
    size_t data_len;
    char data[]; /* max_event_bytes + 1 (NUL) */
};

sse_parser_t *sse_parser_new(size_t max_event_bytes)
{
    if (max_event_bytes == 0)
        max_event_bytes = SSE_DEFAULT_MAX_EVENT_BYTES;
    sse_parser_t *self = malloc(sizeof *self + max_event_bytes + 1);
    if (!self)
        return NULL;
    self->max_event_bytes = max_event_bytes;
    sse_parser_reset(self);
    return self;
}

void sse_parser_destroy(sse_parser_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* Forgets the event being built (not the last id): after a dispatch or a
 * discard. */
static void event_clear(sse_parser_t *self)
{
    self->data_len = 0;
    self->data_lines = 0;
    self->data[0] = '\0';
    self->event_type_len = 0;
    self->event_started = false;
    self->skipping = false;
}

void sse_parser_reset(sse_parser_t *self)
{
    event_clear(self);
    self->state = LINE_START;
    self->field = FIELD_IGNORED;
    self->after_cr = false;
    self->bom_done = false;
    self->bom_matched = 0;
    self->consumed_bytes = 0;
    self->name_len = 0;
    self->id_current = 0;
    self->id_len[0] = self->id_len[1] = 0;
    self->id[0][0] = self->id[1][0] = '\0';
    self->id_has_nul = false;
}

/* The event has grown past a limit: report it once, drop what was built, and
   skip to the blank line that ends it. Returns the status to report for this
   call. */
static sse_status_t event_overflow(sse_parser_t *self)
{
    bool first = !self->skipping;
    self->data_len = 0;
    self->data_lines = 0;
    self->data[0] = '\0';
    self->event_type_len = 0;
    self->skipping = true;
    self->field = FIELD_IGNORED;
    return first ? SSE_ERR_OVERSIZE : SSE_OK;
}

static bool name_is(const sse_parser_t *self, const char *word, size_t word_len)
{
    return self->name_len == word_len && memcmp(self->name, word, word_len) == 0;
}

/* The field name is complete (at ':' or at the line end): decide where its
 * value goes. */
static sse_status_t field_begin(sse_parser_t *self)
{
    self->field = FIELD_IGNORED;
    if (self->skipping)
        return SSE_OK;
    if (name_is(self, "data", 4)) {
        self->field = FIELD_DATA;
        if (self->data_lines > 0) {
            if (self->data_len + 1 > self->max_event_bytes)
                return event_overflow(self);
            self->data[self->data_len++] = '\n';
        }
    } else if (name_is(self, "event", 5)) {
        self->field = FIELD_EVENT;
        self->event_type_len = 0; /* a later event: line replaces an earlier one */
    } else if (name_is(self, "id", 2)) {
        self->field = FIELD_ID;
        self->id_len[1 - self->id_current] = 0;
        self->id_has_nul = false;
    }
    return SSE_OK;
}

static sse_status_t value_append(sse_parser_t *self, const char *bytes, size_t len)
{
    switch (self->field) {
    case FIELD_DATA:
        if (len > self->max_event_bytes - self->data_len)
            return event_overflow(self);
        memcpy(self->data + self->data_len, bytes, len);
        self->data_len += len;
        break;
    case FIELD_EVENT:
        if (len > SSE_MAX_EVENT_TYPE_BYTES - self->event_type_len)
            return event_overflow(self);
        memcpy(self->event_type + self->event_type_len, bytes, len);
        self->event_type_len += len;
        break;
    case FIELD_ID: {
        int spare = 1 - self->id_current;
        if (len > SSE_MAX_ID_BYTES - self->id_len[spare])
            return event_overflow(self);
        if (memchr(bytes, '\0', len))
            self->id_has_nul = true;
        memcpy(self->id[spare] + self->id_len[spare], bytes, len);
        self->id_len[spare] += len;
        break;
    }
    case FIELD_IGNORED:
        break;
    }
    return SSE_OK;
}

/* A field line ended. */
static void field_end(sse_parser_t *self)
{
    if (self->field == FIELD_DATA) {
        self->data_lines++;
    } else if (self->field == FIELD_ID && !self->id_has_nul) {
        int spare = 1 - self->id_current;
        self->id[spare][self->id_len[spare]] = '\0';
        self->id_current = spare;
    }
    self->field = FIELD_IGNORED;
}

/* A blank line: dispatch the event if it has data, then start a new one.
   Returns non-zero when the callback asked to stop. */
static int event_dispatch(sse_parser_t *self, sse_event_fn *on_event, void *arg)
{
    int stop = 0;
    if (!self->skipping && self->data_lines > 0) {
        self->data[self->data_len] = '\0';
        self->event_type[self->event_type_len] = '\0';
        sse_event_t event = {
            .event = self->event_type_len ? self->event_type : "message",
            .event_len = self->event_type_len ? self->event_type_len : 7,
            .data = self->data,
            .data_len = self->data_len,
            .id = self->id[self->id_current],
            .id_len = self->id_len[self->id_current],
        };
        stop = on_event ? on_event(arg, &event) : 0;
    }
    event_clear(self);
    return stop;
}

/* Index of the first CR or LF at or after `from` (len if none). memchr runs a word or a
   vector at a time; the position of the next LF is remembered for the call (*lf_at), so
   a chunk is scanned for LF once however many CR-only lines it holds. */
static size_t find_line_end(const char *bytes, size_t len, size_t from, size_t *lf_at)
{
    if (len - from < 16) { /* tiny reads: a plain loop beats two library calls */
        size_t i = from;
        while (i < len && bytes[i] != '\n' && bytes[i] != '\r')
            i++;
        return i;
    }
    if (*lf_at < from || *lf_at == SIZE_MAX) {
        const char *lf = memchr(bytes + from, '\n', len - from);
        *lf_at = lf ? (size_t)(lf - bytes) : len;
    }
    const char *cr = memchr(bytes + from, '\r', *lf_at - from);
    return cr ? (size_t)(cr - bytes) : *lf_at;
}

static size_t find_name_end(const char *bytes, size_t len)
{
    size_t i = 0;
    while (i < len && bytes[i] != ':' && bytes[i] != '\n' && bytes[i] != '\r')
        i++;
    return i;
}

/* The line machine, after BOM handling. Sets *used to the bytes parsed (all of them
   unless the callback stopped). */
static sse_status_t feed_lines(sse_parser_t *self, const char *bytes, size_t len,
                               sse_event_fn *on_event, void *arg, size_t *used)
{
    sse_status_t status = SSE_OK;
    size_t i = 0;
    size_t lf_at = SIZE_MAX; /* next LF in this chunk, not yet searched */
    while (i < len) {
        char c = bytes[i];
        if (self->after_cr) {
            self->after_cr = false;
            if (c == '\n') {
                i++;
                continue;
            }
        }
        bool eol = (c == '\n' || c == '\r');
        switch (self->state) {
        case LINE_START:
            if (eol) {
                self->after_cr = (c == '\r');
                i++;
                if (event_dispatch(self, on_event, arg)) {
                    *used = i;
                    return status;
                }
                continue;
            }
            if (c == ':') {
                self->state = COMMENT;
                i++;
                continue;
            }
            self->event_started = true;
            self->name_len = 0;
            self->state = FIELD_NAME;
            continue;
        case FIELD_NAME: {
            size_t n = find_name_end(bytes + i, len - i);
            if (self->name_len + n <= SSE_MAX_FIELD_NAME_BYTES)
                memcpy(self->name + self->name_len, bytes + i, n);
            self->name_len += n; /* past the buffer: matches no known name */
            i += n;
            if (i == len)
                continue;
            if (field_begin(self) != SSE_OK)
                status = SSE_ERR_OVERSIZE;
            if (bytes[i] == ':') {
                self->state = VALUE_SPACE;
                i++;
                continue;
            }
            field_end(self); /* a field name alone: its value is empty */
            self->state = LINE_START;
            self->after_cr = (bytes[i] == '\r');
            i++;
            continue;
        }
        case VALUE_SPACE:
            self->state = VALUE;
            if (c == ' ') {
                i++;
                continue;
            }
            /* fall through */
        case VALUE: {
            size_t n = find_line_end(bytes, len, i, &lf_at) - i;
            if (n && value_append(self, bytes + i, n) != SSE_OK)
                status = SSE_ERR_OVERSIZE;
            i += n;
            if (i == len)
                continue;
            field_end(self);
            self->state = LINE_START;
            self->after_cr = (bytes[i] == '\r');
            i++;
            continue;
        }
        case COMMENT: {
            i = find_line_end(bytes, len, i, &lf_at);
            if (i == len)
                continue;
            self->state = LINE_START;
            self->after_cr = (bytes[i] == '\r');
            i++;
            continue;
        }
        }
    }
    *used = len;
    return status;
}

sse_status_t sse_parser_feed(sse_parser_t *self, const char *bytes, size_t len,
                             sse_event_fn *on_event, void *arg)
{
    /* A UTF-8 BOM is dropped only at the very start of the stream; it may arrive
       split over several calls, and a prefix that turns out not to be a BOM is
       replayed. */
    size_t bom_bytes = 0, used = 0;
    while (!self->bom_done && len > 0) {
        if ((unsigned char)bytes[0] == utf8_bom[self->bom_matched]) {
            bytes++;
            len--;
            bom_bytes++;
            if (++self->bom_matched == 3)
                self->bom_done = true;
            continue;
        }
        self->bom_done = true;
        if (self->bom_matched > 0) {
            /* a BOM prefix has no line end: no event can fire */
            feed_lines(self, (const char *)utf8_bom, (size_t)self->bom_matched, on_event, arg,
                       &used);
        }
    }
    self->consumed_bytes = bom_bytes;
    if (len == 0)
        return SSE_OK;
    sse_status_t status = feed_lines(self, bytes, len, on_event, arg, &used);
    self->consumed_bytes = bom_bytes + used;
    return status;
}

size_t sse_parser_consumed(const sse_parser_t *self)
{
    return self->consumed_bytes;
}

int sse_parser_finish(sse_parser_t *self)
{
    bool truncated = self->event_started || self->state == FIELD_NAME ||
                     self->state == VALUE_SPACE || self->state == VALUE;
    bool bom_pending = !self->bom_done && self->bom_matched > 0;
    sse_parser_reset(self);
    return (truncated || bom_pending) ? 1 : 0;
}
