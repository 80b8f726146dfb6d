/*  ctl_client.h: the operator's side of a coordinator's ctl socket (ctl.h, docs/chaos.md):
    one request, one answer, within a timeout. `surge ctl` parses flags and prints; the
    socket, CURVE, the encoding and the waiting are here.

        ctl_client_t *c = ctl_client_new(&(ctl_client_config_t){endpoint, cert, key, 5000},
                                         err, sizeof err);
        char *body = NULL;
        ctl_client_status_t s = ctl_client_call(c, "mark", "db failover", 0, &body, err, sizeof
   err); free(body); ctl_client_destroy(&c);

    Each call uses a fresh DEALER socket, closed before it returns: an answer that
    arrives after its call gave up can never be taken for the next call's. A refused
    CURVE handshake is seen (a socket monitor) and said as such instead of a timeout.
    One thread at a time per client.
*/
#ifndef SURGE_COORDINATOR_CTL_CLIENT_H
#define SURGE_COORDINATOR_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ctl_client_t ctl_client_t;

typedef struct {
    const char *endpoint; /* the ctl endpoint, tcp://HOST:PORT */
    /* CURVE (proto/curve.h): the operator's secret certificate and the coordinator's
       public one; both or neither (plain text). */
    const char *cert_path;
    const char *coordinator_key_path;
    int64_t timeout_ms; /* the wait for each answer; <= 0: 5 s */
} ctl_client_config_t;

typedef enum {
    CTL_CLIENT_OK = 0,    /* answered: *body_json holds the answer's JSON ("" = none) */
    CTL_CLIENT_REFUSED,   /* the coordinator refused the command; err holds its reason */
    CTL_CLIENT_NO_ANSWER, /* unreachable, handshake refused, no answer in time, or an
                             unreadable answer; err says which */
    CTL_CLIENT_BAD_CONFIG /* the certificates or the endpoint cannot be used; err says why */
} ctl_client_status_t;

/* Copies the config (strings included). NULL with the reason in err when it is not
   usable as given (no endpoint, half of CURVE). */
ctl_client_t *ctl_client_new(const ctl_client_config_t *config, char *err, size_t err_size);
void ctl_client_destroy(ctl_client_t **self_p);

/* Sends command (status, mark, mark-start, mark-end, pause, resume, set-rate, stop) with
   its text ("" or NULL when none) and value (set-rate's rate, else 0), and waits for the
   answer. On CTL_CLIENT_OK *body_json is a new string for the caller to free(); otherwise
   it is NULL and err says why. */
ctl_client_status_t ctl_client_call(ctl_client_t *self, const char *command, const char *text,
                                    double value, char **body_json, char *err, size_t err_size);

/* What a running `surge run` leaves in its results directory for operators: its ctl
   endpoint (DIR/ctl.endpoint) and, while it runs, the operator key that ctl admits
   (DIR/ctl.key_secret, mode 0600) with the coordinator's public one
   (DIR/ctl.coordinator.key). */
typedef struct {
    bool has_endpoint_file;          /* DIR/ctl.endpoint could be opened */
    char endpoint[512];              /* its first line; "" when none */
    char cert_path[4200];            /* DIR/ctl.key_secret when readable, else "" */
    char coordinator_key_path[4200]; /* DIR/ctl.coordinator.key, set with cert_path */
} ctl_run_dir_t;

/* Fills out from dir (never fails: what is missing is left empty). */
void ctl_run_dir_read(const char *dir, ctl_run_dir_t *out);

#endif
