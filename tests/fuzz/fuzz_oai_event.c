/*  fuzz_oai_event: any payload gives a classified event with consistent fields and never
    crashes; and jansson, a full JSON parser, agrees on what is valid JSON: surge never
    accepts a payload jansson rejects as bad syntax, and never calls a payload jansson
    accepts a syntax error (unless it hits surge's own documented limits). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/oai_event.h"

static const char *const syntax_reasons[] = {"invalid JSON",         "truncated JSON",
                                             "unexpected character", "control character",
                                             "invalid literal",      "expected ':'",
                                             "object key without",   "more than one JSON value",
                                             "string used as a key", "unexpected JSON token"};

static int is_syntax_reason(const char *reason)
{
    for (size_t i = 0; i < sizeof syntax_reasons / sizeof syntax_reasons[0]; i++)
        if (strncmp(reason, syntax_reasons[i], strlen(syntax_reasons[i])) == 0)
            return 1;
    return 0;
}

static void check_terminated(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static oai_parser_t *parser;
    if (!parser)
        parser = oai_parser_new(0);       /* one for the process, as a worker thread keeps one */
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    memcpy(copy, data, size);
    oai_event_t ev;
    memset(&ev, 0xA5, sizeof ev); /* the parser must fill every field */
    oai_event_kind_t kind = oai_parser_parse(parser, copy, size, &ev);
    if (kind != ev.kind || kind < OAI_EVENT_CHUNK || kind > OAI_EVENT_MALFORMED)
        abort();
    check_terminated(ev.finish_reason, sizeof ev.finish_reason);
    check_terminated(ev.error_message, sizeof ev.error_message);
    check_terminated(ev.error_type, sizeof ev.error_type);
    check_terminated(ev.malformed_reason, sizeof ev.malformed_reason);
    if ((kind == OAI_EVENT_MALFORMED) != (ev.malformed_reason[0] != '\0'))
        abort();
    if (ev.content_choices < 0 || ev.content_choices > ev.choices ||
        (ev.content_choices > 0) != (ev.content_bytes + ev.reasoning_bytes > 0) ||
        ev.prompt_tokens < -1 || ev.completion_tokens < -1)
        abort();
    if (kind != OAI_EVENT_DONE) {
        json_error_t err;
        json_t *doc = json_loadb(copy, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        /* jansson lets some raw NUL bytes through (after a number), which RFC 8259 does
           not: only NUL-free payloads are compared in this direction */
        if (doc && kind == OAI_EVENT_MALFORMED && is_syntax_reason(ev.malformed_reason) &&
            !memchr(copy, '\0', size))
            abort(); /* valid JSON called a syntax error */
        if (!doc && kind != OAI_EVENT_MALFORMED) {
            enum json_error_code code = json_error_code(&err);
            /* surge does not check UTF-8, integer range of fields it ignores, or lone
               surrogates in \u escapes: jansson refusing those is not a disagreement */
            if (code != json_error_invalid_utf8 && code != json_error_numeric_overflow &&
                code != json_error_null_character && code != json_error_null_byte_in_key &&
                !strstr(err.text, "Unicode") && !strstr(err.text, "surrogate"))
                abort(); /* invalid JSON accepted */
        }
        json_decref(doc);
    }
    free(copy);
    return 0;
}
