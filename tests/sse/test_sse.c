/*  Proves the SSE parser gives exactly the events of the whole body however the bytes
    are split, and follows the WHATWG event-stream rules surge depends on. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/sse.h"

/* Every dispatched event, flattened into one string ("type|id|data\x1e" per event), so
   two parses compare with one strcmp. */
typedef struct {
    char text[65536];
    size_t len;
    int events;
    int stop_after; /* callback returns 1 after this many events (0 = never) */
} record_t;

static int record_event(void *arg, const sse_event_t *ev)
{
    record_t *r = arg;
    CHECK_INT_EQ(ev->data[ev->data_len], '\0');
    CHECK_INT_EQ(strlen(ev->event), ev->event_len);
    size_t need = ev->event_len + ev->id_len + ev->data_len + 3;
    if (r->len + need < sizeof r->text) {
        memcpy(r->text + r->len, ev->event, ev->event_len);
        r->len += ev->event_len;
        r->text[r->len++] = '|';
        memcpy(r->text + r->len, ev->id, ev->id_len);
        r->len += ev->id_len;
        r->text[r->len++] = '|';
        memcpy(r->text + r->len, ev->data, ev->data_len);
        r->len += ev->data_len;
        r->text[r->len++] = '\x1e';
        r->text[r->len] = '\0';
    }
    r->events++;
    return r->stop_after && r->events >= r->stop_after;
}

static void record_init(record_t *r)
{
    r->len = 0;
    r->text[0] = '\0';
    r->events = 0;
    r->stop_after = 0;
}

typedef struct {
    record_t rec;
    int oversize; /* feed calls that returned SSE_ERR_OVERSIZE */
    int truncated;
} result_t;

/* Feeds body cut at the given split points (ascending, within the body). */
static void parse_split(sse_parser_t *p, const char *body, size_t len, const size_t *cuts,
                        int ncuts, result_t *res)
{
    record_init(&res->rec);
    res->oversize = 0;
    size_t at = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (sse_parser_feed(p, body + at, end - at, record_event, &res->rec) == SSE_ERR_OVERSIZE)
            res->oversize++;
        at = end;
    }
    res->truncated = sse_parser_finish(p);
}

static void parse_whole(sse_parser_t *p, const char *body, result_t *res)
{
    parse_split(p, body, strlen(body), NULL, 0, res);
}

/* A vLLM chat stream (stream_options.include_usage) as the OpenAI server writes it. */
static const char vllm_chat_lf[] =
    "data: {\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\" world\\n\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-7c1f\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
    "12,\"total_tokens\":15,\"completion_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

/* A /v1/completions stream with CRLF line ends, a keep-alive comment and an id. */
static const char vllm_completions_crlf[] =
    ": ping\r\n\r\n"
    "id: 1\r\n"
    "data: {\"id\":\"cmpl-9a\",\"object\":\"text_completion\",\"created\":1718000001,\"model\":"
    "\"Qwen/Qwen2.5-7B\",\"choices\":[{\"index\":0,\"text\":\" Paris\",\"logprobs\":null,"
    "\"finish_reason\":null,\"stop_reason\":null}],\"usage\":null}\r\n\r\n"
    "data: {\"id\":\"cmpl-9a\",\"object\":\"text_completion\",\"created\":1718000001,\"model\":"
    "\"Qwen/Qwen2.5-7B\",\"choices\":[{\"index\":0,\"text\":\".\",\"logprobs\":null,"
    "\"finish_reason\":\"length\",\"stop_reason\":null}],\"usage\":null}\r\n\r\n"
    "data: {\"id\":\"cmpl-9a\",\r\n" /* a server that pretty-prints over several lines */
    "data: \"choices\":[],\r\n"
    "data: \"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\r\n\r\n"
    "data: [DONE]\r\n\r\n";

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += (*s == c);
    return n;
}

static void check_all_splits(const char *body, int expect_events)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t whole, part;
    parse_whole(p, body, &whole);
    CHECK_INT_EQ(whole.rec.events, expect_events);
    CHECK_INT_EQ(whole.truncated, 0);
    size_t len = strlen(body);
    for (size_t a = 0; a <= len; a++) {
        size_t cut[1] = {a};
        parse_split(p, body, len, cut, 1, &part);
        CHECK_MSG(strcmp(part.rec.text, whole.rec.text) == 0, "split at %zu differs", a);
        CHECK_INT_EQ(part.truncated, 0);
    }
    /* three parts: every first cut, second cuts at a stride that still covers every
       distance from the first cut up to 64 bytes (the interesting short gaps) */
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b += (b - a < 64 ? 1 : 37)) {
            size_t cuts[2] = {a, b};
            parse_split(p, body, len, cuts, 2, &part);
            if (strcmp(part.rec.text, whole.rec.text) != 0) {
                check_fail(__FILE__, __LINE__, "splits at %zu,%zu differ", a, b);
                goto done;
            }
        }
    }
done:
    sse_parser_destroy(&p);
    CHECK(p == NULL);
}

static void test_every_split_point_gives_same_events_as_whole_body(void)
{
    check_all_splits(vllm_chat_lf, 6);
    check_all_splits(vllm_completions_crlf, 4);
    /* the whole-body events are the data lines, nothing else */
    sse_parser_t *p = sse_parser_new(0);
    result_t whole;
    parse_whole(p, vllm_completions_crlf, &whole);
    CHECK(strstr(whole.rec.text, "message|1|{\"id\":\"cmpl-9a\"") == whole.rec.text);
    CHECK(strstr(whole.rec.text, "message|1|[DONE]\x1e") != NULL);
    CHECK_INT_EQ(count_char(whole.rec.text, '\x1e'), 4);
    CHECK(strstr(whole.rec.text, "|1|{\"id\":\"cmpl-9a\",\n\"choices\":[],\n\"usage\"") != NULL);
    sse_parser_destroy(&p);
}

static void test_byte_by_byte_feeding_gives_same_events(void)
{
    const char *bodies[] = {vllm_chat_lf, vllm_completions_crlf};
    sse_parser_t *p = sse_parser_new(0);
    for (int b = 0; b < 2; b++) {
        result_t whole, bytes;
        parse_whole(p, bodies[b], &whole);
        size_t len = strlen(bodies[b]);
        size_t *cuts = malloc(len * sizeof *cuts);
        for (size_t i = 0; i < len; i++)
            cuts[i] = i;
        parse_split(p, bodies[b], len, cuts, (int)len, &bytes);
        CHECK_STR_EQ(bytes.rec.text, whole.rec.text);
        CHECK(whole.rec.events > 0);
        free(cuts);
    }
    sse_parser_destroy(&p);
}

static void test_multiline_data_joined_with_newline(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    parse_whole(p, "data: one\ndata:two\ndata:  three\ndata\ndata: \n\n", &r);
    /* one optional space is dropped after the colon, a second one is data; "data" alone
       is an empty line of data */
    CHECK_STR_EQ(r.rec.text, "message||one\ntwo\n three\n\n\x1e");
    sse_parser_destroy(&p);
}

static void test_comments_and_unknown_fields_ignored(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    parse_whole(p,
                ": keep-alive\n"
                "retry: 3000\n"
                "x-vendor: 1\n"
                "Data: not data (field names are case-sensitive)\n"
                "dataa: nor this\n"
                "data: kept\n"
                ":data: a comment that looks like data\n"
                "\n"
                ": only a comment, no event\n\n"
                "event: ping\n\n" /* no data line: not dispatched */
                "event: error\ndata: x\n\n",
                &r);
    CHECK_STR_EQ(r.rec.text, "message||kept\x1e"
                             "error||x\x1e");
    CHECK_INT_EQ(r.truncated, 0);
    sse_parser_destroy(&p);
}

static void test_event_type_resets_but_id_persists(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    parse_whole(p,
                "event: a\nid: 7\ndata: 1\n\n"
                "data: 2\n\n"
                "id\ndata: 3\n\n"             /* empty id resets the last id */
                "id: 8\nevent:\ndata: 4\n\n", /* empty event type means "message" */
                &r);
    CHECK_STR_EQ(r.rec.text, "a|7|1\x1emessage|7|2\x1emessage||3\x1emessage|8|4\x1e");
    /* an id containing a NUL is ignored (spec): the previous id stays */
    record_init(&r.rec);
    sse_parser_feed(p, "id: 5\n\nid: bad\0id\ndata: y\n\n", 27, record_event, &r.rec);
    CHECK_STR_EQ(r.rec.text, "message|5|y\x1e");
    sse_parser_destroy(&p);
}

static void test_cr_only_line_endings(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    parse_whole(p, "data: a\rdata: b\r\rdata: c\r\r", &r);
    CHECK_STR_EQ(r.rec.text, "message||a\nb\x1emessage||c\x1e");
    /* mixed endings in one stream */
    parse_whole(p, "data: a\r\ndata: b\n\rdata: c\r\n\n", &r);
    CHECK_STR_EQ(r.rec.text, "message||a\nb\x1emessage||c\x1e");
    sse_parser_destroy(&p);
}

static void test_crlf_split_between_chunks_is_one_line_end(void)
{
    sse_parser_t *p = sse_parser_new(0);
    record_t rec;
    record_init(&rec);
    /* "data: a\r" | "\ndata: b\r" | "\n\r" | "\n": if a CR then LF across a boundary were
       two line ends, the first boundary would end the event early with data "a". */
    sse_parser_feed(p, "data: a\r", 8, record_event, &rec);
    sse_parser_feed(p, "\ndata: b\r", 9, record_event, &rec);
    CHECK_INT_EQ(rec.events, 0);
    sse_parser_feed(p, "\n\r", 2, record_event, &rec);
    CHECK_INT_EQ(rec.events, 1);
    sse_parser_feed(p, "\n", 1, record_event, &rec);
    sse_parser_feed(p, "data: c\n\n", 9, record_event, &rec);
    CHECK_STR_EQ(rec.text, "message||a\nb\x1emessage||c\x1e");
    CHECK_INT_EQ(sse_parser_finish(p), 0);
    sse_parser_destroy(&p);
}

static void test_oversize_event_reported_and_skipped(void)
{
    sse_parser_t *p = sse_parser_new(16);
    result_t r;
    /* exactly 16 bytes fit; 17 do not, also when the '\n' joining lines is the 17th */
    parse_whole(p,
                "data: 0123456789abcdef\n\n"
                "data: 0123456789abcdefX\ndata: more of it\n: c\n\n"
                "data: 01234567\ndata: 89abcdef\n\n"
                "data: after\n\n",
                &r);
    CHECK_STR_EQ(r.rec.text, "message||0123456789abcdef\x1emessage||after\x1e");
    CHECK_INT_EQ(r.oversize, 1);
    /* split so that the oversize event spans calls: reported once, in the call where it
       overflowed, and the next event is intact */
    const char *body = "data: 0123456789\ndata: 0123456789\ndata: x\n\ndata: ok\n\n";
    size_t cuts[3] = {10, 30, 40};
    parse_split(p, body, strlen(body), cuts, 3, &r);
    CHECK_STR_EQ(r.rec.text, "message||ok\x1e");
    CHECK_INT_EQ(r.oversize, 1);
    /* an over-long event type or id is oversize too */
    char big[400];
    memset(big, 'e', sizeof big);
    sse_parser_feed(p, "event: ", 7, NULL, NULL);
    CHECK_INT_EQ(sse_parser_feed(p, big, sizeof big, NULL, NULL), SSE_ERR_OVERSIZE);
    record_init(&r.rec);
    sse_parser_feed(p, "\ndata: dropped\n\ndata: kept\n\n", 28, record_event, &r.rec);
    CHECK_STR_EQ(r.rec.text, "message||kept\x1e");
    sse_parser_feed(p, "id: ", 4, NULL, NULL);
    CHECK_INT_EQ(sse_parser_feed(p, big, sizeof big, NULL, NULL), SSE_ERR_OVERSIZE);
    sse_parser_destroy(&p);
}

static void test_truncated_stream_detected_at_finish(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    const char *cases[] = {"data: {\"partial\":", "data: complete line\n", "data: x\n\nda",
                           "data: x\r\n\r\nevent: e\n", "data: x\n\ndata"};
    for (int i = 0; i < 5; i++) {
        parse_whole(p, cases[i], &r);
        CHECK_MSG(r.truncated == 1, "case %d not reported truncated", i);
    }
    /* the partial event is discarded, and the parser is ready for the next stream */
    parse_whole(p, "data: a\n\ndata: lost\n", &r);
    CHECK_STR_EQ(r.rec.text, "message||a\x1e");
    parse_whole(p, "data: b\n\n", &r);
    CHECK_STR_EQ(r.rec.text, "message||b\x1e");
    CHECK_INT_EQ(r.truncated, 0);
    const char *complete[] = {"", "data: x\n\n", "data: x\n\n: trailing comment", "data: x\r\r",
                              "data: x\n\n\n\n"};
    for (int i = 0; i < 5; i++) {
        parse_whole(p, complete[i], &r);
        CHECK_MSG(r.truncated == 0, "complete case %d reported truncated", i);
    }
    sse_parser_destroy(&p);
}

static void test_bom_skipped(void)
{
    sse_parser_t *p = sse_parser_new(0);
    result_t r;
    const char *body = "\xEF\xBB\xBF"
                       "data: a\n\n";
    parse_whole(p, body, &r);
    CHECK_STR_EQ(r.rec.text, "message||a\x1e");
    for (size_t a = 0; a <= 4; a++) {
        for (size_t b = a; b <= 4; b++) {
            size_t cuts[2] = {a, b};
            parse_split(p, body, strlen(body), cuts, 2, &r);
            CHECK_STR_EQ(r.rec.text, "message||a\x1e");
        }
    }
    /* only at the very start: a second BOM is part of the field name (unknown field) */
    parse_whole(p,
                "\xEF\xBB\xBF\xEF\xBB\xBF"
                "data: a\n\ndata: b\n\n",
                &r);
    CHECK_STR_EQ(r.rec.text, "message||b\x1e");
    /* a BOM prefix that turns out not to be a BOM stays part of the line */
    parse_whole(p, "\xEF\xBB: c\ndata: z\n\n", &r);
    CHECK_STR_EQ(r.rec.text, "message||z\x1e");
    const char *almost = "\xEF"
                         "data: x\n\n";
    parse_whole(p, almost, &r);
    CHECK_INT_EQ(r.rec.events, 0); /* the field is "\xEFdata", unknown */
    sse_parser_destroy(&p);
}

static void test_callback_stop_returns_early_and_rest_can_be_fed(void)
{
    /* with a BOM and CRLF: consumed counts the BOM and stops right after the CR that
       ended the event; the LF left over is known to finish that CRLF when fed later */
    sse_parser_t *q = sse_parser_new(0);
    record_t first;
    record_init(&first);
    first.stop_after = 1;
    const char *crlf = "\xEF\xBB\xBF"
                       "data: 1\r\n\r\ndata: 2\r\n\r\n";
    sse_parser_feed(q, crlf, strlen(crlf), record_event, &first);
    CHECK_INT_EQ(sse_parser_consumed(q), 3 + 10);
    first.stop_after = 0;
    sse_parser_feed(q, crlf + 13, strlen(crlf) - 13, record_event, &first);
    CHECK_STR_EQ(first.text, "message||1\x1emessage||2\x1e");
    sse_parser_destroy(&q);

    sse_parser_t *p = sse_parser_new(0);
    record_t rec;
    record_init(&rec);
    rec.stop_after = 1;
    const char *body = "data: 1\n\ndata: 2\n\n";
    CHECK_INT_EQ(sse_parser_feed(p, body, strlen(body), record_event, &rec), SSE_OK);
    CHECK_STR_EQ(rec.text, "message||1\x1e");
    size_t used = sse_parser_consumed(p);
    CHECK_INT_EQ(used, 9);
    rec.stop_after = 0;
    sse_parser_feed(p, body + used, strlen(body) - used, record_event, &rec);
    CHECK_INT_EQ(sse_parser_consumed(p), strlen(body) - used);
    CHECK_STR_EQ(rec.text, "message||1\x1emessage||2\x1e");
    sse_parser_destroy(&p);
}

static void test_reset_forgets_partial_event_and_id(void)
{
    sse_parser_t *p = sse_parser_new(0);
    record_t rec;
    record_init(&rec);
    sse_parser_feed(p, "id: 3\ndata: x\n\ndata: half", 25, record_event, &rec);
    sse_parser_reset(p);
    sse_parser_feed(p, "data: y\n\n", 9, record_event, &rec);
    CHECK_STR_EQ(rec.text, "message|3|x\x1emessage||y\x1e");
    sse_parser_destroy(&p);
    sse_parser_destroy(&p); /* destroying twice is harmless: the pointer is NULL */
}

CHECK_MAIN(test_every_split_point_gives_same_events_as_whole_body,
           test_byte_by_byte_feeding_gives_same_events, test_multiline_data_joined_with_newline,
           test_comments_and_unknown_fields_ignored, test_event_type_resets_but_id_persists,
           test_cr_only_line_endings, test_crlf_split_between_chunks_is_one_line_end,
           test_oversize_event_reported_and_skipped, test_truncated_stream_detected_at_finish,
           test_bom_skipped, test_callback_stop_returns_early_and_rest_can_be_fed,
           test_reset_forgets_partial_event_and_id)
