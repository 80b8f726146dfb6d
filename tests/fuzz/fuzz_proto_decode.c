/*  fuzz_proto_decode.c: no byte string sent to a coordinator or a worker may crash,
    leak or trip a sanitizer in the message decoder; whatever decodes must re-encode
    and decode again to the same type (docs/protocol.md). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_msg_t msg;
    char err[256];
    if (proto_decode(&msg, data, size, err, sizeof err) == PROTO_OK) {
        buf_t again;
        buf_init(&again);
        proto_encode(&msg, &again);
        proto_msg_t copy;
        if (proto_decode(&copy, again.data, again.len, err, sizeof err) != PROTO_OK ||
            copy.type != msg.type)
            abort();
        proto_msg_clear(&copy);
        buf_free(&again);
    }
    proto_msg_clear(&msg);
    return 0;
}
