/*  workload.c: dataset loaders, templates, length distributions and the request pool
    (see workload.h and docs/workloads.md).

    Runs once before a run starts, never on the request path: clarity over speed, but
    every loop is bounded by the WORKLOAD_MAX_* limits so a hostile file cannot make it
    run away.
*/
#include "plan/workload.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/json_path.h"
#include "common/jsonw.h"
#include "common/rng.h"
#include "common/url.h"

/* A dataset file larger than this is refused: the whole file is read into memory. */
#define DATASET_MAX_FILE_BYTES  ((size_t)2 << 30)
#define DEFAULT_POOL_SIZE       256
#define DEFAULT_CHARS_PER_TOKEN 4.0

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        abort(); /* out of memory while preparing a run: nothing sensible to do */
    return q;
}

static char *xstrndup(const char *text, size_t len)
{
    char *copy = strndup(text, len);
    if (!copy)
        abort();
    return copy;
}

void workload_set_string(char **field, const char *value)
{
    free(*field);
    *field = value ? xstrndup(value, strlen(value)) : NULL;
}

/* ---- Prompt lists ------------------------------------------------------------------------ */

void prompt_list_add(prompt_list_t *self, const char *text, size_t len)
{
    self->items = xrealloc(self->items, (size_t)(self->count + 1) * sizeof(char *));
    self->items[self->count++] = xstrndup(text, len);
}

void prompt_list_free(prompt_list_t *self)
{
    for (int i = 0; i < self->count; i++)
        free(self->items[i]);
    free(self->items);
    self->items = NULL;
    self->count = 0;
}

/* ---- Datasets ------------------------------------------------------------------------------ */

static const char *const format_names[] = {"auto", "alpaca", "sharegpt", "jsonl", "text"};

int dataset_format_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof format_names / sizeof format_names[0]); i++) {
        if (name && strcmp(name, format_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *dataset_format_name(dataset_format_t format)
{
    return (unsigned)format < sizeof format_names / sizeof format_names[0] ? format_names[format]
                                                                           : "?";
}

typedef struct {
    const dataset_spec_t *spec;
    const char *name;
    prompt_list_t *out;
    int limit;
    char *err;
    size_t err_size;
} loader_t;

static bool loader_full(const loader_t *l)
{
    return l->out->count >= l->limit;
}

/* Adds text unless it is empty or only whitespace. */
static int loader_add(loader_t *l, const char *text, size_t len, const char *where)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len)
        return 0;
    if (len > WORKLOAD_MAX_PROMPT_BYTES) {
        snprintf(l->err, l->err_size, "%s: %s: prompt of %zu bytes exceeds the %d-byte limit",
                 l->name, where, len, WORKLOAD_MAX_PROMPT_BYTES);
        return -1;
    }
    prompt_list_add(l->out, text, len);
    return 0;
}

static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        int extra = c < 0x80             ? 0
                    : (c & 0xe0) == 0xc0 ? 1
                    : (c & 0xf0) == 0xe0 ? 2
                    : (c & 0xf8) == 0xf0 ? 3
                                         : -1;
        if (extra < 0 || (extra == 1 && c < 0xc2) || c > 0xf4 || i + (size_t)extra >= len + !extra)
            return false; /* bad lead byte, overlong pair, beyond U+10FFFF, or cut short */
        if (c == 0xf4 && s[i + 1] > 0x8f)
            return false;
        for (int k = 1; k <= extra; k++) {
            if (i + (size_t)k >= len || (s[i + k] & 0xc0) != 0x80)
                return false;
        }
        if (extra == 2 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f)))
            return false; /* overlong or surrogate */
        if (extra == 3 && c == 0xf0 && s[i + 1] < 0x90)
            return false;
        i += (size_t)extra + 1;
    }
    return true;
}

static int load_text(loader_t *l, const char *data, size_t len)
{
    size_t pos = 0;
    for (long line = 1; pos < len && !loader_full(l); line++) {
        const char *start = data + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - start) : len - pos;
        pos += line_len + (nl ? 1 : 0);
        if (line_len && start[line_len - 1] == '\r')
            line_len--;
        char where[32];
        snprintf(where, sizeof where, "line %ld", line);
        if (memchr(start, '\0', line_len)) {
            snprintf(l->err, l->err_size, "%s:%ld: a NUL byte in a text dataset (is it binary?)",
                     l->name, line);
            return -1;
        }
        if (!utf8_valid((const unsigned char *)start, line_len)) {
            snprintf(l->err, l->err_size, "%s:%ld: not valid UTF-8", l->name, line);
            return -1;
        }
        if (loader_add(l, start, line_len, where) != 0)
            return -1;
    }
    return 0;
}

/* The JSONL field when none is given: the first of these the first row has. */
static const char *const jsonl_default_fields[] = {"prompt", "text", "question", "instruction"};

/* JSONL: the next non-blank line from *pos as a parsed value in *row_out (a new
   reference); *line counts the lines read. 1 with a row, 0 at the end, -1 on a line that
   is not JSON (err names name:line:column). One reader for prompts and conversations. */
static int jsonl_next(const char *name, const char *data, size_t len, size_t *pos, long *line,
                      json_t **row_out, char *err, size_t err_size)
{
    while (*pos < len) {
        const char *start = data + *pos;
        const char *nl = memchr(start, '\n', len - *pos);
        size_t line_len = nl ? (size_t)(nl - start) : len - *pos;
        *pos += line_len + (nl ? 1 : 0);
        ++*line;
        size_t k = 0;
        while (k < line_len && isspace((unsigned char)start[k]))
            k++;
        if (k == line_len)
            continue;
        json_error_t jerr;
        *row_out = json_loadb(start, line_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!*row_out) {
            snprintf(err, err_size, "%s:%ld:%d: invalid JSON: %s", name, *line,
                     jerr.column > 0 ? jerr.column : 1, jerr.text);
            return -1;
        }
        return 1;
    }
    return 0;
}

static int load_jsonl(loader_t *l, const char *data, size_t len)
{
    const char *field = l->spec->field;
    size_t pos = 0;
    long line = 0;
    json_t *row;
    int got;
    while (!loader_full(l) &&
           (got = jsonl_next(l->name, data, len, &pos, &line, &row, l->err, l->err_size)) != 0) {
        if (got < 0)
            return -1;
        if (!json_is_object(row)) {
            json_decref(row);
            snprintf(l->err, l->err_size, "%s:%ld: expected a JSON object on each line", l->name,
                     line);
            return -1;
        }
        if (!field) {
            for (size_t i = 0; i < sizeof jsonl_default_fields / sizeof *jsonl_default_fields;
                 i++) {
                if (json_is_string(json_object_get(row, jsonl_default_fields[i]))) {
                    field = jsonl_default_fields[i];
                    break;
                }
            }
        }
        const json_t *value = field ? json_path(row, field) : NULL;
        if (!json_is_string(value)) {
            snprintf(l->err, l->err_size,
                     field ? "%s:%ld: expected a string at '%s'"
                           : "%s:%ld: no prompt field%s: name one with `field:` "
                             "(prompt, text, question and instruction were tried)",
                     l->name, line, field ? field : "");
            json_decref(row);
            return -1;
        }
        buf_t text;
        buf_init(&text);
        buf_append(&text, json_string_value(value), json_string_length(value));
        const json_t *extra = l->spec->input_field ? json_path(row, l->spec->input_field) : NULL;
        if (json_is_string(extra) && json_string_length(extra) > 0) {
            buf_append_str(&text, "\n\n");
            buf_append(&text, json_string_value(extra), json_string_length(extra));
        }
        char where[32];
        snprintf(where, sizeof where, "line %ld", line);
        int rc = loader_add(l, text.data ? text.data : "", text.len, where);
        buf_free(&text);
        json_decref(row);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int alpaca_entry(loader_t *l, json_t *entry, size_t index)
{
    json_t *instruction = json_object_get(entry, "instruction");
    json_t *input = json_object_get(entry, "input");
    if (!json_is_object(entry) || !json_is_string(instruction) ||
        (input && !json_is_string(input))) {
        snprintf(l->err, l->err_size,
                 "%s: entry %zu: expected an object with a string 'instruction' "
                 "(and optionally a string 'input'), as Alpaca has",
                 l->name, index + 1);
        return -1;
    }
    buf_t text;
    buf_init(&text);
    buf_append(&text, json_string_value(instruction), json_string_length(instruction));
    if (input && json_string_length(input) > 0) {
        buf_append_str(&text, "\n\n");
        buf_append(&text, json_string_value(input), json_string_length(input));
    }
    char where[48];
    snprintf(where, sizeof where, "entry %zu", index + 1);
    int rc = loader_add(l, text.data ? text.data : "", text.len, where);
    buf_free(&text);
    return rc;
}

static int sharegpt_entry(loader_t *l, json_t *entry, size_t index)
{
    json_t *turns = json_object_get(entry, "conversations");
    if (!json_is_object(entry) || !json_is_array(turns)) {
        snprintf(l->err, l->err_size,
                 "%s: entry %zu: expected an object with a 'conversations' array, as ShareGPT has",
                 l->name, index + 1);
        return -1;
    }
    size_t i;
    json_t *turn;
    json_array_foreach(turns, i, turn)
    {
        const char *from = json_string_value(json_object_get(turn, "from"));
        json_t *value = json_object_get(turn, "value");
        if (!json_is_object(turn) || !from || !json_is_string(value)) {
            snprintf(l->err, l->err_size,
                     "%s: entry %zu: turn %zu: expected {\"from\": string, \"value\": string}",
                     l->name, index + 1, i + 1);
            return -1;
        }
        if (strcmp(from, "human") == 0 || strcmp(from, "user") == 0) {
            char where[48];
            snprintf(where, sizeof where, "entry %zu", index + 1);
            return loader_add(l, json_string_value(value), json_string_length(value), where);
        }
    }
    return 0; /* no human turn: nothing to ask, skipped */
}

static int load_json_array(loader_t *l, const char *data, size_t len, dataset_format_t format)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(l->err, l->err_size, "%s:%d:%d: invalid JSON: %s", l->name,
                 jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1, jerr.text);
        return -1;
    }
    if (!json_is_array(root)) {
        json_decref(root);
        snprintf(l->err, l->err_size, "%s:1:1: expected a JSON array of entries", l->name);
        return -1;
    }
    json_t *first = json_array_get(root, 0);
    if (format == DATASET_AUTO) {
        if (json_is_object(first) && json_object_get(first, "conversations"))
            format = DATASET_SHAREGPT;
        else if (json_is_object(first) && json_object_get(first, "instruction"))
            format = DATASET_ALPACA;
        else {
            json_decref(root);
            snprintf(l->err, l->err_size,
                     "%s: entry 1: cannot tell the format: expected Alpaca ({\"instruction\", "
                     "...}) or ShareGPT ({\"conversations\": [...]}) entries; set `format:`",
                     l->name);
            return -1;
        }
    }
    int rc = 0;
    size_t index;
    json_t *entry;
    json_array_foreach(root, index, entry)
    {
        if (loader_full(l))
            break;
        rc = format == DATASET_ALPACA ? alpaca_entry(l, entry, index)
                                      : sharegpt_entry(l, entry, index);
        if (rc != 0)
            break;
    }
    json_decref(root);
    return rc;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t a = strlen(text), b = strlen(suffix);
    return a >= b && strcasecmp(text + a - b, suffix) == 0;
}

static dataset_format_t guess_format(const char *name, const char *data, size_t len)
{
    if (ends_with(name, ".txt") || ends_with(name, ".text"))
        return DATASET_TEXT;
    if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson"))
        return DATASET_JSONL;
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i < len && data[i] == '[')
        return DATASET_AUTO; /* a JSON array: Alpaca or ShareGPT, told by its first entry */
    if (i < len && data[i] == '{')
        return DATASET_JSONL;
    return DATASET_TEXT;
}

int dataset_load_bytes(const dataset_spec_t *spec, const char *name, const char *data, size_t len,
                       prompt_list_t *out, char *err, size_t err_size)
{
    int before = out->count;
    loader_t l = {.spec = spec, .name = name, .out = out, .err = err, .err_size = err_size};
    l.limit =
        before + (spec->limit > 0 && spec->limit < WORKLOAD_MAX_PROMPTS ? spec->limit
                                                                        : WORKLOAD_MAX_PROMPTS);
    dataset_format_t format = spec->format;
    bool array = format == DATASET_ALPACA || format == DATASET_SHAREGPT;
    if (format == DATASET_AUTO) {
        format = guess_format(name, data, len);
        array = format == DATASET_AUTO;
    }
    int rc;
    if (array)
        rc = load_json_array(&l, data, len, format);
    else if (format == DATASET_JSONL)
        rc = load_jsonl(&l, data, len);
    else
        rc = load_text(&l, data, len);
    if (rc == 0 && out->count == before) {
        snprintf(err, err_size, "%s: no prompt found (format %s)", name,
                 array && format == DATASET_AUTO ? "json" : dataset_format_name(format));
        return -1;
    }
    return rc;
}

/* Reads a whole dataset file into data (at most DATASET_MAX_FILE_BYTES). 0, or -1 with the
   reason in err. */
static int dataset_read_file(const char *path, buf_t *data, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) {
        /* a device or a pipe could stream forever: only files have an end we can trust */
        snprintf(err, err_size, "%s: not a regular file", path);
        fclose(file);
        return -1;
    }
    buf_init(data);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0) {
        if (data->len + got > DATASET_MAX_FILE_BYTES) {
            snprintf(err, err_size, "%s: larger than %zu bytes", path, DATASET_MAX_FILE_BYTES);
            fclose(file);
            buf_free(data);
            return -1;
        }
        buf_append(data, chunk, got);
    }
    bool failed = ferror(file);
    fclose(file);
    if (failed) {
        snprintf(err, err_size, "%s: read error: %s", path, strerror(errno));
        buf_free(data);
        return -1;
    }
    return 0;
}

int dataset_load(const dataset_spec_t *spec, prompt_list_t *out, char *err, size_t err_size)
{
    const char *path = spec->path ? spec->path : "";
    buf_t data;
    if (dataset_read_file(path, &data, err, err_size) != 0)
        return -1;
    int rc =
        dataset_load_bytes(spec, path, data.data ? data.data : "", data.len, out, err, err_size);
    buf_free(&data);
    return rc;
}

/* ---- Conversations from datasets ---------------------------------------------------------- */

static const char *const affinity_names[] = {"conversation", "none"};

int conversation_affinity_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof affinity_names / sizeof affinity_names[0]); i++) {
        if (name && strcmp(name, affinity_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *conversation_affinity_name(conversation_affinity_t affinity)
{
    return (unsigned)affinity < sizeof affinity_names / sizeof affinity_names[0]
               ? affinity_names[affinity]
               : "?";
}

int conversation_spec_check(const conversation_spec_t *c, char *err, size_t err_size)
{
    char why[160];
    if (c->turns.kind != LENGTH_NONE &&
        (length_dist_check(&c->turns, why, sizeof why) != 0 || c->turns.max > WORKLOAD_MAX_TURNS ||
         (c->turns.kind == LENGTH_FIXED && c->turns.mean > WORKLOAD_MAX_TURNS))) {
        snprintf(err, err_size, "turns: 1 to %d turns a conversation", WORKLOAD_MAX_TURNS);
        return -1;
    }
    const length_dist_t *t = &c->think_time_ms;
    if (t->kind != LENGTH_NONE &&
        (!(t->mean >= 0 && t->mean <= WORKLOAD_MAX_THINK_MS) || !(t->stddev >= 0) || t->min < 0 ||
         t->max > WORKLOAD_MAX_THINK_MS || t->min > t->max)) {
        snprintf(err, err_size, "think_time: needs 0 <= min <= max <= %ds",
                 WORKLOAD_MAX_THINK_MS / 1000);
        return -1;
    }
    if (c->system_prompt_tokens < 0 || c->system_prompt_tokens > WORKLOAD_MAX_PREFIX_TOKENS ||
        c->shared_prefix_tokens < 0 || c->shared_prefix_tokens > WORKLOAD_MAX_PREFIX_TOKENS) {
        snprintf(err, err_size, "system_prompt_tokens, shared_prefix_tokens: 0 to %d",
                 WORKLOAD_MAX_PREFIX_TOKENS);
        return -1;
    }
    if (!(c->shared_prefix_fraction >= 0 && c->shared_prefix_fraction <= 1)) {
        snprintf(err, err_size, "shared_prefix_fraction: 0 to 1");
        return -1;
    }
    if (c->shared_prefix_fraction > 0 && c->shared_prefix_tokens == 0) {
        snprintf(err, err_size, "shared_prefix_fraction without shared_prefix_tokens");
        return -1;
    }
    if ((unsigned)c->affinity > AFFINITY_NONE) {
        snprintf(err, err_size, "affinity: conversation or none");
        return -1;
    }
    return 0;
}

void conversation_list_free(conversation_list_t *self)
{
    for (int i = 0; i < self->count; i++)
        prompt_list_free(&self->items[i].user_turns);
    free(self->items);
    self->items = NULL;
    self->count = 0;
}

typedef struct {
    const char *name;
    conversation_list_t *out;
    int limit;
    char *err;
    size_t err_size;
} conv_loader_t;

/* Adds one user turn to conv (blank turns skipped, turns past WORKLOAD_MAX_TURNS dropped). */
static int conv_add_turn(conv_loader_t *l, dataset_conversation_t *conv, const char *text,
                         size_t len, const char *where)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i == len || conv->user_turns.count >= WORKLOAD_MAX_TURNS)
        return 0;
    if (len > WORKLOAD_MAX_PROMPT_BYTES) {
        snprintf(l->err, l->err_size, "%s: %s: turn of %zu bytes exceeds the %d-byte limit",
                 l->name, where, len, WORKLOAD_MAX_PROMPT_BYTES);
        return -1;
    }
    prompt_list_add(&conv->user_turns, text, len);
    return 0;
}

/* Keeps conv when it has a user turn; frees it otherwise. */
static void conv_keep(conv_loader_t *l, dataset_conversation_t *conv)
{
    if (conv->user_turns.count == 0) {
        prompt_list_free(&conv->user_turns);
        return;
    }
    l->out->items = xrealloc(l->out->items, (size_t)(l->out->count + 1) * sizeof *l->out->items);
    l->out->items[l->out->count++] = *conv;
}

/* One array of turns: {from, value} (ShareGPT) or {role, content} (OpenAI messages). */
static int conv_turns(conv_loader_t *l, const json_t *turns, const char *where)
{
    dataset_conversation_t conv = {0};
    size_t i;
    json_t *turn;
    json_array_foreach(turns, i, turn)
    {
        const char *who = json_string_value(json_object_get(turn, "from"));
        json_t *text = json_object_get(turn, "value");
        if (!who) {
            who = json_string_value(json_object_get(turn, "role"));
            text = json_object_get(turn, "content");
        }
        if (!json_is_object(turn) || !who || !json_is_string(text)) {
            snprintf(l->err, l->err_size,
                     "%s: %s: turn %zu: expected {\"from\", \"value\"} or {\"role\", "
                     "\"content\"} with strings",
                     l->name, where, i + 1);
            prompt_list_free(&conv.user_turns);
            return -1;
        }
        if ((strcmp(who, "human") == 0 || strcmp(who, "user") == 0) &&
            conv_add_turn(l, &conv, json_string_value(text), json_string_length(text), where) !=
                0) {
            prompt_list_free(&conv.user_turns);
            return -1;
        }
    }
    conv_keep(l, &conv);
    return 0;
}

static int conv_load_sharegpt(conv_loader_t *l, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(l->err, l->err_size, "%s:%d:%d: invalid JSON: %s", l->name,
                 jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1, jerr.text);
        return -1;
    }
    if (!json_is_array(root)) {
        json_decref(root);
        snprintf(l->err, l->err_size, "%s:1:1: expected a JSON array of entries", l->name);
        return -1;
    }
    int rc = 0;
    size_t index;
    json_t *entry;
    json_array_foreach(root, index, entry)
    {
        if (l->out->count >= l->limit)
            break;
        json_t *turns = json_object_get(entry, "conversations");
        char where[48];
        snprintf(where, sizeof where, "entry %zu", index + 1);
        if (!json_is_object(entry) || !json_is_array(turns)) {
            snprintf(l->err, l->err_size,
                     "%s: %s: expected an object with a 'conversations' array, as ShareGPT has",
                     l->name, where);
            rc = -1;
            break;
        }
        if ((rc = conv_turns(l, turns, where)) != 0)
            break;
    }
    json_decref(root);
    return rc;
}

static int conv_load_jsonl(conv_loader_t *l, const dataset_spec_t *spec, const char *data,
                           size_t len)
{
    const char *field = spec->field ? spec->field : "messages";
    size_t pos = 0;
    long line = 0;
    json_t *row;
    int got;
    while (l->out->count < l->limit &&
           (got = jsonl_next(l->name, data, len, &pos, &line, &row, l->err, l->err_size)) != 0) {
        if (got < 0)
            return -1;
        const json_t *turns = json_is_object(row) ? json_path(row, field) : NULL;
        char where[32];
        snprintf(where, sizeof where, "line %ld", line);
        int rc = 0;
        if (!json_is_array(turns)) {
            snprintf(l->err, l->err_size,
                     "%s:%ld: expected an object with an array of {role, content} at '%s'", l->name,
                     line, field);
            rc = -1;
        } else {
            rc = conv_turns(l, turns, where);
        }
        json_decref(row);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int dataset_load_conversations_bytes(const dataset_spec_t *spec, const char *name, const char *data,
                                     size_t len, conversation_list_t *out, char *err,
                                     size_t err_size)
{
    int before = out->count;
    int limit = spec->limit > 0 && spec->limit < WORKLOAD_MAX_CONVERSATIONS
                    ? spec->limit
                    : WORKLOAD_MAX_CONVERSATIONS;
    conv_loader_t l = {
        .name = name, .out = out, .limit = before + limit, .err = err, .err_size = err_size};
    dataset_format_t format = spec->format;
    if (format == DATASET_AUTO) {
        format = guess_format(name, data, len);
        if (format == DATASET_AUTO)
            format = DATASET_SHAREGPT;
    }
    int rc;
    if (format == DATASET_SHAREGPT)
        rc = conv_load_sharegpt(&l, data, len);
    else if (format == DATASET_JSONL)
        rc = conv_load_jsonl(&l, spec, data, len);
    else {
        snprintf(err, err_size,
                 "%s: conversations come from a sharegpt or jsonl (messages) dataset, not %s", name,
                 dataset_format_name(format));
        return -1;
    }
    if (rc == 0 && out->count == before) {
        snprintf(err, err_size, "%s: no conversation with a user turn found", name);
        return -1;
    }
    return rc;
}

int dataset_load_conversations(const dataset_spec_t *spec, conversation_list_t *out, char *err,
                               size_t err_size)
{
    const char *path = spec->path ? spec->path : "";
    buf_t data;
    if (dataset_read_file(path, &data, err, err_size) != 0)
        return -1;
    int rc = dataset_load_conversations_bytes(spec, path, data.data ? data.data : "", data.len, out,
                                              err, err_size);
    buf_free(&data);
    return rc;
}

/* ---- Templates ----------------------------------------------------------------------------- */

static const template_var_t *template_find(const template_spec_t *spec, const char *name,
                                           size_t len)
{
    for (int i = 0; i < spec->var_count; i++) {
        if (strlen(spec->vars[i].name) == len && strncmp(spec->vars[i].name, name, len) == 0)
            return &spec->vars[i];
    }
    return NULL;
}

/* Walks the template; fills out when given. 0, or -1 with err. */
static int template_walk(const template_spec_t *spec, uint64_t *rng, buf_t *out, char *err,
                         size_t err_size)
{
    const char *p = spec->text ? spec->text : "";
    while (*p) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (out)
                buf_append_char(out, p[0]);
            p += 2;
        } else if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t len = close ? (size_t)(close - p - 1) : 0;
            bool name_ok = close && len > 0;
            for (size_t i = 0; name_ok && i < len; i++)
                name_ok = isalnum((unsigned char)p[1 + i]) || p[1 + i] == '_';
            if (!name_ok) {
                snprintf(err, err_size,
                         "template \"%.40s\": expected {name} with letters, digits or _ "
                         "(write {{ for a literal brace)",
                         spec->text);
                return -1;
            }
            const template_var_t *var = template_find(spec, p + 1, len);
            if (!var || var->value_count < 1) {
                snprintf(err, err_size, "template \"%.40s\": placeholder {%.*s} has no values",
                         spec->text, (int)len, p + 1);
                return -1;
            }
            if (out)
                buf_append_str(out, var->values[rng_below(rng, (uint64_t)var->value_count)]);
            p = close + 1;
        } else if (*p == '}') {
            snprintf(err, err_size, "template \"%.40s\": a lone '}' (write }} for a literal brace)",
                     spec->text);
            return -1;
        } else {
            if (out)
                buf_append_char(out, *p);
            p++;
        }
    }
    return 0;
}

int template_check(const template_spec_t *spec, char *err, size_t err_size)
{
    return template_walk(spec, NULL, NULL, err, err_size);
}

char *template_fill(const template_spec_t *spec, uint64_t *rng_state)
{
    char err[160];
    buf_t out;
    buf_init(&out);
    if (template_walk(spec, rng_state, &out, err, sizeof err) != 0) {
        buf_free(&out);
        return NULL;
    }
    if (!out.data)
        buf_append_str(&out, "");
    return buf_take(&out);
}

/* ---- Length distributions -------------------------------------------------------------------- */

static const char *const length_names[] = {"none", "fixed", "uniform", "normal"};

int length_kind_parse(const char *name)
{
    for (int i = 1; i < (int)(sizeof length_names / sizeof length_names[0]); i++) {
        if (name && strcmp(name, length_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *length_kind_name(length_kind_t kind)
{
    return (unsigned)kind < sizeof length_names / sizeof length_names[0] ? length_names[kind] : "?";
}

int length_dist_check(const length_dist_t *d, char *err, size_t err_size)
{
    switch (d->kind) {
    case LENGTH_NONE:
        return 0;
    case LENGTH_FIXED:
        if (!(d->mean >= 1 && d->mean <= WORKLOAD_MAX_TOKENS)) {
            snprintf(err, err_size, "a length must be 1 to %d tokens", WORKLOAD_MAX_TOKENS);
            return -1;
        }
        return 0;
    case LENGTH_NORMAL:
        if (!(d->mean >= 1 && d->mean <= WORKLOAD_MAX_TOKENS) || !(d->stddev >= 0)) {
            snprintf(err, err_size, "normal: mean must be 1 to %d tokens and stddev >= 0",
                     WORKLOAD_MAX_TOKENS);
            return -1;
        }
        __attribute__((fallthrough)); /* and the clip bounds */
    case LENGTH_UNIFORM:
        if (d->min < 1 || d->max > WORKLOAD_MAX_TOKENS || d->min > d->max) {
            snprintf(err, err_size, "%s: needs 1 <= min <= max <= %d", length_kind_name(d->kind),
                     WORKLOAD_MAX_TOKENS);
            return -1;
        }
        return 0;
    }
    snprintf(err, err_size, "unknown length distribution");
    return -1;
}

int length_dist_sample(const length_dist_t *d, uint64_t *rng)
{
    switch (d->kind) {
    case LENGTH_FIXED:
        return (int)lround(d->mean);
    case LENGTH_UNIFORM:
        return d->min + (int)rng_below(rng, (uint64_t)(d->max - d->min + 1));
    case LENGTH_NORMAL: {
        /* Box-Muller; clipping (not redrawing) is what LLMPerf does, so the bounds carry
           the tails' mass. Both draws in (0, 1]: log() needs it, and the angle's draw
           keeps a seed's lengths what they have always been. */
        double z =
            sqrt(-2.0 * log(rng_unit_positive(rng))) * cos(2 * M_PI * rng_unit_positive(rng));
        double v = round(d->mean + d->stddev * z);
        return (int)fmin(fmax(v, d->min), d->max);
    }
    default:
        return 0;
    }
}

/* ---- Specs ----------------------------------------------------------------------------------- */

workload_spec_t *workload_spec_new(void)
{
    workload_spec_t *self = calloc(1, sizeof *self);
    if (self)
        self->defaults.weight = 1;
    return self;
}

static void dataset_spec_free(dataset_spec_t *d)
{
    free(d->path);
    free(d->field);
    free(d->input_field);
}

static void template_spec_free(template_spec_t *t)
{
    free(t->text);
    for (int i = 0; i < t->var_count; i++) {
        free(t->vars[i].name);
        for (int k = 0; k < t->vars[i].value_count; k++)
            free(t->vars[i].values[k]);
        free(t->vars[i].values);
    }
    free(t->vars);
}

static void class_free(workload_class_t *c)
{
    free(c->name);
    for (int i = 0; i < c->dataset_count; i++)
        dataset_spec_free(&c->datasets[i]);
    free(c->datasets);
    for (int i = 0; i < c->template_count; i++)
        template_spec_free(&c->templates[i]);
    free(c->templates);
    prompt_list_free(&c->prompts);
    free(c->builtin);
}

void workload_spec_destroy(workload_spec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workload_spec_t *self = *self_p;
    class_free(&self->defaults);
    for (int i = 0; i < self->class_count; i++)
        class_free(&self->classes[i]);
    free(self->classes);
    free(self);
    *self_p = NULL;
}

workload_class_t *workload_spec_add_class(workload_spec_t *self, const char *name)
{
    if (self->class_count >= WORKLOAD_MAX_CLASSES)
        return NULL;
    self->classes =
        xrealloc(self->classes, (size_t)(self->class_count + 1) * sizeof(workload_class_t));
    workload_class_t *c = &self->classes[self->class_count++];
    memset(c, 0, sizeof *c);
    workload_set_string(&c->name, name);
    c->weight = 1;
    return c;
}

dataset_spec_t *workload_class_add_dataset(workload_class_t *cls, const char *path)
{
    cls->datasets =
        xrealloc(cls->datasets, (size_t)(cls->dataset_count + 1) * sizeof(dataset_spec_t));
    dataset_spec_t *d = &cls->datasets[cls->dataset_count++];
    memset(d, 0, sizeof *d);
    workload_set_string(&d->path, path);
    return d;
}

template_spec_t *workload_class_add_template(workload_class_t *cls, const char *text)
{
    cls->templates =
        xrealloc(cls->templates, (size_t)(cls->template_count + 1) * sizeof(template_spec_t));
    template_spec_t *t = &cls->templates[cls->template_count++];
    memset(t, 0, sizeof *t);
    workload_set_string(&t->text, text);
    return t;
}

template_var_t *template_add_var(template_spec_t *tpl, const char *name)
{
    tpl->vars = xrealloc(tpl->vars, (size_t)(tpl->var_count + 1) * sizeof(template_var_t));
    template_var_t *v = &tpl->vars[tpl->var_count++];
    memset(v, 0, sizeof *v);
    workload_set_string(&v->name, name);
    return v;
}

void template_var_add_value(template_var_t *var, const char *value)
{
    var->values = xrealloc(var->values, (size_t)(var->value_count + 1) * sizeof(char *));
    var->values[var->value_count] = NULL;
    workload_set_string(&var->values[var->value_count++], value);
}

/* ---- Building the pool ------------------------------------------------------------------------
 */

static bool class_has_source(const workload_class_t *c)
{
    return c->dataset_count > 0 || c->template_count > 0 || c->prompts.count > 0 || c->builtin;
}

static void add_builtin(prompt_list_t *pool, const char *category)
{
    int count;
    const default_prompt_t *prompts = default_prompts(&count);
    bool all = !category || strcmp(category, "all") == 0;
    for (int i = 0; i < count; i++) {
        if (all || strcmp(prompts[i].category, category) == 0)
            prompt_list_add(pool, prompts[i].text, strlen(prompts[i].text));
    }
}

static bool builtin_category_exists(const char *category)
{
    int count;
    const default_prompt_t *prompts = default_prompts(&count);
    for (int i = 0; i < count; i++) {
        if (category && strcmp(prompts[i].category, category) == 0)
            return true;
    }
    return false;
}

/* The fixed prompts of a class's sources (templates are filled per item later). */
static int class_pool(const workload_class_t *src, const char *class_name, prompt_list_t *pool,
                      char *err, size_t err_size)
{
    for (int i = 0; i < src->dataset_count; i++) {
        if (dataset_load(&src->datasets[i], pool, err, err_size) != 0)
            return -1;
    }
    for (int i = 0; i < src->prompts.count; i++)
        prompt_list_add(pool, src->prompts.items[i], strlen(src->prompts.items[i]));
    if (src->builtin)
        add_builtin(pool, src->builtin);
    if (!class_has_source(src))
        add_builtin(pool, builtin_category_exists(class_name) ? class_name : "all");
    return 0;
}

/* Cuts text to at most max_len bytes at a word boundary (keeps at least one word and never
   splits a UTF-8 sequence). */
static void truncate_at_word(buf_t *text, size_t max_len)
{
    if (text->len <= max_len)
        return;
    size_t cut = max_len;
    while (cut > 0 && !isspace((unsigned char)text->data[cut]))
        cut--;
    if (cut == 0) { /* one long word: cut inside it, on a character boundary */
        cut = max_len;
        while (cut > 0 && ((unsigned char)text->data[cut] & 0xc0) == 0x80)
            cut--;
    }
    while (cut > 0 && isspace((unsigned char)text->data[cut - 1]))
        cut--;
    text->len = cut > 0 ? cut : 1;
    text->data[text->len] = '\0';
}

typedef struct {
    const workload_class_t *src; /* where prompts come from (the class or the defaults) */
    prompt_list_t pool;          /* fixed prompts, shuffled */
    int next;                    /* cycling position in pool */
    int next_template;
    length_dist_t input_tokens, output_tokens;
} class_state_t;

/* The next base prompt of a class: templates and fixed prompts in turn. Owned by caller. */
static char *class_next_prompt(class_state_t *cs, uint64_t *rng)
{
    int templates = cs->src->template_count;
    int choices = cs->pool.count + templates;
    int pick = (int)rng_below(rng, (uint64_t)choices);
    if (pick < templates)
        return template_fill(&cs->src->templates[pick], rng);
    char *text = xstrndup(cs->pool.items[cs->next], strlen(cs->pool.items[cs->next]));
    cs->next = (cs->next + 1) % cs->pool.count;
    return text;
}

static void shuffle_strings(char **items, int count, uint64_t *rng)
{
    for (int i = count - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        char *t = items[i];
        items[i] = items[j];
        items[j] = t;
    }
}

/* Makes one item's text: unique tag, base prompt, then real text of the same class until
   the input length is reached, cut at a word boundary. */
static char *compose_prompt(class_state_t *cs, const char *tag, char *base, int input_tokens,
                            double chars_per_token, uint64_t *rng)
{
    buf_t text;
    buf_init(&text);
    buf_append_str(&text, tag);
    buf_append_str(&text, base);
    free(base);
    if (input_tokens > 0) {
        size_t budget = (size_t)(input_tokens * chars_per_token);
        if (budget < 1)
            budget = 1;
        /* bounded: each pass adds at least one non-empty prompt */
        for (int guard = 0; text.len < budget && guard < 100000; guard++) {
            char *more = class_next_prompt(cs, rng);
            if (!more || !*more) {
                free(more);
                break;
            }
            buf_append_str(&text, guard == 0 ? "\n\nContext:\n" : "\n\n");
            buf_append_str(&text, more);
            free(more);
        }
        truncate_at_word(&text, budget);
    }
    if (!text.data)
        buf_append_str(&text, "");
    return buf_take(&text);
}

void workload_destroy(workload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workload_t *self = *self_p;
    for (int i = 0; i < self->count; i++)
        free(self->items[i].prompt);
    free(self->items);
    for (int i = 0; i < self->class_count; i++)
        free(self->class_names[i]);
    free(self->class_names);
    conversation_list_free(&self->conversations);
    free(self->system_prompt);
    free(self->shared_prefix);
    free(self);
    *self_p = NULL;
}

static int check_class(const workload_class_t *c, const char *name, char *err, size_t err_size)
{
    char why[160];
    if (!(c->weight >= 0) || !isfinite(c->weight)) {
        snprintf(err, err_size, "class %s: weight must be >= 0", name);
        return -1;
    }
    if (length_dist_check(&c->input_tokens, why, sizeof why) != 0 ||
        length_dist_check(&c->output_tokens, why, sizeof why) != 0) {
        snprintf(err, err_size, "class %s: %s", name, why);
        return -1;
    }
    for (int i = 0; i < c->template_count; i++) {
        if (template_check(&c->templates[i], why, sizeof why) != 0) {
            snprintf(err, err_size, "class %s: %s", name, why);
            return -1;
        }
    }
    if (c->builtin && strcmp(c->builtin, "all") != 0 && !builtin_category_exists(c->builtin)) {
        snprintf(err, err_size,
                 "class %s: no default prompts of category '%s' "
                 "(chat, code, summarization, all)",
                 name, c->builtin);
        return -1;
    }
    return 0;
}

/* A text of about `tokens` tokens that every conversation starting with it shares: a lead
   line, then the project's default prompts. "" for 0 tokens. Owned by the caller. */
static char *compose_shared_text(const char *lead, int tokens, double chars_per_token,
                                 uint64_t *rng)
{
    if (tokens <= 0)
        return xstrndup("", 0);
    workload_class_t builtin = {.builtin = (char *)"all"};
    class_state_t cs = {.src = &builtin};
    add_builtin(&cs.pool, "all");
    char *text =
        compose_prompt(&cs, "", xstrndup(lead, strlen(lead)), tokens, chars_per_token, rng);
    prompt_list_free(&cs.pool);
    return text;
}

/* Conversations: the dataset's (read as whole conversations) and the shared texts. The
   datasets' user turns also stand in for the pool's prompts, in *pool_src (a copy of the
   defaults without datasets; its prompts are owned by the caller). */
static int build_conversations(workload_t *self, const workload_spec_t *spec,
                               workload_class_t *pool_src, uint64_t *rng, char *err,
                               size_t err_size)
{
    const conversation_spec_t *cs = &spec->conversations;
    if (conversation_spec_check(cs, err, err_size) != 0)
        return -1;
    if (spec->class_count > 0) {
        snprintf(err, err_size, "conversations and a mix: give one of them");
        return -1;
    }
    *pool_src = spec->defaults;
    pool_src->datasets = NULL;
    pool_src->dataset_count = 0;
    memset(&pool_src->prompts, 0, sizeof pool_src->prompts);
    for (int i = 0; i < spec->defaults.dataset_count; i++) {
        if (dataset_load_conversations(&spec->defaults.datasets[i], &self->conversations, err,
                                       err_size) != 0)
            return -1;
    }
    for (int i = 0; i < self->conversations.count; i++) {
        const prompt_list_t *turns = &self->conversations.items[i].user_turns;
        for (int k = 0; k < turns->count && pool_src->prompts.count < WORKLOAD_MAX_PROMPTS; k++)
            prompt_list_add(&pool_src->prompts, turns->items[k], strlen(turns->items[k]));
    }
    for (int i = 0; i < spec->defaults.prompts.count; i++)
        prompt_list_add(&pool_src->prompts, spec->defaults.prompts.items[i],
                        strlen(spec->defaults.prompts.items[i]));
    self->system_prompt = compose_shared_text(
        "You are a helpful assistant. Answer the user's questions using the notes below.\n\n",
        cs->system_prompt_tokens, self->chars_per_token, rng);
    self->shared_prefix = compose_shared_text("Reference document:\n\n", cs->shared_prefix_tokens,
                                              self->chars_per_token, rng);
    return 0;
}

workload_t *workload_build(const workload_spec_t *spec, const workload_options_t *options,
                           char *err, size_t err_size)
{
    workload_options_t none = {0};
    if (!options)
        options = &none;
    int class_count = spec->class_count > 0 ? spec->class_count : 1;
    int pool_size = spec->pool_size > 0 ? spec->pool_size : DEFAULT_POOL_SIZE;
    if (pool_size > WORKLOAD_MAX_ITEMS)
        pool_size = WORKLOAD_MAX_ITEMS;
    if (pool_size < class_count)
        pool_size = class_count;
    double cpt = options->chars_per_token > 0 ? options->chars_per_token : DEFAULT_CHARS_PER_TOKEN;
    uint64_t rng = spec->seed ? spec->seed : (options->seed ? options->seed : 1);

    if (check_class(&spec->defaults, "(workload)", err, err_size) != 0)
        return NULL;
    double total_weight = 0;
    for (int c = 0; c < spec->class_count; c++) {
        if (check_class(&spec->classes[c], spec->classes[c].name, err, err_size) != 0)
            return NULL;
        total_weight += spec->classes[c].weight;
    }
    if (spec->class_count > 0 && !(total_weight > 0)) {
        snprintf(err, err_size, "workload mix: the weights add up to 0");
        return NULL;
    }

    class_state_t *states = calloc((size_t)class_count, sizeof *states);
    int *quota = calloc((size_t)class_count, sizeof *quota);
    workload_t *self = calloc(1, sizeof *self);
    if (!states || !quota || !self)
        abort();
    self->chars_per_token = cpt;
    self->class_count = class_count;
    self->class_names = xrealloc(NULL, (size_t)class_count * sizeof(char *));
    workload_class_t conv_src = {0}; /* with conversations: the defaults, turns for datasets */
    if (spec->conversations.enabled &&
        build_conversations(self, spec, &conv_src, &rng, err, err_size) != 0) {
        prompt_list_free(&conv_src.prompts);
        free(states);
        free(quota);
        self->class_count = 0; /* no names filled in yet */
        free(self->class_names);
        self->class_names = NULL;
        workload_destroy(&self);
        return NULL;
    }

    /* Sources and quotas: largest remainder, so the pool holds the mix exactly. */
    int assigned = 0;
    double *remainder = calloc((size_t)class_count, sizeof *remainder);
    if (!remainder)
        abort();
    for (int c = 0; c < class_count; c++) {
        const workload_class_t *cls = spec->class_count > 0 ? &spec->classes[c] : &spec->defaults;
        const char *name = spec->class_count > 0 ? cls->name : "default";
        self->class_names[c] = xstrndup(name, strlen(name));
        class_state_t *cs = &states[c];
        cs->src = class_has_source(cls) ? cls : &spec->defaults;
        if (spec->conversations.enabled && spec->defaults.dataset_count > 0)
            cs->src = &conv_src;
        cs->input_tokens = cls->input_tokens.kind ? cls->input_tokens : spec->defaults.input_tokens;
        cs->output_tokens =
            cls->output_tokens.kind ? cls->output_tokens : spec->defaults.output_tokens;
        if (class_pool(cs->src, name, &cs->pool, err, err_size) != 0)
            goto fail;
        if (cs->pool.count == 0 && cs->src->template_count == 0) {
            snprintf(err, err_size, "class %s: no prompts", name);
            goto fail;
        }
        shuffle_strings(cs->pool.items, cs->pool.count, &rng);
        double share = spec->class_count > 0 ? pool_size * cls->weight / total_weight : pool_size;
        quota[c] = (int)floor(share);
        remainder[c] = share - quota[c];
        assigned += quota[c];
    }
    while (assigned < pool_size) {
        int best = 0;
        for (int c = 1; c < class_count; c++) {
            if (remainder[c] > remainder[best])
                best = c;
        }
        quota[best]++;
        remainder[best] = -1;
        assigned++;
    }

    self->items = xrealloc(NULL, (size_t)pool_size * sizeof(workload_item_t));
    char nonce[40];
    if (options->nonce)
        snprintf(nonce, sizeof nonce, "%.32s", options->nonce);
    else
        snprintf(nonce, sizeof nonce, "%08llx", (unsigned long long)(rng_next(&rng) >> 32));
    for (int c = 0; c < class_count; c++) {
        for (int k = 0; k < quota[c]; k++) {
            class_state_t *cs = &states[c];
            char tag[64] = "";
            if (spec->unique_prefix)
                snprintf(tag, sizeof tag, "[%s-%d] ", nonce, self->count);
            char *base = class_next_prompt(cs, &rng);
            if (!base)
                abort(); /* templates were checked above */
            workload_item_t *item = &self->items[self->count++];
            item->class_index = c;
            item->input_tokens = length_dist_sample(&cs->input_tokens, &rng);
            item->max_tokens = length_dist_sample(&cs->output_tokens, &rng);
            item->prompt = compose_prompt(cs, tag, base, item->input_tokens, cpt, &rng);
        }
    }
    /* Interleave the classes so that cycling through the pool keeps the mix at every scale. */
    for (int i = self->count - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint64_t)i + 1);
        workload_item_t t = self->items[i];
        self->items[i] = self->items[j];
        self->items[j] = t;
    }
    if (spec->unique_prefix) { /* tags numbered in pool order, after the shuffle */
        for (int i = 0; i < self->count; i++) {
            char *p = self->items[i].prompt;
            char *close = strchr(p, ']');
            if (p[0] == '[' && close) {
                buf_t t;
                buf_init(&t);
                buf_printf(&t, "[%s-%d]%s", nonce, i, close + 1);
                free(p);
                self->items[i].prompt = buf_take(&t);
            }
        }
    }
    for (int c = 0; c < class_count; c++)
        prompt_list_free(&states[c].pool);
    prompt_list_free(&conv_src.prompts);
    free(states);
    free(quota);
    free(remainder);
    return self;

fail:
    for (int c = 0; c < class_count; c++)
        prompt_list_free(&states[c].pool);
    prompt_list_free(&conv_src.prompts);
    free(states);
    free(quota);
    free(remainder);
    workload_destroy(&self);
    return NULL;
}

/* ---- /tokenize calibration ------------------------------------------------------------------- */

#define CALIBRATION_MAX_REPLY_BYTES 65536

double workload_tokenize_reply_ratio(const char *reply, size_t reply_len, size_t sample_chars)
{
    json_t *root = json_loadb(reply ? reply : "", reply ? reply_len : 0, 0, NULL);
    json_t *count_node = json_object_get(root, "count");
    double tokens = json_is_integer(count_node) ? (double)json_integer_value(count_node) : 0;
    json_decref(root);
    double ratio = tokens > 0 ? (double)sample_chars / tokens : 0;
    /* Any real tokenizer lands within these on English prose; outside them the answer
       is not a token count. */
    return ratio >= 1.0 && ratio <= 12.0 ? ratio : -1;
}

static size_t collect_reply(char *data, size_t size, size_t nmemb, void *arg)
{
    buf_t *reply = arg;
    if (reply->len + size * nmemb > CALIBRATION_MAX_REPLY_BYTES)
        return 0; /* a /tokenize answer this big is not one we understand */
    buf_append(reply, data, size * nmemb);
    return size * nmemb;
}

double workload_calibrate_chars_per_token(const char *base_url, const char *model,
                                          int64_t timeout_ms, char *err, size_t err_size)
{
    /* A sample of real text: the summarization passages of the default prompts. */
    buf_t sample, body, reply;
    buf_init(&sample);
    buf_init(&body);
    buf_init(&reply);
    int count;
    const default_prompt_t *prompts = default_prompts(&count);
    for (int i = 0; i < count && sample.len < 4000; i++) {
        if (strcmp(prompts[i].category, "summarization") == 0) {
            buf_append_str(&sample, prompts[i].text);
            buf_append_str(&sample, "\n");
        }
    }
    jsonw_t w;
    jsonw_init(&w, &body);
    jsonw_object_begin(&w);
    if (model)
        jsonw_kv_string(&w, "model", model);
    jsonw_kv_string(&w, "prompt", sample.data ? sample.data : "");
    jsonw_kv_bool(&w, "add_special_tokens", false);
    jsonw_object_end(&w);
    /* The target's own endpoint: its userinfo and query (credentials) stay; messages
       show only the redacted URL. */
    char *url = url_with_path(base_url, "/tokenize", true, err, err_size);
    char *shown = url ? url_redact(url) : NULL;

    double result = -1;
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;
    if (!url)
        goto done;
    curl = curl_easy_init();
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!curl || !headers) {
        snprintf(err, err_size, "%s: cannot start libcurl", shown);
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 5000));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        snprintf(err, err_size, "%s: %s", shown,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "no /tokenize (HTTP status not 200)");
        goto done;
    }
    double ratio = workload_tokenize_reply_ratio(reply.data, reply.len, sample.len);
    if (ratio < 0) {
        snprintf(err, err_size, "%s: answered no usable token count", shown);
        goto done;
    }
    result = ratio;
done:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    buf_free(&sample);
    buf_free(&body);
    buf_free(&reply);
    free(url);
    free(shown);
    return result;
}
