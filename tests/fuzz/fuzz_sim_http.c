/*  fuzz_sim_http: request bodies sent to a `surge sim` (simulator/sim_http.c), through a
    real server: one sim (profile tiny) runs on 127.0.0.1 in a thread of this process, and
    every input is one request on its own connection. Any body on /v1/completions,
    /v1/chat/completions or /tokenize, or any raw bytes as a whole request: an answer (or
    a closed connection), never a crash, an out-of-bounds access or a leak in the sim; and
    the sim keeps answering: an answer to an API request starts with an HTTP/1.1 status
    line. The client reads for at most 100 ms, then hangs up (mid-stream hang-ups are
    part of what is tested). /admin is left out: a `down` fault would close the port.

    Input layout: byte 0 picks the endpoint (0 completions, 1 chat, 2 tokenize, 3 raw
    request), the rest is the body (or the whole request). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "simulator/sim.h"

static int port;

static void *serve(void *arg)
{
    sim_server_run(arg);
    return NULL;
}

static void server_start(void)
{
    static sim_config_t cfg; /* borrowed by the server for the whole process */
    sim_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.profile = sim_profile_find("tiny");
    cfg.handle_signals = false;
    cfg.max_body_bytes = 64 * 1024;
    log_set_level(LOG_LEVEL_ERROR);
    char err[256];
    sim_server_t *server = sim_server_new(&cfg, err, sizeof err);
    if (!server) {
        fprintf(stderr, "sim: %s\n", err);
        abort();
    }
    port = sim_server_port(server);
    pthread_t thread;
    pthread_create(&thread, NULL, serve, server);
    pthread_detach(thread);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 32 * 1024)
        return 0;
    if (!port)
        server_start();
    int mode = data[0] % 4;
    const char *body = (const char *)data + 1;
    size_t body_len = size - 1;
    if (mode == 3 && memmem(body, body_len, "admin", 5))
        return 0;
    static const char *const paths[] = {"/v1/completions", "/v1/chat/completions", "/tokenize"};
    buf_t req;
    buf_init(&req);
    if (mode < 3)
        buf_printf(&req,
                   "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   paths[mode], body_len);
    buf_append(&req, body, body_len);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 10000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "the sim stopped accepting connections\n");
        abort();
    }
    size_t sent = 0;
    while (sent < req.len) {
        ssize_t n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    char head[16] = "";
    size_t got = 0;
    int64_t deadline = clock_now_ns() + 100 * 1000000LL;
    while (clock_now_ns() < deadline) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n == 0)
            break;
        if (n < 0)
            continue; /* timeout: look at the clock */
        for (ssize_t i = 0; i < n && got < sizeof head - 1; i++)
            head[got++] = chunk[i];
    }
    close(fd);
    if (mode < 3 && got >= 9 && memcmp(head, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "the sim answered without a status line: %s\n", head);
        abort();
    }
    buf_free(&req);
    return 0;
}
