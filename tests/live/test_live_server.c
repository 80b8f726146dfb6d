/*  test_live_server.c: the live server in-process (coordinator/live.h): the connection cap
    and the token, without a run (nothing is published, so the pages are the initial
    ones). The end-to-end behaviour is live_test.py's. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "coordinator/live.h"

static int connect_to(const live_t *live)
{
    const char *port = strrchr(live_address(live), ':') + 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The status code of the answer on fd within timeout_ms, 0 when none came. */
static int status_within(int fd, int timeout_ms)
{
    char head[64] = "";
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    ssize_t n = recv(fd, head, sizeof head - 1, 0);
    if (n < 12 || strncmp(head, "HTTP/1.1 ", 9) != 0)
        return 0;
    return atoi(head + 9);
}

static int get(const live_t *live, const char *path, const char *auth)
{
    int fd = connect_to(live);
    if (fd < 0)
        return -1;
    char req[512];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
                 path, auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    int status = send(fd, req, (size_t)n, 0) == n ? status_within(fd, 2000) : -1;
    close(fd);
    return status;
}

static void pause_ms(int ms)
{
    clock_sleep_until_ns(clock_now_ns() + ms * NS_PER_MS);
}

static void test_loopback_serves_without_a_token(void)
{
    char err[256];
    live_config_t cfg = {"127.0.0.1:0", NULL, NULL};
    live_t *live = live_new(&cfg, err, sizeof err);
    REQUIRE(live);
    CHECK(live_token(live) == NULL);
    CHECK_INT_EQ(get(live, "/metrics", NULL), 200);
    CHECK_INT_EQ(get(live, "/live.json", NULL), 200);
    CHECK_INT_EQ(get(live, "/", NULL), 200);
    CHECK_INT_EQ(get(live, "/other", NULL), 404);
    live_destroy(&live);
    CHECK(live == NULL);
}

static void test_token_file_is_required_even_on_loopback(void)
{
    char dir[] = "/tmp/surge-live-XXXXXX", path[128], err[256];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("0123456789abcdef-token\nignored second line\n", f);
    fclose(f);
    live_config_t cfg = {"127.0.0.1:0", path, NULL};
    live_t *live = live_new(&cfg, err, sizeof err);
    REQUIRE(live);
    CHECK_STR_EQ(live_token(live), "0123456789abcdef-token");
    CHECK_INT_EQ(get(live, "/metrics", NULL), 401);
    CHECK_INT_EQ(get(live, "/metrics", "Bearer 0123456789abcdef-toke"), 401);
    CHECK_INT_EQ(get(live, "/metrics", "Bearer 0123456789abcdef-token"), 200);
    CHECK_INT_EQ(get(live, "/live.json?token=0123456789abcdef-token", NULL), 200);
    live_destroy(&live);

    f = fopen(path, "w");
    REQUIRE(f);
    fputs("short\n", f);
    fclose(f);
    CHECK(live_new(&cfg, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "at least 16") != NULL, "error: %s", err);
    unlink(path);
    rmdir(dir);
}

/* 256 idle connections fill the server; one more waits in the backlog, unanswered, until
   some close, and is answered then. */
static void test_connections_over_the_cap_wait_until_some_close(void)
{
    enum { CAP = 256 };
    char err[256];
    live_config_t cfg = {"127.0.0.1:0", NULL, NULL};
    live_t *live = live_new(&cfg, err, sizeof err);
    REQUIRE(live);
    static int idle[CAP];
    int opened = 0;
    for (; opened < CAP; opened++) {
        idle[opened] = connect_to(live);
        if (idle[opened] < 0)
            break;
        if (opened % 64 == 63)
            pause_ms(20); /* within the listen backlog */
    }
    REQUIRE(opened == CAP);
    pause_ms(300); /* the server accepts them and counts them */
    int extra = connect_to(live);
    REQUIRE(extra >= 0);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(send(extra, req, strlen(req), 0) == (ssize_t)strlen(req));
    CHECK_INT_EQ(status_within(extra, 500), 0);
    for (int i = 0; i < 16; i++)
        close(idle[i]);
    CHECK_INT_EQ(status_within(extra, 3000), 200);
    close(extra);
    for (int i = 16; i < CAP; i++)
        close(idle[i]);
    live_destroy(&live);
}

CHECK_MAIN(test_loopback_serves_without_a_token, test_token_file_is_required_even_on_loopback,
           test_connections_over_the_cap_wait_until_some_close)
