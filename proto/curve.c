/*  curve.c: CURVE keys and their use on the fleet's sockets (see curve.h).

    The coordinator admits workers through czmq's zauth actor, whose certificate store
    reads a directory of public certificates and skips entries starting with '.', so a
    Kubernetes Secret mount (files that are symlinks into "..data/") works as is. zauth
    runs VERBOSE: it logs each ZAP request with the peer's address, then "allowed" or
    "denied" with the client's public key, which is how a refused worker is traced.
*/
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/curve.h"

/* A certificate loaded from a public-only file has this secret key. */
#define NO_SECRET "0000000000000000000000000000000000000000"

struct _curve_server_t {
    zcert_t *cert;
    zactor_t *auth;
};

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
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

curve_server_t *curve_server_new(const char *cert_path, const char *allowed_dir, char *err,
                                 size_t err_size)
{
    struct stat st;
    if (stat(allowed_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "--allowed-keys %s is not a directory", allowed_dir);
        return NULL;
    }
    curve_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cert = load_secret_cert(cert_path, err, err_size);
    /* zauth logs through czmq, to stdout by default: stdout carries the run's summary. */
    zsys_set_logstream(stderr);
    if (self->cert)
        self->auth = zactor_new(zauth, NULL);
    if (!self->auth) {
        if (self->cert)
            snprintf(err, err_size, "cannot start the ZAP handler (zauth)");
        curve_server_destroy(&self);
        return NULL;
    }
    zstr_sendx(self->auth, "VERBOSE", NULL);
    zsock_wait(self->auth);
    zstr_sendx(self->auth, "CURVE", allowed_dir, NULL);
    zsock_wait(self->auth);
    return self;
}

void curve_server_destroy(curve_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    curve_server_t *self = *self_p;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void curve_server_apply(const curve_server_t *self, zsock_t *sock)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
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
