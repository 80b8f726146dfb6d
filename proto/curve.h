/*  curve.h: CURVE authentication between coordinator and workers, and on the operator's
    ctl socket (docs/security.md).

    Keys are czmq certificates: NAME.key holds the public key, NAME.key_secret the pair
    (mode 0600). The coordinator runs a ZAP handler (our own, in the style of czmq's
    zauth) that admits only the public keys found in a directory of certificates; a
    worker needs its own secret certificate and the coordinator's public one, and cannot
    complete the handshake with a coordinator holding another key.

    Two doors, two key sets: the worker socket and the ctl socket carry different ZAP
    domains, and each domain has its own directory of admitted keys, so a worker's key
    (which sits on every worker machine) cannot command the fleet. czmq's zauth has one
    store for every socket of the process, which is why this handler exists.
*/
#ifndef SURGE_PROTO_CURVE_H
#define SURGE_PROTO_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes DIR/NAME.key and DIR/NAME.key_secret (0600), creating DIR (0700) if needed.
   Refuses to overwrite an existing pair. 0 or -1 with a reason in err. */
int curve_keygen(const char *dir, const char *name, char *err, size_t err_size);

/* The coordinator's side: its secret certificate and a running ZAP handler that admits
   the public keys of allowed_dir (entries starting with '.' are skipped, as Kubernetes'
   "..data" is; the directory is re-read when it changes). Must exist before the socket
   binds. Refused handshakes are logged with the peer's address and key. */
typedef struct _curve_server_t curve_server_t;

curve_server_t *curve_server_new(const char *cert_path, const char *allowed_dir, char *err,
                                 size_t err_size);
void curve_server_destroy(curve_server_t **self_p);
/* Makes sock a CURVE server with this certificate, admitting the keys of allowed_dir
   (the worker door); call before binding. */
void curve_server_apply(const curve_server_t *self, zsock_t *sock);

/* The operator door: admits the public keys of ctl_allowed_dir on sockets given
   curve_server_apply_ctl (and only there). 0 or -1 with a reason in err. */
int curve_server_allow_ctl(curve_server_t *self, const char *ctl_allowed_dir, char *err,
                           size_t err_size);
/* Makes sock a CURVE server with this certificate whose peers must hold an operator key. */
void curve_server_apply_ctl(const curve_server_t *self, zsock_t *sock);

/* The worker's side: its own secret certificate and the coordinator's public one, applied
   to sock before it connects. 0 or -1 with a reason in err. */
int curve_client_apply(zsock_t *sock, const char *cert_path, const char *server_cert_path,
                       char *err, size_t err_size);

#endif
