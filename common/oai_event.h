/*  oai_event.h: what surge needs from OpenAI-style responses, without building a tree.

    One parse per SSE `data:` payload of a streaming response, or per whole body of a
    non-streaming one. Both /v1/completions (choices[].text) and /v1/chat/completions
    (choices[].delta.content, choices[].message.content, reasoning_content) shapes,
    `usage` (prompt_tokens, completion_tokens; with vLLM's continuous_usage_stats it
    appears in every chunk, cumulative), `finish_reason`, and error objects
    ({"error": {...}} or {"object": "error", ...}).

    Hot path: a single-pass scanner answers the common chunk shapes; anything it is
    unsure of goes to a tokenizer with a token array allocated once in the parser. No
    allocation per event. Content text is not copied: only its byte length and
    whether it is non-empty matter for timing (TTFT = first non-empty content).

    Strict where it matters: the payload must be one valid JSON value (RFC 8259: numbers,
    literals, separators, no raw control characters in strings, nesting <= 64), and the
    fields surge reads must have the expected types (token counts: non-negative
    integers or null); otherwise the event is MALFORMED with a reason. Unknown keys are
    ignored. Keys are matched as written (a key spelled with \u escapes is not found).
*/
#ifndef SURGE_OAI_EVENT_H
#define SURGE_OAI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OAI_EVENT_CHUNK = 0,     /* a normal JSON event/body (may or may not carry content) */
    OAI_EVENT_DONE = 1,      /* the literal "[DONE]" */
    OAI_EVENT_ERROR = 2,     /* the server sent an error object */
    OAI_EVENT_MALFORMED = 3, /* not JSON, or JSON of an unexpected shape */
} oai_event_kind_t;

typedef struct {
    oai_event_kind_t kind;
    /* Content: UTF-8 bytes (after JSON unescaping, so "\n" is 1 and "" is 0) of text /
       delta.content / message.content summed over choices; null counts as empty. */
    size_t content_bytes;
    size_t reasoning_bytes; /* reasoning_content / reasoning (the larger, never both) */
    /* The content text of the first choice that has some (text / delta.content /
       message.content), as it stands in the payload between its quotes, still
       JSON-escaped: borrowed from the parsed data, valid as long as it is; NULL when
       none. Conversations keep the answer actually received (oai_json_unescape). */
    const char *content_json;
    size_t content_json_len;
    int content_choices; /* choices that carried non-empty content or reasoning */
    int choices;         /* entries in choices[] (0 for the final usage chunk) */
    /* usage, -1 when absent */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    char finish_reason[24]; /* "" when absent/null */
    /* error objects */
    int64_t error_code;      /* error.code when numeric, else 0 */
    char error_message[160]; /* unescaped, truncated on a UTF-8 boundary, control chars
                                as spaces: for logs and requests.jsonl */
    char error_type[48];     /* error.type ("BadRequestError"), TGI's error_type, or "" */
    /* malformed: what was wrong (content, usage and finish_reason then read as absent) */
    char malformed_reason[96];
} oai_event_t;

typedef struct _oai_parser_t oai_parser_t;

/* max_tokens: size of the JSON token array (0 = default 2048). Bodies with more tokens
   are reported as MALFORMED ("too many JSON tokens"). */
oai_parser_t *oai_parser_new(int max_tokens);
void oai_parser_destroy(oai_parser_t **self_p);
/* Parses one payload (not NUL-terminated necessarily). Always fills *out; returns kind. */
oai_event_kind_t oai_parser_parse(oai_parser_t *self, const char *data, size_t len,
                                  oai_event_t *out);
/* A single-pass scanner for the common chunk shapes is tried first (on by default);
   whatever it is unsure of goes to the general tokenizer path. Results are identical
   either way (tests/fuzz/fuzz_oai_equiv.c): the switch exists for that proof and for
   benchmarks. */
void oai_parser_set_fast_path(oai_parser_t *self, bool enabled);
/* Whether the last parse was answered by the fast path (tests, benchmarks). */
bool oai_parser_answered_fast(const oai_parser_t *self);

/* Unescapes a JSON string body (an oai_event_t content_json) into dst, which must hold
   len + 1 bytes (unescaping never lengthens); control characters are kept. Returns the
   bytes written (dst is NUL-terminated). */
size_t oai_json_unescape(const char *json, size_t len, char *dst);

/* The first event for which this is true is the first token (TTFT): non-empty content
   or reasoning in any choice. A role-only first chunk ("content": "") is not. */
static inline bool oai_event_has_output(const oai_event_t *event)
{
    return event->kind == OAI_EVENT_CHUNK && event->content_choices > 0;
}

/* Output token accounting for one request, in one place (see docs/streaming.md).
   Server usage wins: the last usage.completion_tokens seen (cumulative, whether from
   the final usage chunk or vLLM's continuous_usage_stats in every chunk). Without
   usage, each event with output counts as one token, and the count is flagged as
   estimated. A plain struct: embed it in the request, no allocation. */
typedef struct {
    int64_t content_events;          /* events with output */
    int64_t usage_completion_tokens; /* last cumulative server count, -1 if none yet */
    int64_t usage_prompt_tokens;     /* last server prompt count, -1 if none yet */
} oai_tokens_t;

void oai_tokens_reset(oai_tokens_t *self);
/* Accounts one parsed event. Returns the output tokens this event carried, for
   per-token ITL: with usage in the event (continuous_usage_stats), the growth of
   completion_tokens since the previous usage; else 1 for an event with output, 0
   otherwise. A usage-only event (the final chunk, choices: []) carries 0. */
int64_t oai_tokens_add(oai_tokens_t *self, const oai_event_t *event);
/* Output tokens of the request so far; *estimated (may be NULL) is set when no server
   usage was seen and the count is the number of output events. */
int64_t oai_tokens_output(const oai_tokens_t *self, bool *estimated);

#endif
