/*  test_ctl_proto.c: the ctl messages (proto/proto.h) survive a round trip, and the
    decoder refuses what the ctl socket must not act on. */
#include <string.h>

#include "check.h"
#include "proto/proto.h"

static void test_ctl_request_and_reply_round_trip(void)
{
    proto_msg_t in = {.type = PROTO_CTL_REQUEST};
    in.u.ctl_request = (proto_ctl_request_t){42, "set-rate", "", 12.5};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    proto_msg_t out;
    char err[256];
    REQUIRE(proto_decode(&out, b.data, b.len, err, sizeof err) == PROTO_OK);
    CHECK_INT_EQ(out.type, PROTO_CTL_REQUEST);
    CHECK_INT_EQ(out.u.ctl_request.id, 42);
    CHECK_STR_EQ(out.u.ctl_request.command, "set-rate");
    CHECK(out.u.ctl_request.value == 12.5);
    proto_msg_clear(&out);

    proto_msg_t reply = {.type = PROTO_CTL_REPLY};
    reply.u.ctl_reply = (proto_ctl_reply_t){42, false, "not paused", ""};
    buf_clear(&b);
    proto_encode(&reply, &b);
    REQUIRE(proto_decode(&out, b.data, b.len, err, sizeof err) == PROTO_OK);
    CHECK(!out.u.ctl_reply.ok);
    CHECK_STR_EQ(out.u.ctl_reply.error, "not paused");
    CHECK_STR_EQ(out.u.ctl_reply.body_json, "");
    proto_msg_clear(&out);
    buf_free(&b);
}

static void test_oversized_command_and_bad_rate_are_refused(void)
{
    char word[PROTO_MAX_CTL_COMMAND + 2];
    memset(word, 'x', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    proto_msg_t in = {.type = PROTO_CTL_REQUEST};
    in.u.ctl_request = (proto_ctl_request_t){1, word, "", 0};
    buf_t b;
    buf_init(&b);
    proto_encode(&in, &b);
    proto_msg_t out;
    char err[256];
    CHECK_INT_EQ(proto_decode(&out, b.data, b.len, err, sizeof err), PROTO_ERR_OVERSIZE);

    in.u.ctl_request = (proto_ctl_request_t){1, "set-rate", "", -5};
    buf_clear(&b);
    proto_encode(&in, &b);
    CHECK_INT_EQ(proto_decode(&out, b.data, b.len, err, sizeof err), PROTO_ERR_BAD_VALUE);
    buf_free(&b);
}

static void test_missing_command_is_refused(void)
{
    /* {"v": 1, "t": "ctl_request", "id": 1} */
    static const unsigned char msg[] = {0x83, 0xa1, 'v',  0x01, 0xa1, 't', 0xab, 'c',
                                        't',  'l',  '_',  'r',  'e',  'q', 'u',  'e',
                                        's',  't',  0xa2, 'i',  'd',  0x01};
    proto_msg_t out;
    char err[256];
    CHECK_INT_EQ(proto_decode(&out, msg, sizeof msg, err, sizeof err), PROTO_ERR_MISSING);
    CHECK(strstr(err, "cmd") != NULL);
}

CHECK_MAIN(test_ctl_request_and_reply_round_trip, test_oversized_command_and_bad_rate_are_refused,
           test_missing_command_is_refused)
