/*  bench_parse: what it costs surge to turn streamed bytes into measured events.

    A realistic vLLM chat stream (role chunk, content chunks with continuous usage,
    finish chunk, usage chunk, [DONE]: 1,000 events, ~330 bytes each) is fed to the SSE
    parser, and each event's data to the OpenAI event parser, in three chunkings: one
    event per libcurl write callback (a streaming server at low load), 16 KiB callbacks
    (CURL_MAX_WRITE_SIZE: a backlog read at once), and one byte per call (the worst case).
    Prints ns per event and MB/s, the median of several runs. Never pass/fail.
    Reference, measured in the same run: the same SSE reassembly with each event parsed by
    a general JSON library (jansson: build the tree, look up choices/delta/content and
    usage, free it), which is what a client without a purpose-built extractor does; the
    last line gives the ratio. "general" is surge's parser with its fast path off (what
    every event cost before the fast path), in the same run.

        build/bench/bench_parse [runs]
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/oai_event.h"
#include "common/sse.h"

#define STREAM_EVENTS 1000

/* PARSE_GENERAL: surge's parser with its fast path off (every event tokenized by jsmn),
   the cost before the fast path, measured in the same run */
typedef enum { PARSE_NONE, PARSE_SURGE, PARSE_GENERAL, PARSE_JANSSON } parse_t;

typedef struct {
    oai_parser_t *oai;
    oai_parser_t *oai_general;
    oai_tokens_t tokens;
    parse_t parse;
    int64_t events;
    int64_t output_events;
    int64_t usage_tokens; /* the reference's last usage.completion_tokens */
} sink_t;

static int on_event(void *arg, const sse_event_t *ev)
{
    sink_t *sink = arg;
    sink->events++;
    if (sink->parse == PARSE_JANSSON) {
        json_t *root = json_loadb(ev->data, ev->data_len, 0, NULL);
        json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
        const char *text =
            json_string_value(json_object_get(json_object_get(choice, "delta"), "content"));
        json_t *usage = json_object_get(root, "usage");
        sink->output_events += text && *text;
        sink->usage_tokens = json_integer_value(json_object_get(usage, "completion_tokens"));
        json_decref(root);
    } else if (sink->parse != PARSE_NONE) {
        oai_event_t out;
        oai_parser_parse(sink->parse == PARSE_SURGE ? sink->oai : sink->oai_general, ev->data,
                         ev->data_len, &out);
        oai_tokens_add(&sink->tokens, &out);
        sink->output_events += oai_event_has_output(&out);
    }
    return 0;
}

/* Words of varying length, as a tokenizer would emit them (with escapes sometimes). */
static const char *const words[] = {"The",  " model", " answered", ",",        " \\\"quickly\\\"",
                                    " and", "\\n",    " the",      " cluster", " held",
                                    "."};

static void stream_build(buf_t *b)
{
    const char *head = "data: {\"id\":\"chatcmpl-3f9a2c7d1e6b4a58\",\"object\":"
                       "\"chat.completion.chunk\",\"created\":1718000000,\"model\":"
                       "\"meta-llama/Llama-3.1-8B-Instruct\",";
    buf_printf(b,
               "%s\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
               "\"logprobs\":null,\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":512,"
               "\"total_tokens\":512,\"completion_tokens\":0}}\n\n",
               head);
    int n = 0;
    for (; n < STREAM_EVENTS - 4; n++)
        buf_printf(b,
                   "%s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
                   "\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":512,\"total_tokens\":"
                   "%d,\"completion_tokens\":%d}}\n\n",
                   head, words[n % (sizeof words / sizeof words[0])], 513 + n, n + 1);
    buf_printf(b,
               "%s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,"
               "\"finish_reason\":\"stop\",\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":"
               "512,\"total_tokens\":%d,\"completion_tokens\":%d}}\n\n",
               head, 512 + n, n);
    buf_printf(b,
               "%s\"choices\":[],\"usage\":{\"prompt_tokens\":512,\"total_tokens\":%d,"
               "\"completion_tokens\":%d}}\n\n",
               head, 512 + n, n);
    buf_append_str(b, "data: [DONE]\n\n");
}

/* Offsets where each event ends (after its blank line), for event-per-callback feeding. */
static size_t event_ends(const buf_t *b, size_t *ends, size_t max)
{
    size_t n = 0;
    for (size_t i = 1; i < b->len && n < max; i++)
        if (b->data[i - 1] == '\n' && b->data[i] == '\n')
            ends[n++] = i + 1;
    return n;
}

typedef enum { FEED_PER_EVENT, FEED_16K, FEED_BYTE } feed_t;

/* One pass over the stream; returns elapsed ns. */
static int64_t pass(sse_parser_t *sse, sink_t *sink, const buf_t *b, feed_t feed,
                    const size_t *ends, size_t nends)
{
    int64_t t0 = clock_now_ns();
    if (feed == FEED_PER_EVENT) {
        size_t at = 0;
        for (size_t e = 0; e < nends; e++) {
            sse_parser_feed(sse, b->data + at, ends[e] - at, on_event, sink);
            at = ends[e];
        }
    } else {
        size_t step = feed == FEED_16K ? 16384 : 1;
        for (size_t at = 0; at < b->len; at += step)
            sse_parser_feed(sse, b->data + at, at + step <= b->len ? step : b->len - at, on_event,
                            sink);
    }
    sse_parser_finish(sse);
    return clock_now_ns() - t0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    if (runs < 1)
        runs = 1;
    buf_t b;
    buf_init(&b);
    stream_build(&b);
    static size_t ends[STREAM_EVENTS + 1];
    size_t nends = event_ends(&b, ends, STREAM_EVENTS + 1);

    sse_parser_t *sse = sse_parser_new(0);
    sink_t sink = {.oai = oai_parser_new(0), .oai_general = oai_parser_new(0)};
    oai_parser_set_fast_path(sink.oai_general, false);
    printf("stream: %zu events, %zu bytes (%.0f bytes/event)\n\n", nends, b.len,
           (double)b.len / (double)nends);
    printf("%-22s %-12s %12s %10s\n", "work", "feeding", "ns/event", "MB/s");

    static const char *const feed_names[] = {"event/callback", "16KiB", "1 byte"};
    static const char *const parse_names[] = {"SSE only", "SSE + JSON event", "SSE + JSON, general",
                                              "SSE + jansson (ref)"};
    double per_event_callback[4] = {0};
    for (int json = 0; json < 4; json++) {
        for (int f = 0; f < 3; f++) {
            if ((json == PARSE_JANSSON || json == PARSE_GENERAL) && f != FEED_PER_EVENT)
                continue; /* the reference is measured in the common case only */
            sink.parse = (parse_t)json;
            /* repeat the stream so each timed sample is at least ~20 ms */
            int reps = f == FEED_BYTE ? 4 : 40;
            int64_t *samples = calloc((size_t)runs, sizeof *samples);
            for (int r = 0; r < runs; r++) {
                sink.events = 0;
                sink.output_events = 0;
                int64_t ns = 0;
                for (int k = 0; k < reps; k++) {
                    oai_tokens_reset(&sink.tokens);
                    ns += pass(sse, &sink, &b, (feed_t)f, ends, nends);
                }
                samples[r] = ns;
                if (sink.events != (int64_t)nends * reps ||
                    ((json == PARSE_SURGE || json == PARSE_GENERAL) &&
                     oai_tokens_output(&sink.tokens, NULL) != STREAM_EVENTS - 4)) {
                    fprintf(stderr, "bench_parse: wrong event count\n");
                    return 3;
                }
            }
            qsort(samples, (size_t)runs, sizeof *samples, cmp_i64);
            double median_ns = (double)samples[runs / 2];
            double per_event = median_ns / (double)(nends * (size_t)reps);
            double mb_per_s = (double)(b.len * (size_t)reps) / (median_ns / 1e9) / 1e6;
            printf("%-22s %-12s %12.1f %10.1f\n", parse_names[json], feed_names[f], per_event,
                   mb_per_s);
            if (f == FEED_PER_EVENT)
                per_event_callback[json] = per_event;
            free(samples);
        }
    }
    printf("\nreference / surge, event per callback: %.1fx (jansson tree per event vs "
           "surge's extractor)\n",
           per_event_callback[PARSE_JANSSON] / per_event_callback[PARSE_SURGE]);
    printf("general path / fast path, event per callback: %.2fx\n",
           per_event_callback[PARSE_GENERAL] / per_event_callback[PARSE_SURGE]);
    sse_parser_destroy(&sse);
    oai_parser_destroy(&sink.oai);
    oai_parser_destroy(&sink.oai_general);
    buf_free(&b);
    return 0;
}
