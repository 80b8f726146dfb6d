/*  workload.h: what the requests say (docs/workloads.md).

    A workload spec (usually from a plan file's `workload:` block) names where prompts come
    from and how long requests should be; workload_build() turns it into a pool of request
    templates {prompt, max_tokens, class} that the load engine cycles through.

      sources     a dataset file (Alpaca JSON, ShareGPT JSON, JSON Lines with a named field,
                  plain text one prompt a line), templates with {placeholders} filled from
                  value lists, inline prompts, or the project's own default prompts
      mix         classes with weights (chat 70 / code 20 / summarization 10), each with its
                  own source and input/output length distributions
      lengths     fixed, uniform [min, max], or normal(mean, stddev) clipped to [min, max]
                  (the clipped normal of LLMPerf's token benchmark); input lengths are
                  reached by composing real text (truncated at a word boundary, or extended
                  with further passages of the same source), measured in tokens as
                  characters / chars_per_token, which /tokenize can calibrate
      uniqueness  unique_prefix puts a distinct tag at the very start of every template, so
                  no two share a cached prefix

    Errors name the file and the line (JSON Lines, text) or the entry (JSON arrays, whose
    parser gives no line per element), and never abort the process.
    Ownership: *_new / *_destroy; every string inside a spec or a workload is owned by it.
*/
#ifndef SURGE_PLAN_WORKLOAD_H
#define SURGE_PLAN_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKLOAD_MAX_PROMPTS      1000000   /* prompts kept from one dataset */
#define WORKLOAD_MAX_PROMPT_BYTES (1 << 20) /* longer prompts are an error, not a truncation */
#define WORKLOAD_MAX_CLASSES      32
#define WORKLOAD_MAX_ITEMS        100000 /* request templates in one pool */
#define WORKLOAD_MAX_TOKENS       1000000

/* ---- Prompt lists --------------------------------------------------------------------- */

typedef struct {
    char **items; /* owned strings */
    int count;
} prompt_list_t;

void prompt_list_add(prompt_list_t *self, const char *text, size_t len);
void prompt_list_free(prompt_list_t *self);

/* ---- Datasets ------------------------------------------------------------------------- */

typedef enum {
    DATASET_AUTO = 0, /* from the extension (.txt, .jsonl) and, for .json, the first entry */
    DATASET_ALPACA,   /* JSON array of {instruction, input, output}: instruction + input */
    DATASET_SHAREGPT, /* JSON array of {conversations: [{from, value}]}: first human turn */
    DATASET_JSONL,    /* one JSON object a line; the prompt at `field` (a dot path) */
    DATASET_TEXT      /* one prompt a line; blank lines skipped */
} dataset_format_t;

typedef struct {
    char *path;
    dataset_format_t format;
    char *field;       /* JSONL: dot path of the prompt ("question", "instances.0.input") */
    char *input_field; /* JSONL: optional second dot path appended after a blank line when
                          not empty (Alpaca seed tasks: instruction + instances.0.input) */
    int limit;         /* keep the first `limit` prompts (0 = all, up to the cap) */
} dataset_spec_t;

/* Parses "alpaca", "sharegpt", "jsonl", "text", "auto"; -1 when unknown. */
int dataset_format_parse(const char *name);
const char *dataset_format_name(dataset_format_t format);

/* Appends the prompts of a dataset file to out. 0, or -1 with "FILE:LINE: ..." (or
   "FILE: entry N: ...") in err; out keeps what was added before the error. */
int dataset_load(const dataset_spec_t *spec, prompt_list_t *out, char *err, size_t err_size);
/* The same on bytes in memory; `name` stands for the file in messages. DATASET_AUTO is
   decided from the content. */
int dataset_load_bytes(const dataset_spec_t *spec, const char *name, const char *data, size_t len,
                       prompt_list_t *out, char *err, size_t err_size);

/* ---- Templates ------------------------------------------------------------------------ */

typedef struct {
    char *name;    /* placeholder name: {name} in the text */
    char **values; /* owned */
    int value_count;
} template_var_t;

typedef struct {
    char *text; /* "Summarize {topic} in {n} words"; "{{" and "}}" are literal braces */
    template_var_t *vars;
    int var_count;
} template_spec_t;

/* 0 when every {placeholder} of text has a var with at least one value, and braces
   balance; -1 with the offending placeholder in err. */
int template_check(const template_spec_t *spec, char *err, size_t err_size);
/* Fills the placeholders with values picked by *rng_state (a splitmix64 state);
   returns a malloc'd string, or NULL when template_check fails. */
char *template_fill(const template_spec_t *spec, uint64_t *rng_state);

/* ---- Length distributions ---------------------------------------------------------------- */

typedef enum {
    LENGTH_NONE = 0, /* not set: keep the prompt as written / send no max_tokens */
    LENGTH_FIXED,    /* always `mean` */
    LENGTH_UNIFORM,  /* uniform integer in [min, max] */
    LENGTH_NORMAL    /* round(normal(mean, stddev)) clipped to [min, max] */
} length_kind_t;

typedef struct {
    length_kind_t kind;
    double mean, stddev;
    int min, max; /* clip bounds (normal) or range (uniform); min >= 1 */
} length_dist_t;

int length_kind_parse(const char *name); /* "fixed", "uniform", "normal"; -1 when unknown */
const char *length_kind_name(length_kind_t kind);
/* 0, or -1 with what is wrong (min > max, stddev < 0, mean outside 1..WORKLOAD_MAX_TOKENS). */
int length_dist_check(const length_dist_t *dist, char *err, size_t err_size);
/* One draw; 0 for LENGTH_NONE. */
int length_dist_sample(const length_dist_t *dist, uint64_t *rng_state);

/* ---- Conversations (docs/workloads.md#conversations) ---------------------------------- */

/* A conversation resends its history every turn, so these bound what one open conversation
   holds (docs/performance.md counts it): */
#define WORKLOAD_MAX_TURNS         64     /* turns of one conversation; more are dropped */
#define WORKLOAD_MAX_THINK_MS      600000 /* 10 min between an answer and the next turn */
#define WORKLOAD_MAX_CONVERSATIONS 100000 /* dataset conversations kept */
#define WORKLOAD_MAX_PREFIX_TOKENS 100000 /* system prompt, shared prefix */

typedef enum {
    AFFINITY_CONVERSATION = 0, /* every turn of a conversation goes to the same target */
    AFFINITY_NONE              /* each turn goes through the balancer */
} conversation_affinity_t;

typedef struct {
    bool enabled;                  /* `conversations:` was given */
    length_dist_t turns;           /* turns per conversation (synthetic user turns) */
    length_dist_t think_time_ms;   /* after an answer, before the next turn; NONE = 0 */
    int system_prompt_tokens;      /* one system prompt shared by all; 0 = none */
    int shared_prefix_tokens;      /* one document shared by a fraction; 0 = none */
    double shared_prefix_fraction; /* 0..1 of conversations that carry it */
    conversation_affinity_t affinity;
    int context_tokens; /* the model's context in tokens; 0 = the workers' default */
} conversation_spec_t;

int conversation_affinity_parse(const char *name); /* "conversation", "none"; -1 when unknown */
const char *conversation_affinity_name(conversation_affinity_t affinity);
/* 0, or -1 with what is wrong (a turn count outside 1..WORKLOAD_MAX_TURNS, a think time
   outside 0..WORKLOAD_MAX_THINK_MS, a fraction outside 0..1, a shared prefix fraction
   without a shared prefix). */
int conversation_spec_check(const conversation_spec_t *spec, char *err, size_t err_size);

/* One conversation of a dataset: its user turns in order (the dataset's own answers are
   not kept: the history a turn carries is the answers the target gave). */
typedef struct {
    prompt_list_t user_turns; /* at most WORKLOAD_MAX_TURNS */
} dataset_conversation_t;

typedef struct {
    dataset_conversation_t *items; /* owned */
    int count;
} conversation_list_t;

void conversation_list_free(conversation_list_t *self);

/* Appends the conversations of a ShareGPT file ({conversations: [{from, value}]}: the
   human/user turns) or a JSON Lines file (each line an object whose `messages` array, or
   the array at `field`, holds {role, content}: the user turns) to out; entries without a
   user turn are skipped. 0, or -1 with "FILE:LINE: ..." or "FILE: entry N: ..." in err. */
int dataset_load_conversations(const dataset_spec_t *spec, conversation_list_t *out, char *err,
                               size_t err_size);
int dataset_load_conversations_bytes(const dataset_spec_t *spec, const char *name, const char *data,
                                     size_t len, conversation_list_t *out, char *err,
                                     size_t err_size);

/* ---- Specs ------------------------------------------------------------------------------- */

typedef struct {
    char *name;    /* "chat", "code", ...; reported per class */
    double weight; /* relative (70 / 20 / 10 or 0.7 / 0.2 / 0.1) */
    /* Sources: any of these; none means the workload's own, else the default prompts of
       the category named like the class (chat, code, summarization), else all of them. */
    dataset_spec_t *datasets;
    int dataset_count;
    template_spec_t *templates;
    int template_count;
    prompt_list_t prompts;
    char *builtin; /* a default-prompt category ("chat", "code", "summarization", "all") */
    length_dist_t input_tokens, output_tokens;
} workload_class_t;

typedef struct {
    workload_class_t defaults; /* the workload-level source and lengths */
    workload_class_t *classes; /* the mix; none = one class from `defaults` */
    int class_count;
    int pool_size;                     /* request templates to build (0 = 256) */
    bool unique_prefix;                /* distinct tag at the start of every template */
    bool tokenize;                     /* calibrate chars/token with the target's /tokenize */
    uint64_t seed;                     /* 0 = the plan's */
    conversation_spec_t conversations; /* multi-turn sessions (enabled = false: single turns) */
} workload_spec_t;

workload_spec_t *workload_spec_new(void);
void workload_spec_destroy(workload_spec_t **self_p);
/* Appends a class (zeroed, weight 1, name copied); NULL when WORKLOAD_MAX_CLASSES. */
workload_class_t *workload_spec_add_class(workload_spec_t *self, const char *name);
dataset_spec_t *workload_class_add_dataset(workload_class_t *cls, const char *path);
template_spec_t *workload_class_add_template(workload_class_t *cls, const char *text);
template_var_t *template_add_var(template_spec_t *tpl, const char *name);
void template_var_add_value(template_var_t *var, const char *value);
/* Replaces *field with a copy of value (NULL clears it). */
void workload_set_string(char **field, const char *value);

/* ---- Default prompts (plan/default_prompts.c) ----------------------------------- */

typedef struct {
    const char *category; /* "chat", "code", "summarization" */
    const char *text;
} default_prompt_t;

/* The project's own prompts, written for surge so the demo works offline. Static. */
const default_prompt_t *default_prompts(int *count_out);

/* ---- Building the pool ------------------------------------------------------------------- */

typedef struct {
    char *prompt;     /* owned */
    int max_tokens;   /* 0 = the plan's max_tokens */
    int class_index;  /* into workload_t.class_names */
    int input_tokens; /* the target length (estimated tokens), 0 when not set */
} workload_item_t;

typedef struct {
    workload_item_t *items; /* owned */
    int count;
    char **class_names; /* owned */
    int class_count;
    double chars_per_token; /* the ratio used for input lengths */
    /* With conversations: the dataset's conversations (none = synthetic, user turns drawn
       from the pool), and the texts every conversation starts with ("" = none). */
    conversation_list_t conversations;
    char *system_prompt; /* owned */
    char *shared_prefix; /* owned */
} workload_t;

typedef struct {
    double chars_per_token; /* 0 = 4.0, English text on Llama-style tokenizers */
    const char *nonce;      /* run id for unique prefixes (NULL = derived from the seed) */
    uint64_t seed;          /* used when the spec's seed is 0 (0 = 1) */
} workload_options_t;

/* Loads every source and builds the pool. Deterministic for a given seed and sources.
   NULL with a reason in err (a dataset error names its file and line). */
workload_t *workload_build(const workload_spec_t *spec, const workload_options_t *options,
                           char *err, size_t err_size);
void workload_destroy(workload_t **self_p);

/* Asks base_url's /tokenize (vLLM, SGLang and `surge sim` have one) how many tokens a
   sample of real text is, and returns characters per token; -1 with the reason in err when
   the server has none or answers nonsense (callers keep the default then). */
double workload_calibrate_chars_per_token(const char *base_url, const char *model,
                                          int64_t timeout_ms, char *err, size_t err_size);
/* Characters per token from a /tokenize reply body ({"count": N, ...}) for a sample of
   sample_chars characters: 1..12, else -1 (not a token count). Any bytes are safe. */
double workload_tokenize_reply_ratio(const char *reply, size_t reply_len, size_t sample_chars);

#endif
