/*  sse.h: incremental Server-Sent Events parser (WHATWG "event stream" rules).

    Feed it bytes as they arrive from libcurl's write callback, split anywhere; it
    calls back once per complete event, with exactly the events the whole body would
    have given. Handles `data:` (multi-line data joined with '\n'), `event:`, `id:`,
    comments (": ..."), fields without a colon, an optional single space after the
    colon, LF / CRLF / CR line endings (including a CR at the end of one chunk and
    the LF at the start of the next), and a UTF-8 BOM at the very start.

    Hot path: no allocation after sse_parser_new. Each event is assembled in a
    buffer of fixed capacity; an event larger than max_event_bytes (data bytes, with
    the '\n' between lines), or with an `event:` longer than 64 bytes or an `id:`
    longer than 256, is reported once as SSE_ERR_OVERSIZE and its remaining bytes
    skipped up to the blank line that ends it, so a hostile server cannot make the
    client grow without bound. `retry:` and unknown fields are ignored.
*/
#ifndef SURGE_SSE_H
#define SURGE_SSE_H

#include <stddef.h>

#define SSE_DEFAULT_MAX_EVENT_BYTES (256 * 1024)

typedef enum {
    SSE_OK = 0,
    SSE_ERR_OVERSIZE = 1, /* an event was larger than max_event_bytes */
} sse_status_t;

typedef struct {
    const char *event; /* "message" when no event: field was given */
    size_t event_len;
    const char *data; /* joined data lines, without the final '\n'; NUL-terminated */
    size_t data_len;
    const char *id; /* last event id seen on this stream, "" if none */
    size_t id_len;
} sse_event_t;

/* Return non-zero to stop parsing (sse_parser_feed then returns early). */
typedef int(sse_event_fn)(void *arg, const sse_event_t *event);

typedef struct _sse_parser_t sse_parser_t;

/* max_event_bytes: 0 = SSE_DEFAULT_MAX_EVENT_BYTES. NULL only when out of memory. */
sse_parser_t *sse_parser_new(size_t max_event_bytes);
void sse_parser_destroy(sse_parser_t **self_p);
/* Forgets any partial event and the last id: ready for a new stream. No allocation. */
void sse_parser_reset(sse_parser_t *self);
/* Parses len bytes; calls on_event for each completed event (event->data and the
   other pointers are borrowed: valid only during the callback). Returns
   SSE_ERR_OVERSIZE when an oversize event was met during this call (once per event;
   parsing carries on past it, in this call and later ones), else SSE_OK.
   An event is dispatched when its blank line arrives and it had at least one `data`
   line (per the spec, so "data:" alone gives one event with empty data; an event with
   only `event:`/`id:`/comments is not dispatched).
   When on_event returns non-zero, feed returns at once; the bytes after that event's
   blank line are not consumed (sse_parser_consumed says how many were): the parser is
   between events, so the rest may be fed later, or the parser reset. */
sse_status_t sse_parser_feed(sse_parser_t *self, const char *bytes, size_t len,
                             sse_event_fn *on_event, void *arg);
/* Bytes of the last sse_parser_feed call that were parsed: len, unless on_event
   stopped it. */
size_t sse_parser_consumed(const sse_parser_t *self);
/* End of stream: an event not terminated by a blank line is discarded (per the spec);
   returns 1 if such a partial event was pending (any field line or partial line other
   than a comment since the last blank line: a truncated stream), else 0. Then resets
   the parser, as sse_parser_reset does, ready for a new stream. */
int sse_parser_finish(sse_parser_t *self);

#endif
