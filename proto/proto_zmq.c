/*  proto_zmq.c: sending messages over czmq sockets (see proto.h). */
#include <czmq.h>

#include "proto/proto.h"

int proto_send_bytes(void *zsock, void *identity, const void *data, size_t len)
{
    zmsg_t *zmsg = zmsg_new();
    if (identity)
        zmsg_append(zmsg, &(zframe_t *){zframe_dup((zframe_t *)identity)});
    zmsg_addmem(zmsg, data, len);
    int rc = zmsg_send(&zmsg, zsock);
    zmsg_destroy(&zmsg); /* zmsg_send keeps the message when the send fails */
    return rc;
}

int proto_send_to(void *zsock, void *identity, const proto_msg_t *msg)
{
    buf_t out;
    buf_init(&out);
    proto_encode(msg, &out);
    int rc = proto_send_bytes(zsock, identity, out.data, out.len);
    buf_free(&out);
    return rc;
}

int proto_send(void *zsock, const proto_msg_t *msg)
{
    return proto_send_to(zsock, NULL, msg);
}
