/*  oai_event.c: classify one OpenAI-style JSON payload (an SSE `data:` or a
   whole body).

    Hot path: called once per streamed event of every request. jsmn tokenizes
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

/* Bytes the string at token i holds once unescaped (UTF-8). */
static size_t string_decoded_bytes(const doc_t *doc, int i)
{
    const char *s = doc->js + doc->tok[i].start, *end = doc->js + doc->tok[i].end;
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

/* Unescapes the string at token i into dst (NUL-terminated, truncated on a code
   point boundary). Control characters become spaces: the text goes to logs and
   JSON lines. */
static void string_copy(const doc_t *doc, int i, char *dst, size_t cap)
{
    const char *s = doc->js + doc->tok[i].start, *end = doc->js + doc->tok[i].end;
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
        if (cp < 0x20)
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
static bool text_read(const doc_t *doc, int obj, const char *name, size_t *bytes)
{
    int v = object_get(doc, obj, name);
    if (v < 0 || tok_is_null(doc, v))
        return true;
    if (doc->tok[v].type != JSMN_STRING)
        return false;
    *bytes += string_decoded_bytes(doc, v);
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

static void event_clear(oai_event_t *out)
{
    out->kind = OAI_EVENT_CHUNK;
    out->content_bytes = 0;
    out->reasoning_bytes = 0;
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
