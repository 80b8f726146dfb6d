/*  ctl_client.c: one request to a coordinator's ctl socket, one answer (see
    ctl_client.h). */
#include "coordinator/ctl_client.h"

#include <czmq.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/curve.h"
#include "proto/proto.h"

#define CTL_CLIENT_DEFAULT_TIMEOUT_MS 5000
/* Room for the largest answer body and the message around it. */
#define CTL_CLIENT_MAX_MESSAGE_BYTES (PROTO_MAX_CTL_BODY_BYTES + 8192)

struct _ctl_client_t {
    char *endpoint;
    char *cert_path;            /* NULL: plain text */
    char *coordinator_key_path; /* NULL: plain text */
    int64_t timeout_ms;
};

static char *copy_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

ctl_client_t *ctl_client_new(const ctl_client_config_t *config, char *err, size_t err_size)
{
    if (!config->endpoint || !*config->endpoint) {
        snprintf(err, err_size, "no ctl endpoint (tcp://HOST:PORT)");
        return NULL;
    }
    if (!config->cert_path != !config->coordinator_key_path) {
        snprintf(err, err_size, "CURVE needs both --cert FILE and --coordinator-key FILE");
        return NULL;
    }
    ctl_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->endpoint = strdup(config->endpoint);
    self->cert_path = copy_or_null(config->cert_path);
    self->coordinator_key_path = copy_or_null(config->coordinator_key_path);
    self->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : CTL_CLIENT_DEFAULT_TIMEOUT_MS;
    if (!self->endpoint || (config->cert_path && !self->cert_path) ||
        (config->coordinator_key_path && !self->coordinator_key_path)) {
        ctl_client_destroy(&self);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    return self;
}

void ctl_client_destroy(ctl_client_t **self_p)
{
    ctl_client_t *self = *self_p;
    if (!self)
        return;
    free(self->endpoint);
    free(self->cert_path);
    free(self->coordinator_key_path);
    free(self);
    *self_p = NULL;
}

/* Sends the request on a fresh socket and waits for its answer (or a refused
   handshake). On CTL_CLIENT_OK *reply is decoded and the caller clears it. */
static ctl_client_status_t exchange(const ctl_client_t *self, const proto_msg_t *request,
                                    proto_msg_t *reply, char *err, size_t err_size)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) {
        snprintf(err, err_size, "cannot create a socket");
        return CTL_CLIENT_NO_ANSWER;
    }
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, CTL_CLIENT_MAX_MESSAGE_BYTES);
    if (self->cert_path &&
        curve_client_apply(sock, self->cert_path, self->coordinator_key_path, err, err_size) != 0) {
        zsock_destroy(&sock);
        return CTL_CLIENT_BAD_CONFIG;
    }
    char monitor_endpoint[64];
    snprintf(monitor_endpoint, sizeof monitor_endpoint, "inproc://surge-ctl-monitor-%p",
             (void *)sock);
    zmq_socket_monitor(zsock_resolve(sock), monitor_endpoint,
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    zsock_t *monitor = zsock_new(ZMQ_PAIR);
    zsock_connect(monitor, "%s", monitor_endpoint);
    ctl_client_status_t status = CTL_CLIENT_NO_ANSWER;
    const char *endpoint = self->endpoint;
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to '%s' (an endpoint is tcp://HOST:PORT)",
                 endpoint);
        status = CTL_CLIENT_BAD_CONFIG;
        goto done;
    }
    if (proto_send(sock, request) != 0) {
        snprintf(err, err_size, "cannot send to %s", endpoint);
        goto done;
    }
    zpoller_t *poller = zpoller_new(sock, monitor, NULL);
    void *which =
        zpoller_wait(poller, self->timeout_ms < INT_MAX ? (int)self->timeout_ms : INT_MAX);
    zpoller_destroy(&poller);
    if (which == monitor) {
        snprintf(err, err_size,
                 "%s refused the connection (CURVE authentication): your key is not among the "
                 "coordinator's operator keys (--ctl-allowed-keys), or --coordinator-key is "
                 "not the coordinator's",
                 endpoint);
        goto done;
    }
    if (which != sock) {
        snprintf(err, err_size,
                 "no answer from %s within %.1f s: is the run still going, and is this its ctl "
                 "endpoint (RESULTS_DIR/ctl.endpoint)? %s",
                 endpoint, (double)self->timeout_ms / 1e3,
                 self->cert_path
                     ? "With CURVE a refused key also looks like this: check that your key is "
                       "in the coordinator's --ctl-allowed-keys."
                     : "A coordinator with CURVE on ctl needs --cert and --coordinator-key.");
        goto done;
    }
    zframe_t *frame = zframe_recv(sock);
    char why[512] = "no frame";
    bool readable = frame && proto_decode(reply, zframe_data(frame), zframe_size(frame), why,
                                          sizeof why) == PROTO_OK;
    zframe_destroy(&frame);
    if (readable && reply->type != PROTO_CTL_REPLY) {
        snprintf(why, sizeof why, "a %s, not a ctl_reply", proto_type_name(reply->type));
        proto_msg_clear(reply);
        readable = false;
    }
    if (!readable) {
        snprintf(err, err_size, "unreadable answer from %s: %s", endpoint, why);
        goto done;
    }
    status = CTL_CLIENT_OK;
done:
    zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&sock);
    return status;
}

void ctl_run_dir_read(const char *dir, ctl_run_dir_t *out)
{
    memset(out, 0, sizeof *out);
    char path[4200];
    snprintf(path, sizeof path, "%s/ctl.key_secret", dir);
    if (access(path, R_OK) == 0) {
        snprintf(out->cert_path, sizeof out->cert_path, "%s", path);
        snprintf(out->coordinator_key_path, sizeof out->coordinator_key_path,
                 "%s/ctl.coordinator.key", dir);
    }
    snprintf(path, sizeof path, "%s/ctl.endpoint", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    out->has_endpoint_file = true;
    if (fgets(out->endpoint, sizeof out->endpoint, f))
        out->endpoint[strcspn(out->endpoint, "\r\n")] = '\0';
    else
        out->endpoint[0] = '\0';
    fclose(f);
}

ctl_client_status_t ctl_client_call(ctl_client_t *self, const char *command, const char *text,
                                    double value, char **body_json, char *err, size_t err_size)
{
    *body_json = NULL;
    proto_msg_t request = {.type = PROTO_CTL_REQUEST};
    request.u.ctl_request = (proto_ctl_request_t){(uint64_t)getpid(), (char *)command,
                                                  (char *)(text ? text : ""), value};
    proto_msg_t reply;
    memset(&reply, 0, sizeof reply);
    ctl_client_status_t status = exchange(self, &request, &reply, err, err_size);
    if (status != CTL_CLIENT_OK)
        return status;
    const proto_ctl_reply_t *r = &reply.u.ctl_reply;
    if (!r->ok) {
        snprintf(err, err_size, "%s", r->error ? r->error : "");
        status = CTL_CLIENT_REFUSED;
    } else {
        *body_json = strdup(r->body_json ? r->body_json : "");
        if (!*body_json) {
            snprintf(err, err_size, "out of memory");
            status = CTL_CLIENT_NO_ANSWER;
        }
    }
    proto_msg_clear(&reply);
    return status;
}
