/*  fuzz_sse: any bytes, split anywhere, must give exactly the events of the whole body,
    never crash, never read or write out of bounds, and leave the parser reusable.

    Input layout: byte 0 picks max_event_bytes (small, so oversize paths run), bytes 1..8
    are chunk sizes used in turn (1..32 each, 0 means 1), the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sse.h"

typedef struct {
    uint64_t hash; /* FNV-1a over every event's type, id and data, with separators */
    int events;
} digest_t;

static void hash_bytes(digest_t *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d->hash ^= (unsigned char)s[i];
        d->hash *= 1099511628211ULL;
    }
}

static int on_event(void *arg, const sse_event_t *ev)
{
    digest_t *d = arg;
    if (ev->data[ev->data_len] != '\0' || ev->event_len == 0 || ev->id[ev->id_len] != '\0')
        abort();
    hash_bytes(d, ev->event, ev->event_len);
    hash_bytes(d, "\x1f", 1);
    hash_bytes(d, ev->id, ev->id_len);
    hash_bytes(d, "\x1f", 1);
    hash_bytes(d, ev->data, ev->data_len);
    hash_bytes(d, "\x1e", 1);
    d->events++;
    return 0;
}

typedef struct {
    digest_t digest;
    int oversize;
    int truncated;
} outcome_t;

static char *chunk_block; /* 32 bytes, for the split runs */

static void run(sse_parser_t *p, const char *body, size_t len, const uint8_t *sizes, outcome_t *out)
{
    out->digest.hash = 1469598103934665603ULL;
    out->digest.events = 0;
    out->oversize = 0;
    size_t at = 0;
    int turn = 0;
    while (at < len) {
        size_t n = len - at;
        if (sizes) {
            size_t want = sizes[turn++ % 8] % 33;
            want = want ? want : 1;
            if (want < n)
                n = want;
        }
        /* each chunk is copied to the end of a 32-byte heap block (allocated once), so
           ASan catches any read past the chunk without a malloc per chunk */
        const char *chunk = body + at;
        if (sizes) {
            memcpy(chunk_block + 32 - n, body + at, n);
            chunk = chunk_block + 32 - n;
        }
        if (sse_parser_feed(p, chunk, n, on_event, &out->digest) == SSE_ERR_OVERSIZE)
            out->oversize = 1;
        if (sse_parser_consumed(p) != n) /* nothing stops, so everything is parsed */
            abort();
        at += n;
    }
    out->truncated = sse_parser_finish(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    if (!chunk_block)
        chunk_block = malloc(32);
    size_t max_event_bytes = 1 + data[0] % 128;
    const uint8_t *sizes = data + 1;
    const char *body = (const char *)data + 9;
    size_t len = size - 9;

    sse_parser_t *whole = sse_parser_new(max_event_bytes);
    sse_parser_t *split = sse_parser_new(max_event_bytes);
    outcome_t a, b, c;
    run(whole, body, len, NULL, &a);
    run(split, body, len, sizes, &b);
    if (a.digest.hash != b.digest.hash || a.digest.events != b.digest.events ||
        a.oversize != b.oversize || a.truncated != b.truncated)
        abort();
    /* after finish the parser is as new: the same stream gives the same events again,
       also after a reset in the middle of another stream */
    sse_parser_feed(split, body, len / 2, NULL, NULL);
    sse_parser_reset(split);
    run(split, body, len, sizes, &c);
    if (c.digest.hash != a.digest.hash || c.truncated != a.truncated)
        abort();
    sse_parser_destroy(&whole);
    sse_parser_destroy(&split);
    return 0;
}
