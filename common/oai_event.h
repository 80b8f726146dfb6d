/*  oai_event.h: what surge needs from OpenAI-style responses, without building a tree.

    One parse per SSE `data:` payload of a streaming response, or per whole body of a
    non-streaming one. Both /v1/completions (choices[].text) and /v1/chat/completions
    (choices[].delta.content, choices[].message.content, reasoning_content) shapes,
    `usage` (prompt_tokens, completion_tokens; with vLLM's continuous_usage_stats it
    appears in every chunk, cumulative), `finish_reason`, and error objects
    ({"error": {...}} or {"object": "error", ...}).

    Hot path: uses a tokenizer with a token array allocated once in the parser; no
    allocation per event. Content text is not copied: only its byte length and
    whether it is non-empty matter for timing (TTFT = first non-empty content).
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
    /* Content: bytes of text / delta.content / message.content summed over choices
       (after JSON unescaping is not needed: escaped length is fine for a non-empty test). */
    size_t content_bytes;
    size_t reasoning_bytes;  /* reasoning_content / reasoning */
    int content_choices;     /* choices that carried non-empty content or reasoning */
    /* usage, -1 when absent */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    char finish_reason[24];  /* "" when absent/null */
    /* error objects */
    int64_t error_code;      /* error.code when numeric, else 0 */
    char error_message[160]; /* truncated, for logs and requests.jsonl */
    /* malformed: what was wrong */
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

#endif
