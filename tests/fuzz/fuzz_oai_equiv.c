/*  fuzz_oai_equiv: the fast path of oai_parser_parse changes no result. Every input is
    parsed with the fast path on and off (the general tokenizer path alone), with the
    default token limit and with a small one (so that giving up at the limit is
    exercised too); any difference in any field aborts. The fast path may only answer
    CHUNK events. */
#include <stdlib.h>
#include <string.h>

#include "common/oai_event.h"

static void events_compare(const oai_event_t *a, const oai_event_t *b)
{
    if (a->kind != b->kind || a->content_bytes != b->content_bytes ||
        a->reasoning_bytes != b->reasoning_bytes || a->content_choices != b->content_choices ||
        a->choices != b->choices || a->prompt_tokens != b->prompt_tokens ||
        a->completion_tokens != b->completion_tokens || a->error_code != b->error_code ||
        strcmp(a->finish_reason, b->finish_reason) != 0 ||
        strcmp(a->error_message, b->error_message) != 0 ||
        strcmp(a->error_type, b->error_type) != 0 ||
        strcmp(a->malformed_reason, b->malformed_reason) != 0)
        abort();
}

static void parse_both(oai_parser_t *fast, oai_parser_t *general, const char *data, size_t size)
{
    oai_event_t a, b;
    memset(&a, 0xA5, sizeof a);
    memset(&b, 0x5A, sizeof b);
    oai_event_kind_t ka = oai_parser_parse(fast, data, size, &a);
    oai_event_kind_t kb = oai_parser_parse(general, data, size, &b);
    if (ka != a.kind || kb != b.kind || oai_parser_answered_fast(general))
        abort();
    if (oai_parser_answered_fast(fast) && ka != OAI_EVENT_CHUNK)
        abort();
    events_compare(&a, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static oai_parser_t *fast, *general, *fast_small, *general_small;
    if (!fast) {
        fast = oai_parser_new(0);
        general = oai_parser_new(0);
        oai_parser_set_fast_path(general, false);
        fast_small = oai_parser_new(24);
        general_small = oai_parser_new(24);
        oai_parser_set_fast_path(general_small, false);
    }
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    memcpy(copy, data, size);
    parse_both(fast, general, copy, size);
    parse_both(fast_small, general_small, copy, size);
    free(copy);
    return 0;
}
