/*  live.c: the coordinator's live view: /metrics, the live page and /live.json (see live.h,
    docs/live.md, docs/metrics.md).

    Two halves. The server is libevent's evhttp on an event base of its own, in its own
    thread: it only copies what was published, under the mutex, into its answers. The
    publisher is the coordinator's thread: when an interval closes it renders the
    Prometheus page and keeps the interval's intervals.jsonl line; a few times a second
    (observe_tick) it renders the run's state (phase, time left, workers, targets, chaos
    marks and fault windows), from a read-only view of the run (run_view.h). The server
    therefore never reads the run, and a scrape never waits for the control loop, nor the
    loop for a scrape.

    Why evhttp and not a loop of our own: the hand-written poll(2) server had 16 slots and
    answered one connection at a time; 24 idle clients made a scrape wait 4 s in the
    backlog. evhttp multiplexes every connection on one event base, so an idle or slow
    client costs a descriptor and a few hundred bytes until LIVE_CLIENT_TIMEOUT_S, and
    another client's request is answered at once. Bounded: LIVE_MAX_CONNECTIONS open at
    once (more are closed on arrival), LIVE_MAX_HEADERS_BYTES of request head, no body.

    Safe by default: GET and HEAD only; nothing here steers the run. Bound off loopback,
    every path needs `Authorization: Bearer TOKEN` (or ?token=TOKEN, for a browser's
    first visit): a token generated per run into RESULTS_DIR/live.token (0600), or the one
    --live-token-file names (which then applies on loopback too).
*/
#include "coordinator/live.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "coordinator/chaos.h"
#include "coordinator/run_view.h"
#include "report/report.h"
#include "coordinator/scrape.h"

#define LIVE_MAX_CONNECTIONS   256  /* descriptors we let clients hold at once */
#define LIVE_MAX_HEADERS_BYTES 8192 /* a request head longer than this is no browser's */
#define LIVE_MAX_BODY_BYTES    4096 /* read only to answer 405: nothing here takes a body */
#define LIVE_CLIENT_TIMEOUT_S  10   /* idle keep-alive, or a head sent this slowly: closed */
#define LIVE_KEEP_INTERVALS    900  /* /live.json keeps the last 15 minutes of 1 s intervals */
#define LIVE_STATE_EVERY_NS    (200 * 1000000LL) /* the state's refresh: marks show at once */
#define LIVE_TOKEN_BYTES       24                /* 48 hex characters */
#define LIVE_LIVE_JSON_SCHEMA  1
#define LIVE_COUNT_EVERY_MS    50   /* how often the connection cap is checked */
#define LIVE_FD_BITMAP_BYTES   8192 /* descriptors below 65536 are counted exactly */

struct conn_count {
    evutil_socket_t listen_fd;
    unsigned char seen[LIVE_FD_BITMAP_BYTES];
    int count;
};

struct _live_t {
    char address[300];
    bool loopback; /* bound to 127.0.0.0/8 or ::1 only */
    bool token_required;
    char token[2 * LIVE_TOKEN_BYTES + 64]; /* "" when none */
    struct event_base *base;
    struct evhttp *http;
    struct event *stop; /* live_destroy activates it: the loop ends */
    pthread_t thread;
    bool started;
    evutil_socket_t listen_fd;
    struct evconnlistener *listener; /* evhttp's, borrowed */
    struct event *count_timer;
    bool paused; /* server thread: accepting stopped at the connection cap */
    int own_fds; /* descriptors of the base itself that count_one sees (its wake-up fd) */
    struct conn_count counting;

    pthread_mutex_t lock;             /* guards everything down to the renderer's fields */
    buf_t page;                       /* /metrics */
    buf_t state;                      /* /live.json without its closing `"intervals": [...]}` */
    char *lines[LIVE_KEEP_INTERVALS]; /* intervals.jsonl lines, a ring */
    int64_t line_index[LIVE_KEEP_INTERVALS];
    int line_head, line_count; /* oldest at head */

    /* renderer (coordinator thread) */
    metrics_t *total; /* every closed interval so far */
    metrics_t *last;  /* the last closed interval */
    int64_t last_index, last_inflight;
    int last_phase;
    int64_t intervals;
    int64_t last_state_ns;
    const char *state_name; /* the control loop's word at the last tick (static) */
    buf_t scratch;
};

/* ---- the server (its own thread) ------------------------------------------------------ */

static bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) /* constant time for equal lengths */
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

/* Whether the request carries the token (when one is required). */
static bool authorized(const live_t *self, struct evhttp_request *req)
{
    if (!self->token_required)
        return true;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, self->token))
        return true;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    bool ok = false;
    struct evkeyvalq args;
    if (query && evhttp_parse_query_str(query, &args) == 0) {
        const char *t = evhttp_find_header(&args, "token");
        ok = t && token_equal(t, self->token);
        evhttp_clear_headers(&args);
    }
    return ok;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                  struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    if (body && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* evhttp 2.1 would send a HEAD answer's body, and without its length */
        char length[32];
        snprintf(length, sizeof length, "%zu", evbuffer_get_length(body));
        evhttp_add_header(h, "Content-Length", length);
        evbuffer_drain(body, evbuffer_get_length(body));
    }
    evhttp_send_reply(req, code, reason, body);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add(b, text, strlen(text));
    reply(req, code, reason, "text/plain; charset=utf-8", b);
    if (b)
        evbuffer_free(b);
}

/* /live.json: the state, then the kept intervals after ?since=N (all of them without). */
static void add_live_json(live_t *self, struct evhttp_request *req, struct evbuffer *b)
{
    int64_t since = -1;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq args;
    if (query && evhttp_parse_query_str(query, &args) == 0) {
        const char *s = evhttp_find_header(&args, "since");
        char *end;
        long long v = s ? strtoll(s, &end, 10) : -1;
        if (s && *s && !*end && v >= -1)
            since = v;
        evhttp_clear_headers(&args);
    }
    pthread_mutex_lock(&self->lock);
    evbuffer_add(b, self->state.data, self->state.len);
    evbuffer_add(b, ",\"intervals\":[", 14);
    bool first = true;
    for (int i = 0; i < self->line_count; i++) {
        int k = (self->line_head + i) % LIVE_KEEP_INTERVALS;
        if (self->line_index[k] <= since)
            continue;
        if (!first)
            evbuffer_add(b, ",", 1);
        evbuffer_add(b, self->lines[k], strlen(self->lines[k]));
        first = false;
    }
    pthread_mutex_unlock(&self->lock);
    evbuffer_add(b, "]}\n", 3);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    live_t *self = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || !*path)
        path = "/";
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed", "surge coordinator: read-only (GET, HEAD)\n");
        return;
    }
    if (!authorized(self, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"surge live\"");
        reply_text(req, 401, "Unauthorized",
                   "surge coordinator: this address needs the run's live token "
                   "(Authorization: Bearer TOKEN, or ?token=TOKEN; RESULTS_DIR/live.token)\n");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 503, "Out of memory");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        pthread_mutex_lock(&self->lock);
        evbuffer_add(b, self->page.data, self->page.len);
        pthread_mutex_unlock(&self->lock);
        reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
    } else if (strcmp(path, "/live.json") == 0) {
        add_live_json(self, req, b);
        reply(req, 200, "OK", "application/json", b);
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        evbuffer_add_reference(b, live_page_html, strlen(live_page_html), NULL, NULL);
        /* The page may load nothing from anywhere: what it needs is inline. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
                          "default-src 'none'; script-src 'unsafe-inline'; style-src "
                          "'unsafe-inline'; connect-src 'self'; img-src data:; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
        reply(req, 200, "OK", "text/html; charset=utf-8", b);
    } else {
        evbuffer_free(b);
        reply_text(req, 404, "Not Found",
                   "surge coordinator: the live page is at /, its figures at /live.json, "
                   "Prometheus metrics at /metrics\n");
        return;
    }
    evbuffer_free(b);
}

/* The connection cap. evhttp 2.1 has no limit of its own and shows us no accepted
   descriptor, so a timer of the server thread counts the connections (the sockets with an
   event on our base, other than the listener) and stops accepting at the cap: more
   clients wait in the kernel's backlog until some close, as with any full server. */
static int count_one(const struct event_base *base, const struct event *ev, void *arg)
{
    (void)base;
    struct conn_count *cc = arg;
    evutil_socket_t fd = event_get_fd(ev);
    if (fd < 0 || fd == cc->listen_fd || !(event_get_events(ev) & (EV_READ | EV_WRITE)))
        return 0;
    if ((size_t)fd / 8 >= sizeof cc->seen) {
        cc->count++; /* beyond the bitmap: counted once per event, an overestimate */
        return 0;
    }
    if (!(cc->seen[fd / 8] & (1u << (fd % 8)))) {
        cc->seen[fd / 8] |= (unsigned char)(1u << (fd % 8));
        cc->count++;
    }
    return 0;
}

/* Sockets with an event on the base, less the listener (and less own_fds). */
static int count_connections(live_t *self)
{
    struct conn_count *cc = &self->counting;
    memset(cc->seen, 0, sizeof cc->seen);
    cc->count = 0;
    cc->listen_fd = self->listen_fd;
    event_base_foreach_event(self->base, count_one, cc);
    return cc->count - self->own_fds;
}

static void on_count(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    live_t *self = arg;
    struct conn_count *cc = &self->counting;
    cc->count = count_connections(self);
    bool full = cc->count >= LIVE_MAX_CONNECTIONS;
    if (full && !self->paused) {
        evconnlistener_disable(self->listener);
        log_warn("live: %d connections open: not accepting more until some close", cc->count);
    } else if (!full && self->paused) {
        evconnlistener_enable(self->listener);
    }
    self->paused = full;
}

static void *live_thread(void *arg)
{
    live_t *self = arg;
    event_base_dispatch(self->base);
    return NULL;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    live_t *self = arg;
    event_base_loopbreak(self->base);
}

/* "HOST:PORT", "[V6]:PORT"; false when it is not one. */
static bool split_listen(const char *listen, char *host, size_t host_size, char *port,
                         size_t port_size)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return false;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return false;
        h++;
        n -= 2;
    }
    if (n >= host_size)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
        return false;
    snprintf(port, port_size, "%ld", p);
    return true;
}

/* Whether the socket accepts only from this machine: 127.0.0.0/8, ::1, ::ffff:127.x. */
static bool bound_to_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(v6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127;
    }
    return false;
}

static int bind_listen(const char *host, const char *port, char *bound, size_t bound_size,
                       bool *loopback)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";
    *loopback = false;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        *loopback = bound_to_loopback(&addr);
        getnameinfo((struct sockaddr *)&addr, len, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    }
    snprintf(bound, bound_size, "%s%s%s:%s", strchr(h, ':') ? "[" : "", h,
             strchr(h, ':') ? "]" : "", p);
    return fd;
}

/* The token: the first line of token_file, or (none given, bound off loopback) a new one
   written to OUT_DIR/live.token, readable by the owner only. */
static int token_setup(live_t *self, const live_config_t *cfg, char *err, size_t err_size)
{
    if (cfg->token_file) {
        FILE *f = fopen(cfg->token_file, "r");
        if (!f) {
            snprintf(err, err_size, "--live-token-file %s: %s", cfg->token_file, strerror(errno));
            return -1;
        }
        char line[sizeof self->token];
        bool got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        size_t n = got ? strcspn(line, "\r\n") : 0;
        line[n] = '\0';
        if (n < 16 || strcspn(line, " \t") != n) {
            snprintf(err, err_size,
                     "--live-token-file %s: the first line must be a token of at least 16 "
                     "characters, without spaces",
                     cfg->token_file);
            return -1;
        }
        memcpy(self->token, line, n + 1);
        self->token_required = true;
        return 0;
    }
    if (self->loopback)
        return 0;
    unsigned char raw[LIVE_TOKEN_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, err_size, "--metrics-listen: no randomness for the live token");
        return -1;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(self->token + 2 * i, 3, "%02x", raw[i]);
    self->token_required = true;
    if (!cfg->out_dir)
        return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/live.token", cfg->out_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, self->token, strlen(self->token)) < 0 ||
        write(fd, "\n", 1) != 1) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void use_libevent_threads(void)
{
    evthread_use_pthreads();
}

live_t *live_new(const live_config_t *cfg, char *err, size_t err_size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, use_libevent_threads);
    char host[256], port[16];
    if (!split_listen(cfg->listen, host, sizeof host, port, sizeof port)) {
        snprintf(err, err_size, "--metrics-listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:9090)",
                 cfg->listen);
        return NULL;
    }
    live_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->listen_fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    buf_init(&self->page);
    buf_init(&self->state);
    buf_init(&self->scratch);
    self->last_index = -1;
    self->last_phase = -1;
    self->state_name = "waiting";
    self->total = metrics_new(HIST_DEFAULT_DIGITS);
    self->last = metrics_new(HIST_DEFAULT_DIGITS);
    self->base = event_base_new();
    self->http = self->base ? evhttp_new(self->base) : NULL;
    self->stop = self->base ? event_new(self->base, -1, 0, on_stop, self) : NULL;
    self->count_timer = self->base ? event_new(self->base, -1, EV_PERSIST, on_count, self) : NULL;
    if (!self->total || !self->last || !self->http || !self->stop || !self->count_timer) {
        snprintf(err, err_size, "--metrics-listen: out of memory");
        live_destroy(&self);
        return NULL;
    }
    errno = 0;
    self->listen_fd = bind_listen(host, port, self->address, sizeof self->address, &self->loopback);
    if (self->listen_fd < 0) {
        snprintf(err, err_size, "--metrics-listen: cannot listen on %s: %s", cfg->listen,
                 errno ? strerror(errno) : "no such address");
        live_destroy(&self);
        return NULL;
    }
    if (token_setup(self, cfg, err, err_size) != 0) {
        live_destroy(&self);
        return NULL;
    }
    struct evhttp_bound_socket *bound =
        evhttp_accept_socket_with_handle(self->http, self->listen_fd);
    if (!bound) {
        snprintf(err, err_size, "--metrics-listen: cannot serve on %s", self->address);
        live_destroy(&self);
        return NULL;
    }
    self->listener = evhttp_bound_socket_get_listener(bound);
    /* Every method reaches on_request, which answers 405 to all but GET and HEAD (evhttp's
       own refusal would be 501). */
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(self->http, LIVE_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(self->http, LIVE_MAX_BODY_BYTES);
    evhttp_set_timeout(self->http, LIVE_CLIENT_TIMEOUT_S);
    evhttp_set_gencb(self->http, on_request, self);
    self->own_fds = count_connections(self); /* before any client: the base's own */
    struct timeval every = {0, LIVE_COUNT_EVERY_MS * 1000};
    event_add(self->count_timer, &every);
    buf_append_str(&self->page, "# surge: no interval has closed yet\n");
    buf_append_str(&self->state, "{\"schema\":1,\"state\":\"starting\"");
    if (pthread_create(&self->thread, NULL, live_thread, self) != 0) {
        snprintf(err, err_size, "--metrics-listen: cannot start the server thread");
        live_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void live_destroy(live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    live_t *self = *self_p;
    if (self->started) {
        event_active(self->stop, 0, 0); /* thread-safe: evthread_use_pthreads */
        pthread_join(self->thread, NULL);
    }
    if (self->count_timer)
        event_free(self->count_timer);
    if (self->stop)
        event_free(self->stop);
    if (self->http)
        evhttp_free(self->http); /* closes the listener and every connection */
    else if (self->listen_fd >= 0)
        close(self->listen_fd);
    if (self->http && self->listen_fd >= 0 && !self->listener)
        close(self->listen_fd); /* bound but never handed to evhttp */
    if (self->base)
        event_base_free(self->base);
    metrics_destroy(&self->total);
    metrics_destroy(&self->last);
    buf_free(&self->page);
    buf_free(&self->state);
    buf_free(&self->scratch);
    for (int i = 0; i < LIVE_KEEP_INTERVALS; i++)
        free(self->lines[i]);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

const char *live_address(const live_t *self)
{
    return self->address;
}

const char *live_token(const live_t *self)
{
    return self->token_required ? self->token : NULL;
}

/* ---- the page --------------------------------------------------------------------- */

static void label_value(buf_t *o, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            buf_append_char(o, '\\');
        if (*c == '\n')
            buf_append_str(o, "\\n");
        else
            buf_append_char(o, *c);
    }
}

static void header(buf_t *o, const char *name, const char *type, const char *help)
{
    buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(buf_t *o, double v)
{
    if (isnan(v))
        buf_append_str(o, "NaN");
    else if (isinf(v))
        buf_append_str(o, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(o, "%.9g", v);
}

static void sample(buf_t *o, const char *name, double v)
{
    buf_printf(o, "%s ", name);
    number(o, v);
    buf_append_char(o, '\n');
}

static void sample_label(buf_t *o, const char *name, const char *label, const char *value, double v)
{
    buf_printf(o, "%s{%s=\"", name, label);
    label_value(o, value);
    buf_append_str(o, "\"} ");
    number(o, v);
    buf_append_char(o, '\n');
}

static const double quantiles[] = {0.5, 0.9, 0.95, 0.99};

static double quantile_s(const hist_t *h, double q)
{
    if (hist_total_count(h) == 0)
        return NAN;
    return (double)hist_value_at_percentile(h, q * 100.0) / 1e6;
}

/* Two summaries for one histogram: the run so far (its _sum and _count only grow), and
   the last closed interval (quantiles, _sum and _count of that interval alone: it goes
   down as well as up, so read it as it is; rate() belongs to the run's). */
static void summary(buf_t *o, const char *full, const char *help, const hist_t *h)
{
    header(o, full, "summary", help);
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++) {
        buf_printf(o, "%s{quantile=\"%g\"} ", full, quantiles[i]);
        number(o, quantile_s(h, quantiles[i]));
        buf_append_char(o, '\n');
    }
    buf_printf(o, "%s_sum ", full);
    number(o, hist_total_count(h) ? hist_mean(h) * (double)hist_total_count(h) / 1e6 : 0);
    buf_printf(o, "\n%s_count %lld\n", full, (long long)hist_total_count(h));
}

static void latency(buf_t *o, const char *name, const char *what, const hist_t *run,
                    const hist_t *interval)
{
    char full[96], help[256];
    snprintf(full, sizeof full, "surge_%s_seconds", name);
    snprintf(help, sizeof help, "%s, every request of the run so far.", what);
    summary(o, full, help, run);
    snprintf(full, sizeof full, "surge_%s_interval_seconds", name);
    snprintf(help, sizeof help,
             "%s, the last closed interval only (surge_interval_index; NaN: no sample).", what);
    summary(o, full, help, interval);
}

static void render_server(buf_t *o, scrape_t *scrape)
{
    static const struct {
        server_key_t key;
        const char *name, *help;
        double scale;
    } gauges[] = {
        {SERVER_RUNNING, "surge_server_running_requests", "Requests running on the target.", 1},
        {SERVER_WAITING, "surge_server_waiting_requests", "Requests queued on the target.", 1},
        {SERVER_KV_CACHE_USAGE, "surge_server_kv_cache_usage_ratio",
         "Fraction of the target's KV cache in use (0..1).", 1},
        {SERVER_PREEMPTIONS, "surge_server_preemptions",
         "Preemptions on the target during the last interval.", 1},
        {SERVER_QUEUE_TIME_MS, "surge_server_queue_time_seconds",
         "Mean queue time of the target's requests scheduled in the last interval.", 1e-3},
        {SERVER_PROMPT_TOKENS_PER_S, "surge_server_prompt_tokens_per_second",
         "Prompt tokens the target processed per second (its own counter).", 1},
        {SERVER_GENERATION_TOKENS_PER_S, "surge_server_generation_tokens_per_second",
         "Tokens the target generated per second (its own counter).", 1},
        {SERVER_PREFIX_CACHE_HIT_RATE, "surge_server_prefix_cache_hit_ratio",
         "Fraction of the prompt tokens the target looked up that its prefix cache held, last "
         "interval (0..1).",
         1},
    };
    int n = scrape_target_count(scrape);
    if (n == 0)
        return;
    server_figures_t *f = calloc((size_t)n, sizeof *f);
    int64_t *errors = calloc((size_t)n, sizeof *errors);
    bool *has = calloc((size_t)n, sizeof *has);
    if (!f || !errors || !has) {
        free(f);
        free(errors);
        free(has);
        return;
    }
    for (int t = 0; t < n; t++)
        has[t] = scrape_latest(scrape, t, &f[t], &errors[t]);
    for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++) {
        header(o, gauges[g].name, "gauge", gauges[g].help);
        for (int t = 0; t < n; t++) {
            if (has[t] && f[t].has[gauges[g].key])
                sample_label(o, gauges[g].name, "target", scrape_target_url(scrape, t),
                             f[t].value[gauges[g].key] * gauges[g].scale);
        }
    }
    header(o, "surge_server_scrape_errors_total", "counter",
           "Failed scrapes of the target's /metrics (down, slow, not Prometheus text).");
    for (int t = 0; t < n; t++)
        sample_label(o, "surge_server_scrape_errors_total", "target", scrape_target_url(scrape, t),
                     (double)errors[t]);
    free(f);
    free(errors);
    free(has);
}

static void render_metrics(live_t *self, const run_view_t *run, bool finished)
{
    const plan_t *plan = run_view_plan(run);
    const run_timeline_t *tl = run_view_timeline(run);
    int64_t interval_ns = run_view_interval_ns(run);
    buf_t *o = &self->scratch;
    buf_clear(o);
    const metrics_t *m = self->last;
    const metrics_counters_t *t = &self->total->c;
    double interval_s = (double)interval_ns / 1e9;

    header(o, "surge_info", "gauge", "The run this coordinator drives (value 1).");
    buf_printf(o, "surge_info{run_id=\"");
    label_value(o, run_view_id(run));
    buf_printf(o, "\",version=\"%s\",plan=\"", SURGE_VERSION);
    label_value(o, plan->name ? plan->name : plan->source);
    buf_append_str(o, "\"} 1\n");
    header(o, "surge_run_finished", "gauge", "1 once the run is over and the results are written.");
    sample(o, "surge_run_finished", finished ? 1 : 0);
    header(o, "surge_run_elapsed_seconds", "gauge",
           "End of the last closed interval, in seconds from the run's start.");
    sample(o, "surge_run_elapsed_seconds", (double)(self->last_index + 1) * interval_s);
    header(o, "surge_intervals_total", "counter", "Intervals closed so far.");
    sample(o, "surge_intervals_total", (double)self->intervals);
    header(o, "surge_interval_index", "gauge",
           "Index of the last closed interval: the `interval` of its intervals.jsonl line "
           "(-1 before the first).");
    sample(o, "surge_interval_index", (double)self->last_index);
    int p = self->last_phase;
    header(o, "surge_phase_info", "gauge",
           "The phase of the last closed interval (value 1; labels name it).");
    if (p >= 0 && p < tl->phase_count) {
        const plan_phase_t *ph = &tl->phases[p].phase;
        buf_append_str(o, "surge_phase_info{phase=\"");
        label_value(o, ph->name);
        buf_append_str(o, "\",kind=\"");
        label_value(o, ph->kind);
        buf_printf(o, "\",index=\"%d\",measured=\"%s\"} 1\n", p, ph->measure ? "true" : "false");
    }

    int64_t mid_ns = self->last_index * interval_ns + interval_ns / 2;
    header(o, "surge_offered_requests_per_second", "gauge",
           "The plan's arrival rate in the last interval (0 in closed-loop phases).");
    sample(o, "surge_offered_requests_per_second",
           self->last_index >= 0 && !finished ? timeline_planned_rate_at(tl, mid_ns) : 0);
    header(o, "surge_sent_requests_per_second", "gauge",
           "Requests sent per second, last interval.");
    sample(o, "surge_sent_requests_per_second", (double)m->c.sent / interval_s);
    header(o, "surge_completed_requests_per_second", "gauge",
           "Requests that ended (ok or error) per second, last interval.");
    sample(o, "surge_completed_requests_per_second", (double)(m->c.ok + m->c.failed) / interval_s);
    header(o, "surge_goodput_requests_per_second", "gauge",
           "Requests meeting every SLO per second, last interval.");
    sample(o, "surge_goodput_requests_per_second", (double)m->c.slo_ok / interval_s);
    header(o, "surge_output_tokens_per_second", "gauge",
           "Output tokens per second, last interval.");
    sample(o, "surge_output_tokens_per_second", (double)m->c.output_tokens / interval_s);
    header(o, "surge_input_tokens_per_second", "gauge", "Input tokens per second, last interval.");
    sample(o, "surge_input_tokens_per_second", (double)m->c.input_tokens / interval_s);
    header(o, "surge_inflight_requests", "gauge",
           "Requests in flight on the workers at the end of the last interval.");
    sample(o, "surge_inflight_requests", (double)self->last_inflight);

    header(o, "surge_requests_total", "counter", "Requests that ended, by outcome.");
    sample_label(o, "surge_requests_total", "outcome", "ok", (double)t->ok);
    sample_label(o, "surge_requests_total", "outcome", "error", (double)t->failed);
    header(o, "surge_errors_total", "counter", "Failed requests by error class (docs/worker.md).");
    for (int k = 0; k < ERR_CLASS_COUNT; k++)
        sample_label(o, "surge_errors_total", "class", error_class_name((error_class_t)k),
                     (double)t->errors[k]);
    header(o, "surge_scheduled_arrivals_total", "counter", "Arrivals the schedule planned.");
    sample(o, "surge_scheduled_arrivals_total", (double)t->scheduled);
    header(o, "surge_sent_requests_total", "counter", "Requests sent.");
    sample(o, "surge_sent_requests_total", (double)t->sent);
    header(o, "surge_dropped_arrivals_total", "counter",
           "Arrivals not sent because a cap was reached (the client limited the test).");
    sample(o, "surge_dropped_arrivals_total", (double)t->dropped);
    header(o, "surge_output_tokens_total", "counter", "Output tokens of successful requests.");
    sample(o, "surge_output_tokens_total", (double)t->output_tokens);
    header(o, "surge_input_tokens_total", "counter", "Input tokens of successful requests.");
    sample(o, "surge_input_tokens_total", (double)t->input_tokens);
    header(o, "surge_slo_ok_requests_total", "counter", "Requests that met every SLO.");
    sample(o, "surge_slo_ok_requests_total", (double)t->slo_ok);

    run_view_fleet_t fleet = run_view_fleet(run);
    int live = fleet.live, lost = fleet.lost, left = fleet.left;
    header(o, "surge_workers", "gauge", "Workers by state (lost: lease expired; left: said bye).");
    sample_label(o, "surge_workers", "state", "live", live);
    sample_label(o, "surge_workers", "state", "lost", lost);
    sample_label(o, "surge_workers", "state", "left", left);
    header(o, "surge_late_snapshots_total", "counter",
           "Snapshots merged after their interval closed (in the totals, not the series).");
    sample(o, "surge_late_snapshots_total", (double)run_view_merged(run)->late_snapshots);
    header(o, "surge_rejected_messages_total", "counter", "Messages the coordinator refused.");
    sample(o, "surge_rejected_messages_total", (double)run_view_rejected_messages(run));

    latency(o, "ttft", "Time to first token", self->total->hist[METRIC_TTFT], m->hist[METRIC_TTFT]);
    latency(o, "itl", "Inter-token latency (gaps between content events)",
            self->total->hist[METRIC_ITL], m->hist[METRIC_ITL]);
    latency(o, "tpot", "Time per output token", self->total->hist[METRIC_TPOT],
            m->hist[METRIC_TPOT]);
    latency(o, "e2e", "End-to-end request latency", self->total->hist[METRIC_E2E],
            m->hist[METRIC_E2E]);
    latency(o, "schedule_lag", "Schedule lag (actual minus intended send)",
            self->total->hist[METRIC_LAG], m->hist[METRIC_LAG]);
    render_server(o, run_view_scrape(run));

    pthread_mutex_lock(&self->lock);
    buf_clear(&self->page);
    buf_append(&self->page, o->data, o->len);
    pthread_mutex_unlock(&self->lock);
}

/* ---- /live.json's state (the coordinator's thread) ------------------------------------ */

static void kv_nullable(jsonw_t *w, const char *key, bool has, double v)
{
    jsonw_key(w, key);
    if (has && isfinite(v))
        jsonw_double(w, v);
    else
        jsonw_null(w);
}

static void state_phase(jsonw_t *w, const run_view_t *run, int64_t offset_ns)
{
    const run_timeline_t *tl = run_view_timeline(run);
    int64_t interval_ns = run_view_interval_ns(run);
    int p = run_view_t0_ns(run) && offset_ns >= 0
                ? timeline_phase_at(tl, offset_ns / interval_ns * interval_ns)
                : -1;
    jsonw_key(w, "phase");
    if (p < 0 || p >= tl->phase_count) {
        jsonw_null(w);
        return;
    }
    const plan_phase_t *ph = &tl->phases[p].phase;
    double end_s = (double)tl->phase_end_ns[p] / 1e9, t_s = (double)offset_ns / 1e9;
    jsonw_object_begin(w);
    jsonw_kv_int(w, "index", p);
    jsonw_kv_string(w, "name", ph->name);
    jsonw_kv_string(w, "kind", ph->kind);
    jsonw_kv_bool(w, "measured", ph->measure);
    jsonw_kv_string(w, "load",
                    ph->load == PHASE_LOAD_RATE          ? "rate"
                    : ph->load == PHASE_LOAD_CONCURRENCY ? "concurrency"
                                                         : "users");
    if (ph->load == PHASE_LOAD_RATE)
        jsonw_kv_double(w, "rate_rps", timeline_planned_rate_at(tl, offset_ns));
    else if (ph->load == PHASE_LOAD_CONCURRENCY)
        jsonw_kv_int(w, "concurrency", ph->concurrency);
    else
        jsonw_kv_int(w, "users", ph->users);
    jsonw_kv_int(w, "level", tl->phases[p].level);
    jsonw_kv_double(w, "start_s", (double)tl->phase_start_ns[p] / 1e9);
    jsonw_kv_double(w, "end_s", end_s);
    jsonw_kv_double(w, "left_s", end_s > t_s ? end_s - t_s : 0);
    jsonw_object_end(w);
}

static void state_workers(jsonw_t *w, const run_view_t *run)
{
    run_view_fleet_t fleet = run_view_fleet(run);
    jsonw_key(w, "workers");
    jsonw_object_begin(w);
    jsonw_kv_int(w, "expected", fleet.expected);
    jsonw_kv_int(w, "live", fleet.live);
    jsonw_kv_int(w, "lost", fleet.lost);
    jsonw_kv_int(w, "left", fleet.left);
    jsonw_key(w, "list");
    jsonw_array_begin(w);
    int n = run_view_worker_count(run);
    for (int i = 0; i < n; i++) {
        run_view_worker_t k = run_view_worker(run, i);
        jsonw_object_begin(w);
        jsonw_kv_string(w, "id", k.id);
        jsonw_kv_string(w, "state", k.state);
        jsonw_kv_double(w, "share", k.share);
        jsonw_kv_int(w, "inflight", k.inflight);
        jsonw_kv_int(w, "requests", k.requests);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

/* The targets' own figures as last scraped; URLs as the plan, intervals.jsonl and
   /metrics show them (scrape_target_url). */
void live_write_targets(scrape_t *scrape, jsonw_t *w)
{
    jsonw_key(w, "targets");
    jsonw_array_begin(w);
    int n = scrape_target_count(scrape);
    for (int t = 0; t < n; t++) {
        server_figures_t f;
        int64_t errors = 0;
        bool has = scrape_latest(scrape, t, &f, &errors);
        jsonw_object_begin(w);
        jsonw_kv_string(w, "url", scrape_target_url(scrape, t));
        kv_nullable(w, "running", has && f.has[SERVER_RUNNING], f.value[SERVER_RUNNING]);
        kv_nullable(w, "waiting", has && f.has[SERVER_WAITING], f.value[SERVER_WAITING]);
        kv_nullable(w, "kv_cache_usage", has && f.has[SERVER_KV_CACHE_USAGE],
                    f.value[SERVER_KV_CACHE_USAGE]);
        jsonw_kv_int(w, "scrape_errors", errors);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* Renders everything of /live.json but "intervals" (docs/live.md) into scratch. */
static void render_state(live_t *self, const run_view_t *run, const char *state, int64_t now_ns)
{
    const plan_t *plan = run_view_plan(run);
    int64_t t0 = run_view_t0_ns(run);
    buf_t *o = &self->scratch;
    buf_clear(o);
    jsonw_t w;
    jsonw_init(&w, o);
    jsonw_object_begin(&w);
    jsonw_kv_int(&w, "schema", LIVE_LIVE_JSON_SCHEMA);
    jsonw_kv_string(&w, "run_id", run_view_id(run));
    jsonw_kv_string(&w, "name", plan->name ? plan->name : plan->source);
    jsonw_kv_string(&w, "version", SURGE_VERSION);
    jsonw_kv_string(&w, "state", state);
    jsonw_kv_double(&w, "interval_s", (double)run_view_interval_ns(run) / 1e9);
    int64_t offset = t0 ? now_ns - t0 : 0;
    kv_nullable(&w, "t_s", t0 != 0, (double)offset / 1e9);
    double left_s = (double)(run_view_timeline(run)->run_end_ns - offset) / 1e9;
    kv_nullable(&w, "run_left_s", t0 != 0, left_s > 0 ? left_s : 0);
    jsonw_kv_bool(&w, "run_end_known", run_view_end_known(run));
    state_phase(&w, run, offset);
    jsonw_kv_int(&w, "last_interval", self->last_index);
    jsonw_kv_int(&w, "inflight", run_view_fleet(run).inflight);
    jsonw_kv_double(&w, "client_lag_limit_ms", CLIENT_LAG_P99_LIMIT_MS);
    state_workers(&w, run);
    live_write_targets(run_view_scrape(run), &w);
    jsonw_key(&w, "chaos");
    jsonw_object_begin(&w);
    chaos_write_events(run_view_chaos(run), &w);
    jsonw_object_end(&w);
    /* left open: the server appends "intervals" and closes it */
    self->last_state_ns = now_ns;
    self->state_name = state;
}

/* ---- publishing ---------------------------------------------------------------------- */

/* The rendered state becomes /live.json's; the caller holds the lock. */
static void publish_state(live_t *self)
{
    buf_clear(&self->state);
    buf_append(&self->state, self->scratch.data, self->scratch.len);
}

void live_interval_closed(live_t *self, const run_view_t *run, int64_t index, int phase,
                          const metrics_t *interval, int64_t inflight, const char *line,
                          size_t line_len)
{
    if (!self)
        return;
    metrics_add(self->total, interval);
    metrics_reset(self->last);
    metrics_add(self->last, interval);
    self->last_index = index;
    self->last_phase = phase;
    self->last_inflight = inflight;
    self->intervals++;
    render_metrics(self, run, false);
    /* The state names this interval as the last: both change under one lock. */
    render_state(self, run, self->state_name, clock_now_ns());
    while (line_len > 0 && (line[line_len - 1] == '\n' || line[line_len - 1] == '\r'))
        line_len--;
    char *copy = line ? strndup(line, line_len) : NULL;
    pthread_mutex_lock(&self->lock);
    publish_state(self);
    if (copy) {
        int k = (self->line_head + self->line_count) % LIVE_KEEP_INTERVALS;
        if (self->line_count == LIVE_KEEP_INTERVALS) {
            free(self->lines[k]);
            self->line_head = (self->line_head + 1) % LIVE_KEEP_INTERVALS;
        } else {
            self->line_count++;
        }
        self->lines[k] = copy;
        self->line_index[k] = index;
    }
    pthread_mutex_unlock(&self->lock);
}

void live_tick(live_t *self, const run_view_t *run, const char *state, int64_t now_ns, bool force)
{
    if (!self || (!force && now_ns - self->last_state_ns < LIVE_STATE_EVERY_NS))
        return;
    render_state(self, run, state, now_ns);
    pthread_mutex_lock(&self->lock);
    publish_state(self);
    pthread_mutex_unlock(&self->lock);
}

void live_finished(live_t *self, const run_view_t *run)
{
    if (!self)
        return;
    render_metrics(self, run, true);
    live_tick(self, run, "finished", clock_now_ns(), true);
}
