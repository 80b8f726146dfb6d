/*  test_log.c: a log line's arguments cannot forge another line or reach the terminal
    (common/log.h, docs/security.md). */
#include <string.h>

#include "check.h"
#include "common/log.h"

static const char *escaped(const char *text)
{
    static char out[512];
    log_escape(out, sizeof out, text, strlen(text));
    return out;
}

static void test_control_bytes_are_escaped_printable_text_kept(void)
{
    CHECK_STR_EQ(escaped("worker-1 joined"), "worker-1 joined");
    CHECK_STR_EQ(escaped("a\nsurge[run] INFO  forged"), "a\\nsurge[run] INFO  forged");
    CHECK_STR_EQ(escaped("\x1b[2J\r\t\x07\x7f"), "\\x1b[2J\\r\\t\\x07\\x7f");
    CHECK_STR_EQ(escaped("back\\slash"), "back\\\\slash"); /* so \n above is unambiguous */
    CHECK_STR_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9");   /* UTF-8 kept */
    CHECK_STR_EQ(escaped("\xc2\x9b"
                         "31m"),
                 "\\u009b31m"); /* C1 CSI in UTF-8 */
}

static void test_escaping_truncates_whole_escapes(void)
{
    char out[6];
    size_t n = log_escape(out, sizeof out, "ab\n\n", 4);
    CHECK_STR_EQ(out, "ab\\n"); /* the second \n does not fit whole: cut before it */
    CHECK_INT_EQ(n, 4);
}

CHECK_MAIN(test_control_bytes_are_escaped_printable_text_kept,
           test_escaping_truncates_whole_escapes)
