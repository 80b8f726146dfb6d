/*  curve.c: CURVE keys and their use on the fleet's sockets (see curve.h).

    The coordinator admits peers through its own ZAP handler (RFC 27), an actor thread
    answering on inproc://zeromq.zap.01 like czmq's zauth, but with one certificate store
    per ZAP domain: the worker socket has domain "surge-workers", the ctl socket
    "surge-ctl", and a key is admitted only at the door whose directory holds it. Each
    store reads a directory of public certificates and skips entries starting with '.',
    so a Kubernetes Secret mount (files that are symlinks into "..data/") works as is,
    and re-reads it when it changes. Every decision is logged with the peer's address,
    the door and the client's public key ("allowed" / "denied"), which is how a refused
    peer is traced.
*/
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "proto/curve.h"

/* A certificate loaded from a public-only file has this secret key. */
#define NO_SECRET "0000000000000000000000000000000000000000"

#define ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define DOMAIN_WORKERS "surge-workers"
#define DOMAIN_CTL     "surge-ctl"

struct _curve_server_t {
    zcert_t *cert;
    zactor_t *zap;
};

/* The actor's state: owned by its thread. */
typedef struct {
    zcertstore_t *workers;     /* DOMAIN_WORKERS */
    zcertstore_t *ctl;         /* DOMAIN_CTL; NULL: no operator key is admitted */
    log_throttle_t denied_log; /* a stranger may knock as fast as it can connect */
} zap_state_t;

#define ZAP_DENIALS_LOGGED_PER_S 5
#define ZAP_DENIALS              "CURVE handshakes denied"

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int curve_keygen(const char *dir, const char *name, char *err, size_t err_size)
{
    if (!*name || strchr(name, '/') || name[0] == '.') {
        snprintf(err, err_size, "'%s' is not a usable key name (no '/', no leading '.')", name);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096], secret[4200];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (file_exists(path) || file_exists(secret)) {
        /* Overwriting would silently lock out every peer that trusts the old key. */
        snprintf(err, err_size, "%s or %s already exists: remove it first to replace the pair",
                 path, secret);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, err_size, "cannot create a key pair");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "surge keygen");
    /* The secret file must never exist with wider permissions, not even for a moment. */
    mode_t old = umask(077);
    int rc = zcert_save(cert, path);
    umask(old);
    if (rc == 0)
        rc = chmod(path, 0644) | chmod(secret, 0600);
    zcert_destroy(&cert);
    if (rc != 0) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A certificate with its secret key (FILE or FILE_secret, as zcert_load looks for). */
static zcert_t *load_secret_cert(const char *path, char *err, size_t err_size)
{
    zcert_t *cert = file_exists(path) ? zcert_load(path) : NULL;
    if (!cert) {
        snprintf(err, err_size, "cannot read the certificate %s", path);
        return NULL;
    }
    if (strcmp(zcert_secret_txt(cert), NO_SECRET) == 0) {
        snprintf(err, err_size, "%s holds no secret key: pass the NAME.key_secret file", path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

/* One ZAP request: [version, request id, domain, address, identity, mechanism, key]. */
static void zap_answer(zap_state_t *st, zsock_t *handler)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    char *sequence = zmsg_popstr(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *key = zmsg_pop(request);
    const char *status = "400", *text = "no access";
    char key_txt[41] = "?";
    if (key && zframe_size(key) == 32)
        zmq_z85_encode(key_txt, zframe_data(key), 32);
    const char *door = domain && strcmp(domain, DOMAIN_CTL) == 0 ? "ctl" : "workers";
    zcertstore_t *store = domain && strcmp(domain, DOMAIN_CTL) == 0       ? st->ctl
                          : domain && strcmp(domain, DOMAIN_WORKERS) == 0 ? st->workers
                                                                          : NULL;
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && store && key && zframe_size(key) == 32 &&
        zcertstore_lookup(store, key_txt)) {
        status = "200";
        text = "OK";
    }
    /* zauth's words ("allowed (CURVE)", "ipaddress="), so logs read as they always did. */
    if (strcmp(status, "200") == 0)
        log_info("CURVE: allowed (CURVE) ipaddress=%s door=%s client_key=%s",
                 address ? address : "?", door, key_txt);
    else if (log_throttle_allow(&st->denied_log, zclock_mono() * 1000000LL,
                                ZAP_DENIALS_LOGGED_PER_S, ZAP_DENIALS))
        log_warn("CURVE: denied (CURVE) ipaddress=%s door=%s client_key=%s: %s",
                 address ? address : "?", door, key_txt,
                 !store ? "no operator keys are admitted here (--ctl-allowed-keys)"
                        : "key not in the allowed directory");
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, version ? version : "1.0");
    zmsg_addstr(reply, sequence ? sequence : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, strcmp(status, "200") == 0 ? key_txt : "");
    zmsg_addmem(reply, "", 0); /* no metadata */
    zmsg_send(&reply, handler);
    zframe_destroy(&key);
    free(version);
    free(sequence);
    free(domain);
    free(address);
    free(identity);
    free(mechanism);
    zmsg_destroy(&request);
}

/* Commands on the pipe: "CTL" dir (adds the operator store), "$TERM". */
static void zap_actor(zsock_t *pipe, void *args)
{
    zap_state_t st = {.workers = zcertstore_new((const char *)args), .ctl = NULL};
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, ZAP_ENDPOINT) != 0) {
        zsock_destroy(&handler);
        zcertstore_destroy(&st.workers);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, handler, NULL);
    for (;;) {
        void *which = zpoller_wait(poller, -1);
        if (which == handler) {
            zap_answer(&st, handler);
            continue;
        }
        if (which != pipe)
            break; /* interrupted */
        zmsg_t *cmd = zmsg_recv(pipe);
        char *word = cmd ? zmsg_popstr(cmd) : NULL;
        bool term = !word || strcmp(word, "$TERM") == 0;
        if (word && strcmp(word, "CTL") == 0) {
            char *dir = zmsg_popstr(cmd);
            zcertstore_destroy(&st.ctl);
            st.ctl = dir ? zcertstore_new(dir) : NULL;
            free(dir);
            zsock_signal(pipe, 0);
        }
        free(word);
        zmsg_destroy(&cmd);
        if (term)
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&handler);
    log_throttle_flush(&st.denied_log, zclock_mono() * 1000000LL, true, ZAP_DENIALS);
    zcertstore_destroy(&st.workers);
    zcertstore_destroy(&st.ctl);
}

curve_server_t *curve_server_new(const char *cert_path, const char *allowed_dir, char *err,
                                 size_t err_size)
{
    if (!is_dir(allowed_dir)) {
        snprintf(err, err_size, "--allowed-keys %s is not a directory", allowed_dir);
        return NULL;
    }
    curve_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cert = load_secret_cert(cert_path, err, err_size);
    /* czmq logs to stdout by default: stdout carries the run's summary. */
    zsys_set_logstream(stderr);
    if (self->cert) {
        self->zap = zactor_new(zap_actor, (void *)allowed_dir);
        if (!self->zap)
            snprintf(err, err_size, "cannot start the ZAP handler (is another one running?)");
    }
    if (!self->zap) {
        curve_server_destroy(&self);
        return NULL;
    }
    return self;
}

void curve_server_destroy(curve_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    curve_server_t *self = *self_p;
    zactor_destroy(&self->zap);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void curve_server_apply(const curve_server_t *self, zsock_t *sock)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, DOMAIN_WORKERS);
}

int curve_server_allow_ctl(curve_server_t *self, const char *ctl_allowed_dir, char *err,
                           size_t err_size)
{
    if (!is_dir(ctl_allowed_dir)) {
        snprintf(err, err_size, "--ctl-allowed-keys %s is not a directory", ctl_allowed_dir);
        return -1;
    }
    zstr_sendx(self->zap, "CTL", ctl_allowed_dir, NULL);
    zsock_wait(self->zap);
    return 0;
}

void curve_server_apply_ctl(const curve_server_t *self, zsock_t *sock)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, DOMAIN_CTL);
}

int curve_client_apply(zsock_t *sock, const char *cert_path, const char *server_cert_path,
                       char *err, size_t err_size)
{
    zcert_t *cert = load_secret_cert(cert_path, err, err_size);
    if (!cert)
        return -1;
    zcert_t *server = file_exists(server_cert_path) ? zcert_load(server_cert_path) : NULL;
    if (!server) {
        snprintf(err, err_size, "cannot read the coordinator's certificate %s", server_cert_path);
        zcert_destroy(&cert);
        return -1;
    }
    zcert_apply(cert, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    zcert_destroy(&server);
    zcert_destroy(&cert);
    return 0;
}
