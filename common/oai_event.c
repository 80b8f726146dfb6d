/*  oai_event.c: classify one OpenAI-style JSON payload (an SSE `data:` or a
   whole body).

    Hot path: called once per streamed event of every request. A single-pass
   scanner (the "Fast path" section below) answers the usual chunk shapes without
   a token array; whatever it is unsure of comes here. jsmn tokenizes
   into a token array allocated once in oai_parser_new; nothing is allocated,
   nothing is copied except the few short strings the event reports
   (finish_reason, the error message), which are unescaped into fixed buffers of
   oai_event_t.

    jsmn alone is lenient (it accepts "[1 2]", trailing commas, "01", "tru"), so
   the token tree is validated here before anything is read from it: separators
   between tokens, literals, the JSON number grammar, control characters in
   strings, nesting depth, and nothing after the top-level value. A payload
   surge cannot read is reported as MALFORMED with a reason, never guessed at.
*/
#include "common/oai_event.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* OpenAI-style chunks nest four levels deep
   (choices[].delta.tool_calls[].function); anything far deeper is not a
   response we understand, and the limit bounds the validator's recursion. */
#define OAI_MAX_DEPTH          64
#define OAI_DEFAULT_MAX_TOKENS 2048

struct _oai_parser_t {
    int max_tokens;
    bool fast_path;     /* try the single-pass scanner first (default) */
    bool answered_fast; /* the last parse was answered by it */
    jsmntok_t tokens[];
};

/* One parse: the payload, its tokens, and where to report a problem. */
typedef struct {
    const char *js;
    size_t len;
    const jsmntok_t *tok;
    int count;
    oai_event_t *out;
} doc_t;

oai_parser_t *oai_parser_new(int max_tokens)
{
    if (max_tokens <= 0)
        max_tokens = OAI_DEFAULT_MAX_TOKENS;
    oai_parser_t *self = malloc(sizeof *self + (size_t)max_tokens * sizeof(jsmntok_t));
    if (!self)
        return NULL;
    self->max_tokens = max_tokens;
    self->fast_path = true;
    self->answered_fast = false;
    return self;
}

void oai_parser_destroy(oai_parser_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static oai_event_kind_t malformed(oai_event_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static oai_event_kind_t malformed(oai_event_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->malformed_reason, sizeof out->malformed_reason, fmt, ap);
    va_end(ap);
    /* what was read before the problem is dropped: a malformed event reports nothing */
    out->content_bytes = 0;
    out->reasoning_bytes = 0;
    out->content_json = NULL;
    out->content_json_len = 0;
    out->content_choices = 0;
    out->choices = 0;
    out->prompt_tokens = -1;
    out->completion_tokens = -1;
    out->finish_reason[0] = '\0';
    out->kind = OAI_EVENT_MALFORMED;
    return OAI_EVENT_MALFORMED;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* -------------------------------------------------------------------------------------
   Validation: jsmn gives token bounds; the bytes between tokens and inside
   primitives are checked here. Strings' bounds exclude their quotes. */

static int raw_start(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int raw_end(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* Bytes js[from, to) must be whitespace around exactly `sep` (or whitespace
   only when sep is 0). Returns the offset of the first bad byte, or -1. */
static int gap_check(const doc_t *doc, int from, int to, char sep)
{
    int i = from;
    while (i < to && is_json_space(doc->js[i]))
        i++;
    if (sep) {
        if (i >= to || doc->js[i] != sep)
            return i;
        i++;
        while (i < to && is_json_space(doc->js[i]))
            i++;
    }
    return i < to ? i : -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_is_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

static bool tok_is(const doc_t *doc, const jsmntok_t *t, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(t->end - t->start) == n && memcmp(doc->js + t->start, word, n) == 0;
}

static bool primitive_is_valid(const doc_t *doc, const jsmntok_t *t)
{
    return tok_is(doc, t, "null") || tok_is(doc, t, "true") || tok_is(doc, t, "false") ||
           number_is_valid(doc->js + t->start, (size_t)(t->end - t->start));
}

/* jsmn has checked the escapes; raw control characters are still to be refused.
 */
static int string_bad_byte(const doc_t *doc, const jsmntok_t *t)
{
    for (int i = t->start; i < t->end; i++)
        if ((unsigned char)doc->js[i] < 0x20)
            return i;
    return -1;
}

/* Validates the value at token i; returns the index after its subtree, or -1
   with the reason written to doc->out. */
static int value_validate(const doc_t *doc, int i, int depth)
{
    const jsmntok_t *t = &doc->tok[i];
    int bad;
    switch (t->type) {
    case JSMN_PRIMITIVE:
        if (t->size != 0 || !primitive_is_valid(doc, t)) {
            malformed(doc->out, "invalid literal or number at byte %d", t->start);
            return -1;
        }
        return i + 1;
    case JSMN_STRING:
        if (t->size != 0) {
            malformed(doc->out, "string used as a key outside an object at byte %d", t->start);
            return -1;
        }
        if ((bad = string_bad_byte(doc, t)) >= 0) {
            malformed(doc->out, "control character in string at byte %d", bad);
            return -1;
        }
        return i + 1;
    case JSMN_ARRAY:
    case JSMN_OBJECT:
        break;
    default:
        malformed(doc->out, "unexpected JSON token at byte %d", t->start);
        return -1;
    }
    if (depth >= OAI_MAX_DEPTH) {
        malformed(doc->out, "JSON nested deeper than %d at byte %d", OAI_MAX_DEPTH, t->start);
        return -1;
    }
    bool object = t->type == JSMN_OBJECT;
    int pos = t->start + 1; /* just after the bracket */
    int j = i + 1;
    for (int k = 0; k < t->size; k++) {
        if (j >= doc->count) {
            malformed(doc->out, "truncated JSON");
            return -1;
        }
        const jsmntok_t *child = &doc->tok[j];
        if ((bad = gap_check(doc, pos, raw_start(child), k ? ',' : 0)) >= 0) {
            malformed(doc->out, "unexpected character at byte %d", bad);
            return -1;
        }
        if (object) {
            if (child->type != JSMN_STRING || child->size != 1 || j + 1 >= doc->count) {
                malformed(doc->out, "object key without a value at byte %d", child->start);
                return -1;
            }
            if ((bad = string_bad_byte(doc, child)) >= 0) {
                malformed(doc->out, "control character in key at byte %d", bad);
                return -1;
            }
            if ((bad = gap_check(doc, raw_end(child), raw_start(&doc->tok[j + 1]), ':')) >= 0) {
                malformed(doc->out, "expected ':' at byte %d", bad);
                return -1;
            }
            j++;
        }
        int value = j;
        if ((j = value_validate(doc, value, depth + 1)) < 0)
            return -1;
        pos = raw_end(&doc->tok[value]);
    }
    if ((bad = gap_check(doc, pos, t->end - 1, 0)) >= 0) {
        malformed(doc->out, "unexpected character at byte %d", bad);
        return -1;
    }
    return j;
}

/* -------------------------------------------------------------------------------------
   Reading validated tokens. */

/* Index after the subtree of the value at token i (tokens are in document
 * order). */
static int tok_skip(const doc_t *doc, int i)
{
    int end = doc->tok[i].end;
    int j = i + 1;
    while (j < doc->count && doc->tok[j].start < end)
        j++;
    return j;
}

/* Value token of key `name` in the object at token obj, or -1. */
static int object_get(const doc_t *doc, int obj, const char *name)
{
    int j = obj + 1;
    for (int k = 0; k < doc->tok[obj].size; k++) {
        if (tok_is(doc, &doc->tok[j], name))
            return j + 1;
        j = tok_skip(doc, j + 1);
    }
    return -1;
}

static bool tok_is_null(const doc_t *doc, int i)
{
    return doc->tok[i].type == JSMN_PRIMITIVE && doc->js[doc->tok[i].start] == 'n';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 0; /* unreachable: jsmn has checked every \u escape */
}

static unsigned hex4(const char *s)
{
    return (unsigned)(hex_value(s[0]) << 12 | hex_value(s[1]) << 8 | hex_value(s[2]) << 4 |
                      hex_value(s[3]));
}

/* Decodes one escape at s (just after the backslash); returns the code point
   and sets *used to the bytes taken after the backslash. A \uD83D\uDE00 pair is
   one code point; a lone surrogate becomes U+FFFD, as most decoders do. */
static unsigned escape_decode(const char *s, const char *end, int *used)
{
    *used = 1;
    switch (s[0]) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'u':
        break;
    default:
        return (unsigned char)s[0]; /* " \ / */
    }
    unsigned cp = hex4(s + 1);
    *used = 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - s >= 11 && s[5] == '\\' && s[6] == 'u') {
            unsigned low = hex4(s + 7);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                *used = 11;
                return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
        }
        return 0xFFFD;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0xFFFD;
    return cp;
}

static size_t utf8_len(unsigned cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Bytes the string s..end (between its quotes, escapes checked) holds once
   unescaped (UTF-8). */
static size_t range_decoded_bytes(const char *s, const char *end)
{
    size_t n = 0;
    while (s < end) {
        if (*s != '\\') {
            n++;
            s++;
            continue;
        }
        int used;
        n += utf8_len(escape_decode(s + 1, end, &used));
        s += 1 + used;
    }
    return n;
}

static size_t string_decoded_bytes(const doc_t *doc, int i)
{
    return range_decoded_bytes(doc->js + doc->tok[i].start, doc->js + doc->tok[i].end);
}

/* Unescapes the string s..end into dst (NUL-terminated, truncated on a code
   point boundary). Control characters become spaces: the text goes to logs and
   JSON lines. */
static size_t range_unescape(const char *s, const char *end, char *dst, size_t cap,
                             bool keep_controls);

static void range_copy(const char *s, const char *end, char *dst, size_t cap)
{
    range_unescape(s, end, dst, cap, false);
}

size_t oai_json_unescape(const char *json, size_t len, char *dst)
{
    return range_unescape(json, json + len, dst, len + 1, true);
}

/* Unescapes s..end into dst (NUL-terminated, truncated on a code point boundary);
   control characters become spaces unless keep_controls. Returns the bytes written. */
static size_t range_unescape(const char *s, const char *end, char *dst, size_t cap,
                             bool keep_controls)
{
    size_t n = 0;
    while (s < end) {
        unsigned cp;
        if (*s == '\\') {
            int used;
            cp = escape_decode(s + 1, end, &used);
            s += 1 + used;
        } else {
            /* raw bytes: copy a whole UTF-8 sequence or nothing; only continuation bytes
               belong to it, so a stray lead byte never swallows a backslash */
            unsigned char lead = (unsigned char)*s;
            size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            size_t seq = 1;
            while (seq < want && s + seq < end && ((unsigned char)s[seq] & 0xC0) == 0x80)
                seq++;
            if (n + seq >= cap)
                break;
            memcpy(dst + n, s, seq);
            n += seq;
            s += seq;
            continue;
        }
        if (cp < 0x20 && !keep_controls)
            cp = ' ';
        size_t need = utf8_len(cp);
        if (n + need >= cap)
            break;
        if (need == 1) {
            dst[n++] = (char)cp;
        } else if (need == 2) {
            dst[n++] = (char)(0xC0 | cp >> 6);
            dst[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (need == 3) {
            dst[n++] = (char)(0xE0 | cp >> 12);
            dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            dst[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            dst[n++] = (char)(0xF0 | cp >> 18);
            dst[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            dst[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    dst[n] = '\0';
    return n;
}

static void string_copy(const doc_t *doc, int i, char *dst, size_t cap)
{
    range_copy(doc->js + doc->tok[i].start, doc->js + doc->tok[i].end, dst, cap);
}

/* A token count: a non-negative JSON integer (no fraction, no exponent) that
 * fits. */
static bool count_read(const doc_t *doc, int i, int64_t *value)
{
    const jsmntok_t *t = &doc->tok[i];
    if (t->type != JSMN_PRIMITIVE)
        return false;
    int64_t v = 0;
    for (int p = t->start; p < t->end; p++) {
        char c = doc->js[p];
        if (!is_digit(c) || v > (INT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    *value = v;
    return true;
}

/* error.code when it is an integer (vLLM: the HTTP status); other codes read as
 * 0. */
static int64_t code_read(const doc_t *doc, int i)
{
    const jsmntok_t *t = &doc->tok[i];
    if (t->type != JSMN_PRIMITIVE)
        return 0;
    bool negative = doc->js[t->start] == '-';
    int64_t v = 0;
    for (int p = t->start + negative; p < t->end; p++) {
        char c = doc->js[p];
        if (!is_digit(c) || v > (INT64_MAX - (c - '0')) / 10)
            return 0;
        v = v * 10 + (c - '0');
    }
    return negative ? -v : v;
}

/* Reads a string-or-null text field of a choice; returns false when it has
 * another type. */
static void note_content(oai_event_t *out, const char *s, const char *e)
{
    if (!out->content_json && e > s) {
        out->content_json = s;
        out->content_json_len = (size_t)(e - s);
    }
}

static bool text_read(const doc_t *doc, int obj, const char *name, size_t *bytes)
{
    int v = object_get(doc, obj, name);
    if (v < 0 || tok_is_null(doc, v))
        return true;
    if (doc->tok[v].type != JSMN_STRING)
        return false;
    *bytes += string_decoded_bytes(doc, v);
    if (strcmp(name, "text") == 0 || strcmp(name, "content") == 0)
        note_content(doc->out, doc->js + doc->tok[v].start, doc->js + doc->tok[v].end);
    return true;
}

/* content and reasoning of a delta (streaming chat) or message (whole body).
   vLLM has sent the reasoning as reasoning_content, then as reasoning, and for
   a while both with the same text: the larger is taken, never the sum. */
static oai_event_kind_t message_read(const doc_t *doc, int obj, const char *where, int index,
                                     size_t *content, size_t *reasoning)
{
    size_t reasoning_content = 0, reasoning_plain = 0;
    if (!text_read(doc, obj, "content", content))
        return malformed(doc->out, "choices[%d].%s.content is not a string", index, where);
    if (!text_read(doc, obj, "reasoning_content", &reasoning_content) ||
        !text_read(doc, obj, "reasoning", &reasoning_plain))
        return malformed(doc->out, "choices[%d].%s reasoning is not a string", index, where);
    *reasoning += reasoning_content > reasoning_plain ? reasoning_content : reasoning_plain;
    return OAI_EVENT_CHUNK;
}

static oai_event_kind_t choice_read(const doc_t *doc, int obj, int index)
{
    oai_event_t *out = doc->out;
    if (doc->tok[obj].type != JSMN_OBJECT)
        return malformed(out, "choices[%d] is not an object", index);
    size_t content = 0, reasoning = 0;
    if (!text_read(doc, obj, "text", &content))
        return malformed(out, "choices[%d].text is not a string", index);
    static const char *const parts[] = {"delta", "message"};
    for (int p = 0; p < 2; p++) {
        int v = object_get(doc, obj, parts[p]);
        if (v < 0 || tok_is_null(doc, v))
            continue;
        if (doc->tok[v].type != JSMN_OBJECT)
            return malformed(out, "choices[%d].%s is not an object", index, parts[p]);
        if (message_read(doc, v, parts[p], index, &content, &reasoning) != OAI_EVENT_CHUNK)
            return OAI_EVENT_MALFORMED;
    }
    int v = object_get(doc, obj, "finish_reason");
    if (v >= 0 && !tok_is_null(doc, v)) {
        if (doc->tok[v].type != JSMN_STRING)
            return malformed(out, "choices[%d].finish_reason is not a string", index);
        if (out->finish_reason[0] == '\0')
            string_copy(doc, v, out->finish_reason, sizeof out->finish_reason);
    }
    out->content_bytes += content;
    out->reasoning_bytes += reasoning;
    if (content > 0 || reasoning > 0)
        out->content_choices++;
    return OAI_EVENT_CHUNK;
}

static oai_event_kind_t usage_read(const doc_t *doc, int obj)
{
    if (tok_is_null(doc, obj))
        return OAI_EVENT_CHUNK;
    if (doc->tok[obj].type != JSMN_OBJECT)
        return malformed(doc->out, "usage is not an object");
    static const char *const names[] = {"prompt_tokens", "completion_tokens"};
    int64_t *fields[] = {&doc->out->prompt_tokens, &doc->out->completion_tokens};
    for (int f = 0; f < 2; f++) {
        int v = object_get(doc, obj, names[f]);
        if (v < 0 || tok_is_null(doc, v))
            continue;
        if (!count_read(doc, v, fields[f]))
            return malformed(doc->out, "usage.%s is not a non-negative integer", names[f]);
    }
    return OAI_EVENT_CHUNK;
}

/* {"error": {...}}, {"error": "text", "error_type": ...} (TGI) or vLLM's
   {"object": "error", "message": ..., "type": ..., "code": 400}. */
static oai_event_kind_t error_read(const doc_t *doc, int obj)
{
    oai_event_t *out = doc->out;
    out->kind = OAI_EVENT_ERROR;
    if (doc->tok[obj].type == JSMN_STRING) { /* TGI */
        string_copy(doc, obj, out->error_message, sizeof out->error_message);
        int type = object_get(doc, 0, "error_type");
        if (type >= 0 && doc->tok[type].type == JSMN_STRING)
            string_copy(doc, type, out->error_type, sizeof out->error_type);
        return OAI_EVENT_ERROR;
    }
    int v = object_get(doc, obj, "message");
    if (v >= 0 && doc->tok[v].type == JSMN_STRING)
        string_copy(doc, v, out->error_message, sizeof out->error_message);
    if ((v = object_get(doc, obj, "type")) >= 0 && doc->tok[v].type == JSMN_STRING)
        string_copy(doc, v, out->error_type, sizeof out->error_type);
    if ((v = object_get(doc, obj, "code")) >= 0)
        out->error_code = code_read(doc, v);
    return OAI_EVENT_ERROR;
}

static oai_event_kind_t body_read(const doc_t *doc)
{
    if (doc->tok[0].type != JSMN_OBJECT)
        return malformed(doc->out, "top-level JSON value is not an object");
    int error = object_get(doc, 0, "error");
    if (error >= 0 && !tok_is_null(doc, error)) {
        if (doc->tok[error].type != JSMN_OBJECT && doc->tok[error].type != JSMN_STRING)
            return malformed(doc->out, "error is neither an object nor a string");
        return error_read(doc, error);
    }
    int object = object_get(doc, 0, "object");
    if (object >= 0 && doc->tok[object].type == JSMN_STRING &&
        tok_is(doc, &doc->tok[object], "error"))
        return error_read(doc, 0);
    int choices = object_get(doc, 0, "choices");
    int usage = object_get(doc, 0, "usage");
    if (choices < 0 && usage < 0)
        return malformed(doc->out, "object has no choices, usage or error");
    if (usage >= 0 && usage_read(doc, usage) != OAI_EVENT_CHUNK)
        return OAI_EVENT_MALFORMED;
    if (choices >= 0 && !tok_is_null(doc, choices)) {
        if (doc->tok[choices].type != JSMN_ARRAY)
            return malformed(doc->out, "choices is not an array");
        int j = choices + 1;
        for (int k = 0; k < doc->tok[choices].size; k++) {
            if (choice_read(doc, j, k) != OAI_EVENT_CHUNK)
                return OAI_EVENT_MALFORMED;
            j = tok_skip(doc, j);
        }
        doc->out->choices = doc->tok[choices].size;
    }
    return OAI_EVENT_CHUNK;
}

/* -------------------------------------------------------------------------------------
   Fast path: one pass over the bytes, no token array, for the shapes servers stream
   (choices[].text, choices[].delta|message .content|.reasoning_content|.reasoning,
   finish_reason, usage). The general path costs ~7,000 instructions per event, half
   of it jsmn building tokens that are then walked twice (validation, key lookups).

   It answers only when the payload is valid JSON of the expected shape and the event
   is a CHUNK. Anything else makes it give up and the general path decides, reasons
   and all: a syntax error, an error object, a field of the wrong type, a duplicate of
   a key it reads (the general path takes the first), nesting deeper than
   FAST_MAX_DEPTH, more tokens than the parser's limit. So correctness rests on the
   general path, and this one only has to be right when it answers;
   tests/fuzz/fuzz_oai_equiv.c runs both on every input and aborts on a difference. */

/* well under OAI_MAX_DEPTH: deeper payloads are left to the general path */
#define FAST_MAX_DEPTH 32

typedef struct {
    const char *p; /* cursor */
    const char *end;
    int tokens; /* jsmn's token count so far, so that its limit gives up here too */
    int max_tokens;
    oai_event_t *out;
} fast_t;

#define KEY_IS(key, n, word) ((n) == sizeof(word) - 1 && memcmp(key, word, sizeof(word) - 1) == 0)

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void fast_space_slow(fast_t *f)
{
    while (f->p < f->end && is_json_space(*f->p))
        f->p++;
}

/* Servers rarely put whitespace between tokens: one compare when there is none. */
static inline void fast_space(fast_t *f)
{
    if (f->p < f->end && (unsigned char)*f->p <= ' ')
        fast_space_slow(f);
}

#define BYTES_ALL(b) (0x0101010101010101ull * (b))

/* Whether any of the 8 bytes in x is a quote, a backslash or a control character
   (the classic has-zero-byte and has-less-than tests, exact for any-of). */
static inline bool word_has_string_stop(uint64_t x)
{
    uint64_t quote = x ^ BYTES_ALL('"'), backslash = x ^ BYTES_ALL('\\');
    uint64_t hit = ((quote - BYTES_ALL(1)) & ~quote) | ((backslash - BYTES_ALL(1)) & ~backslash) |
                   ((x - BYTES_ALL(0x20)) & ~x);
    return (hit & BYTES_ALL(0x80)) != 0;
}

static bool fast_token(fast_t *f)
{
    return ++f->tokens <= f->max_tokens;
}

/* The string whose opening quote is at f->p: *s, *e bound its bytes between the
   quotes; *escaped when it holds a backslash (its length is then not its bytes). */
static bool fast_string(fast_t *f, const char **s, const char **e, bool *escaped)
{
    if (!fast_token(f))
        return false;
    const char *p = f->p + 1, *end = f->end;
    bool esc = false;
    *s = p;
    for (;;) {
        /* content and ids are plain text for tens of bytes: 8 at a time */
        uint64_t word;
        while (end - p >= 8 && (memcpy(&word, p, 8), !word_has_string_stop(word)))
            p += 8;
        while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p >= end || (unsigned char)*p < 0x20)
            return false;
        if (*p == '"')
            break;
        esc = true;
        if (end - p < 2)
            return false;
        char c = p[1];
        if (c == 'u') {
            if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                return false;
            p += 6;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                   c == 'r' || c == 't') {
            p += 2;
        } else {
            return false;
        }
    }
    *e = p;
    *escaped = esc;
    f->p = p + 1;
    return true;
}

/* RFC 8259 number at f->p; what follows is the caller's to check. */
static bool fast_number(fast_t *f)
{
    if (!fast_token(f))
        return false;
    const char *p = f->p, *end = f->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return false;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return false;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
    }
    f->p = p;
    return true;
}

static bool fast_literal(fast_t *f, const char *word, size_t n)
{
    if (!fast_token(f) || (size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
        return false;
    f->p += n;
    return true;
}

static bool fast_null(fast_t *f)
{
    return fast_literal(f, "null", 4);
}

/* Object members one at a time. *state is 0 with f->p at the opening brace. Returns 1
   with the key in *key, *key_len (raw, as the general path matches keys) and f->p at
   the value; 0 after the closing brace; -1 on anything else. */
static int fast_member(fast_t *f, const char **key, size_t *key_len, int *state)
{
    if (*state == 0) {
        if (!fast_token(f))
            return -1;
        f->p++;
        fast_space(f);
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            return 0;
        }
        *state = 1;
    } else {
        fast_space(f);
        if (f->p >= f->end)
            return -1;
        if (*f->p == '}') {
            f->p++;
            return 0;
        }
        if (*f->p != ',')
            return -1;
        f->p++;
        fast_space(f);
    }
    const char *s, *e;
    bool esc;
    if (f->p >= f->end || *f->p != '"' || !fast_string(f, &s, &e, &esc))
        return -1;
    fast_space(f);
    if (f->p >= f->end || *f->p != ':')
        return -1;
    f->p++;
    fast_space(f);
    if (f->p >= f->end)
        return -1;
    *key = s;
    *key_len = (size_t)(e - s);
    return 1;
}

static bool fast_value(fast_t *f, int depth);

/* A value nobody reads (id, model, logprobs, tool_calls...): only checked. */
static bool fast_container(fast_t *f, int depth)
{
    if (depth >= FAST_MAX_DEPTH)
        return false;
    if (*f->p == '{') {
        const char *k;
        size_t n;
        int state = 0, r;
        while ((r = fast_member(f, &k, &n, &state)) == 1)
            if (!fast_value(f, depth + 1))
                return false;
        return r == 0;
    }
    if (!fast_token(f))
        return false;
    f->p++;
    fast_space(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return true;
    }
    for (;;) {
        if (!fast_value(f, depth + 1))
            return false;
        fast_space(f);
        if (f->p >= f->end)
            return false;
        if (*f->p == ']') {
            f->p++;
            return true;
        }
        if (*f->p != ',')
            return false;
        f->p++;
        fast_space(f);
    }
}

static bool fast_value(fast_t *f, int depth)
{
    if (f->p >= f->end)
        return false;
    const char *s, *e;
    bool esc;
    switch (*f->p) {
    case '{':
    case '[':
        return fast_container(f, depth);
    case '"':
        return fast_string(f, &s, &e, &esc);
    case 't':
        return fast_literal(f, "true", 4);
    case 'f':
        return fast_literal(f, "false", 5);
    case 'n':
        return fast_null(f);
    default:
        return fast_number(f);
    }
}

/* A string-or-null text field: adds the bytes it holds once unescaped. */
static bool fast_text(fast_t *f, size_t *bytes, bool is_content)
{
    if (*f->p == 'n')
        return fast_null(f);
    const char *s, *e;
    bool esc;
    if (*f->p != '"' || !fast_string(f, &s, &e, &esc))
        return false;
    *bytes += esc ? range_decoded_bytes(s, e) : (size_t)(e - s);
    if (is_content)
        note_content(f->out, s, e);
    return true;
}

/* delta or message: as message_read. */
static bool fast_message(fast_t *f, int depth, size_t *content, size_t *reasoning)
{
    if (*f->p == 'n')
        return fast_null(f);
    if (*f->p != '{' || depth >= FAST_MAX_DEPTH)
        return false;
    size_t reasoning_content = 0, reasoning_plain = 0;
    unsigned seen = 0;
    const char *k;
    size_t n;
    int state = 0, r;
    while ((r = fast_member(f, &k, &n, &state)) == 1) {
        unsigned bit = 0;
        size_t *into = NULL;
        if (KEY_IS(k, n, "content")) {
            bit = 1;
            into = content;
        } else if (KEY_IS(k, n, "reasoning_content")) {
            bit = 2;
            into = &reasoning_content;
        } else if (KEY_IS(k, n, "reasoning")) {
            bit = 4;
            into = &reasoning_plain;
        }
        if (!bit) {
            if (!fast_value(f, depth + 1))
                return false;
            continue;
        }
        if ((seen & bit) || !fast_text(f, into, bit == 1))
            return false;
        seen |= bit;
    }
    if (r < 0)
        return false;
    *reasoning += reasoning_content > reasoning_plain ? reasoning_content : reasoning_plain;
    return true;
}

/* One element of choices[]: as choice_read. */
static bool fast_choice(fast_t *f, int depth)
{
    if (*f->p != '{' || depth >= FAST_MAX_DEPTH)
        return false;
    oai_event_t *out = f->out;
    size_t content = 0, reasoning = 0;
    unsigned seen = 0;
    const char *k;
    size_t n;
    int state = 0, r;
    while ((r = fast_member(f, &k, &n, &state)) == 1) {
        bool ok;
        unsigned bit = 0;
        if (KEY_IS(k, n, "delta")) {
            bit = 1;
            ok = fast_message(f, depth + 1, &content, &reasoning);
        } else if (KEY_IS(k, n, "finish_reason")) {
            bit = 2;
            const char *s, *e;
            bool esc;
            if (*f->p == 'n') {
                ok = fast_null(f);
            } else {
                ok = *f->p == '"' && fast_string(f, &s, &e, &esc);
                if (ok && out->finish_reason[0] == '\0')
                    range_copy(s, e, out->finish_reason, sizeof out->finish_reason);
            }
        } else if (KEY_IS(k, n, "text")) {
            bit = 4;
            ok = fast_text(f, &content, true);
        } else if (KEY_IS(k, n, "message")) {
            bit = 8;
            ok = fast_message(f, depth + 1, &content, &reasoning);
        } else {
            ok = fast_value(f, depth + 1);
        }
        if (!ok || (seen & bit))
            return false;
        seen |= bit;
    }
    if (r < 0)
        return false;
    out->content_bytes += content;
    out->reasoning_bytes += reasoning;
    if (content > 0 || reasoning > 0)
        out->content_choices++;
    return true;
}

static bool fast_choices(fast_t *f)
{
    if (*f->p == 'n')
        return fast_null(f);
    if (*f->p != '[' || !fast_token(f))
        return false;
    f->p++;
    fast_space(f);
    int count = 0;
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return true;
    }
    for (;;) {
        if (f->p >= f->end || !fast_choice(f, 2))
            return false;
        count++;
        fast_space(f);
        if (f->p >= f->end)
            return false;
        if (*f->p == ']') {
            f->p++;
            break;
        }
        if (*f->p != ',')
            return false;
        f->p++;
        fast_space(f);
    }
    f->out->choices = count;
    return true;
}

/* A token count: as count_read, null leaves it absent. */
static bool fast_count(fast_t *f, int64_t *value)
{
    if (*f->p == 'n')
        return fast_null(f);
    const char *start = f->p;
    if (!fast_number(f))
        return false;
    int64_t v = 0;
    for (const char *p = start; p < f->p; p++) {
        char c = *p;
        if (!is_digit(c) || v > (INT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    *value = v;
    return true;
}

static bool fast_usage(fast_t *f, int depth)
{
    if (*f->p == 'n')
        return fast_null(f);
    if (*f->p != '{')
        return false;
    unsigned seen = 0;
    const char *k;
    size_t n;
    int state = 0, r;
    while ((r = fast_member(f, &k, &n, &state)) == 1) {
        bool ok;
        unsigned bit = 0;
        if (KEY_IS(k, n, "prompt_tokens")) {
            bit = 1;
            ok = fast_count(f, &f->out->prompt_tokens);
        } else if (KEY_IS(k, n, "completion_tokens")) {
            bit = 2;
            ok = fast_count(f, &f->out->completion_tokens);
        } else {
            ok = fast_value(f, depth + 1);
        }
        if (!ok || (seen & bit))
            return false;
        seen |= bit;
    }
    return r == 0;
}

/* Payload trimmed, starting with '{'. True when *out is the answer (a CHUNK). */
static bool fast_parse(const char *data, size_t len, int max_tokens, oai_event_t *out)
{
    fast_t f = {.p = data, .end = data + len, .max_tokens = max_tokens, .out = out};
    unsigned seen = 0;
    const char *k;
    size_t n;
    int state = 0, r;
    while ((r = fast_member(&f, &k, &n, &state)) == 1) {
        bool ok;
        unsigned bit = 0;
        if (KEY_IS(k, n, "choices")) {
            bit = 1;
            ok = fast_choices(&f);
        } else if (KEY_IS(k, n, "usage")) {
            bit = 2;
            ok = fast_usage(&f, 1);
        } else if (KEY_IS(k, n, "error")) {
            return false; /* error objects are the general path's */
        } else if (KEY_IS(k, n, "object") && *f.p == '"') {
            const char *s, *e;
            bool esc;
            ok = fast_string(&f, &s, &e, &esc) && !KEY_IS(s, (size_t)(e - s), "error");
        } else {
            ok = fast_value(&f, 1);
        }
        if (!ok || (seen & bit))
            return false;
        seen |= bit;
    }
    fast_space(&f);
    return r == 0 && f.p == f.end && seen != 0;
}

static void event_clear(oai_event_t *out)
{
    out->kind = OAI_EVENT_CHUNK;
    out->content_bytes = 0;
    out->reasoning_bytes = 0;
    out->content_json = NULL;
    out->content_json_len = 0;
    out->content_choices = 0;
    out->choices = 0;
    out->prompt_tokens = -1;
    out->completion_tokens = -1;
    out->finish_reason[0] = '\0';
    out->error_code = 0;
    out->error_message[0] = '\0';
    out->error_type[0] = '\0';
    out->malformed_reason[0] = '\0';
}

oai_event_kind_t oai_parser_parse(oai_parser_t *self, const char *data, size_t len,
                                  oai_event_t *out)
{
    event_clear(out);
    self->answered_fast = false;
    while (len > 0 && is_json_space(data[0])) {
        data++;
        len--;
    }
    while (len > 0 && is_json_space(data[len - 1]))
        len--;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        out->kind = OAI_EVENT_DONE;
        return OAI_EVENT_DONE;
    }
    if (len == 0)
        return malformed(out, "empty payload");
    if (data[0] != '{') /* also spares jsmn, which in strict mode misreads a bare number */
        return malformed(out, "top-level JSON value is not an object");
    if (len > (size_t)INT_MAX / 2)
        return malformed(out, "payload of %zu bytes is too large", len);
    if (self->fast_path) {
        if (fast_parse(data, len, self->max_tokens, out)) {
            self->answered_fast = true;
            return OAI_EVENT_CHUNK;
        }
        event_clear(out); /* what it read before giving up */
    }

    jsmn_parser jp;
    jsmn_init(&jp);
    int count = jsmn_parse(&jp, data, len, self->tokens, (unsigned)self->max_tokens);
    if (count == JSMN_ERROR_NOMEM)
        return malformed(out, "too many JSON tokens (limit %d)", self->max_tokens);
    if (count == JSMN_ERROR_PART)
        return malformed(out, "truncated JSON");
    if (count < 0)
        return malformed(out, "invalid JSON at byte %u", jp.pos);
    if (count == 0 || jp.pos != len) /* jsmn stops at a NUL byte */
        return malformed(out, "invalid JSON at byte %u", jp.pos);

    doc_t doc = {.js = data, .len = len, .tok = self->tokens, .count = count, .out = out};
    int next = value_validate(&doc, 0, 0);
    if (next < 0)
        return OAI_EVENT_MALFORMED;
    if (next != count)
        return malformed(out, "more than one JSON value");
    int bad = gap_check(&doc, raw_end(&doc.tok[0]), (int)len, 0);
    if (bad >= 0)
        return malformed(out, "unexpected character at byte %d", bad);
    return body_read(&doc);
}

void oai_parser_set_fast_path(oai_parser_t *self, bool enabled)
{
    self->fast_path = enabled;
}

bool oai_parser_answered_fast(const oai_parser_t *self)
{
    return self->answered_fast;
}

void oai_tokens_reset(oai_tokens_t *self)
{
    self->content_events = 0;
    self->usage_completion_tokens = -1;
    self->usage_prompt_tokens = -1;
}

int64_t oai_tokens_add(oai_tokens_t *self, const oai_event_t *event)
{
    if (event->kind != OAI_EVENT_CHUNK)
        return 0;
    bool output = oai_event_has_output(event);
    if (output)
        self->content_events++;
    if (event->prompt_tokens >= 0)
        self->usage_prompt_tokens = event->prompt_tokens;
    if (event->completion_tokens < 0)
        return output ? 1 : 0;
    /* Cumulative usage (continuous_usage_stats, or the final usage chunk): the
       tokens this event carried are the growth since the last usage seen. */
    int64_t before = self->usage_completion_tokens < 0 ? 0 : self->usage_completion_tokens;
    self->usage_completion_tokens = event->completion_tokens;
    if (!output)
        return 0;
    return event->completion_tokens > before ? event->completion_tokens - before : 0;
}

int64_t oai_tokens_output(const oai_tokens_t *self, bool *estimated)
{
    if (self->usage_completion_tokens >= 0) {
        if (estimated)
            *estimated = false;
        return self->usage_completion_tokens;
    }
    if (estimated)
        *estimated = true;
    return self->content_events;
}
