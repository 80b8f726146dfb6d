/*  bench_sim_client.c: how many streams and tokens per second one `surge sim` serves.

    Closed loop: --concurrency streaming completions (ignore_eos, --max-tokens each) kept
    in flight with one libcurl multi handle for --seconds; prints one table row. Tokens
    are counted from the SSE events received (every "data: {" with choices is one token
    here, as ignore_eos guarantees one token per event), so nothing is taken on trust.

    usage: bench_sim_client URL CONCURRENCY MAX_TOKENS SECONDS [LABEL]
*/
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

typedef struct {
    CURL *easy;
    long events; /* "data: {" seen in this stream (content + usage-free) */
    char tail[8];
} stream_t;

static long total_events, total_streams, failed_streams;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    stream_t *s = arg;
    size_t len = size * nmemb;
    /* count "data: {" across callback boundaries using a small carried tail */
    char buf[8 + 16384];
    size_t carried = strlen(s->tail);
    size_t take = len < 16384 ? len : 16384;
    memcpy(buf, s->tail, carried);
    size_t off = 0;
    while (off < len) {
        take = len - off < 16384 ? len - off : 16384;
        memcpy(buf + carried, data + off, take);
        size_t n = carried + take;
        for (size_t i = 0; i + 7 <= n; i++)
            if (buf[i] == 'd' && memcmp(buf + i, "data: {", 7) == 0)
                s->events++;
        carried = n < 6 ? n : 6;
        memmove(buf, buf + n - carried, carried);
        off += take;
    }
    memcpy(s->tail, buf, carried);
    s->tail[carried] = '\0';
    return len;
}

static void stream_start(CURLM *multi, stream_t *s, const char *url, const char *body,
                         struct curl_slist *headers)
{
    s->events = 0;
    s->tail[0] = '\0';
    if (!s->easy)
        s->easy = curl_easy_init();
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_multi_add_handle(multi, e);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL CONCURRENCY MAX_TOKENS SECONDS [LABEL]\n", argv[0]);
        return 2;
    }
    const char *base = argv[1];
    int concurrency = atoi(argv[2]);
    int max_tokens = atoi(argv[3]);
    double seconds = atof(argv[4]);
    const char *label = argc > 5 ? argv[5] : "";
    if (concurrency < 1 || max_tokens < 1 || seconds <= 0)
        return 2;
    char url[512], body[512];
    snprintf(url, sizeof url, "%s/v1/completions", base);
    snprintf(body, sizeof body,
             "{\"prompt\":\"Benchmark the simulator with a short prompt of a few words.\","
             "\"max_tokens\":%d,\"ignore_eos\":true,\"stream\":true}",
             max_tokens);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)concurrency);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    stream_t *streams = calloc((size_t)concurrency, sizeof *streams);
    for (int i = 0; i < concurrency; i++)
        stream_start(multi, &streams[i], url, body, headers);
    int64_t start = clock_now_ns();
    int64_t end = start + (int64_t)(seconds * NS_PER_S);
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            stream_t *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            curl_multi_remove_handle(multi, msg->easy_handle);
            if (msg->data.result == CURLE_OK && code == 200 && s->events >= max_tokens) {
                total_streams++;
                total_events += s->events;
            } else {
                failed_streams++;
            }
            if (clock_now_ns() < end)
                stream_start(multi, s, url, body, headers);
        }
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double elapsed_s = (double)(clock_now_ns() - start) / NS_PER_S;
    printf("| %-26s | %5d | %5d | %10.0f | %12.0f | %6ld |\n", label, concurrency, max_tokens,
           total_streams / elapsed_s, total_events / elapsed_s, failed_streams);
    for (int i = 0; i < concurrency; i++)
        curl_easy_cleanup(streams[i].easy);
    free(streams);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
