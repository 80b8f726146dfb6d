/*  fuzz_ctl_reply: the JSON body of a coordinator's ctl reply as `surge ctl` prints it
    (coordinator/ctl_answer.h). Any body for any command: printed, never a crash, an
    out-of-bounds access or a leak; and what is printed holds no control character but
    its own newlines (no forged lines, no terminal escapes) and no "(null)".

    Input layout: byte 0 picks the command, the rest is the body (JSON; NULL when it is
    not). */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/ctl_answer.h"

static const char *const commands[] = {"status", "mark",  "mark-start", "mark-end",
                                       "stop",   "pause", "resume",     "set-rate"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    const char *command = commands[data[0] % (sizeof commands / sizeof commands[0])];
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ctl_answer_print(out, command, body);
    fclose(out);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        lines += c == '\n';
        if ((c < 0x20 && c != '\n') || c == 0x7f) {
            fprintf(stderr, "control character 0x%02x printed: %s\n", c, text);
            abort();
        }
    }
    /* status prints at most 6 lines, every other answer 1 */
    bool null_in_input = memmem(data, size, "null", 4) != NULL; /* (%s) of "null" */
    if (lines > (strcmp(command, "status") == 0 ? 6u : 1u) ||
        (!null_in_input && strstr(text, "(null)"))) {
        fprintf(stderr, "forged line or (null): %s\n", text);
        abort();
    }
    free(text);
    json_decref(body);
    return 0;
}
