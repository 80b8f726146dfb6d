/*  conversation.c: multi-turn conversations (docs/workloads.md#conversations).

    A conversation lives on one engine thread and belongs to its pacer (an open-loop
    arrival's own, or the closed-loop user holding it). Each turn's body is the chat
    `messages` array, built here per turn:

        system prompt (+ the shared prefix, for the drawn fraction of conversations)
        user 1, assistant 1, ..., user k-1, assistant k-1   (as they happened)
        user k

    The assistant texts are the answers actually received (request.c reassembles the
    streamed content), not the dataset's. The history is held once per conversation, as
    ready-to-send JSON (`,{"role":"user",...},{"role":"assistant",...}` per answered
    turn), with the end offset of each turn, so dropping the oldest turns to stay within
    the model's context is moving a start offset, and a body is three copies.

    Hot path: building a turn's body is the one allocation of a turn (into the request's
    reused buffer, so amortised to none once it has grown); the answer is appended to
    the history once, when the turn ends. Nothing is copied per token.

    Memory per open conversation (docs/performance.md): sizeof(conversation_t) plus its
    history (the escaped turns kept, at most the context budget plus the latest answer)
    plus turn_ends (8 bytes per turn).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/jsonw.h"
#include "common/rng.h"
#include "worker/engine_private.h"

#define DEFAULT_CHARS_PER_TOKEN 4.0

struct conv_shared_s {
    dist_t turns, think_time_ms;
    double shared_prefix_fraction;
    bool affinity_none;
    buf_t system_msg;        /* {"role":"system",...} without the prefix, or empty */
    buf_t system_prefix_msg; /* with the shared prefix (or empty when there is none) */
    /* user turns as JSON strings (quoted, escaped): the dataset's, flattened, then the
       prompts (synthetic turns) */
    char **turn_json;
    int turn_json_count;
    int *conv_first, *conv_count; /* dataset conversations: first turn, turn count */
    int conversation_count;
    int prompt_first, prompt_count; /* prompts within turn_json */
    int *prompt_max_tokens;         /* per prompt, 0 = max_tokens */
    int max_tokens;
    buf_t head; /* `{"model":...,"messages":[` */
    buf_t tail; /* `],...}` */
    bool inject_max_tokens;
    size_t context_bytes;   /* the model's context, in bytes of text */
    double chars_per_token; /* to turn max_tokens into bytes of the context */
};

struct conversation_s {
    const conv_shared_t *shared; /* borrowed */
    char id[48];
    int turns_sent, turn_count;
    int dataset; /* index of its dataset conversation, -1 synthetic */
    int target;  /* affinity: the first turn's target; -1 before it */
    bool with_prefix;
    uint64_t rng;
    int current_turn_json; /* index in shared->turn_json of the turn in flight */
    buf_t history;         /* the answered turns, as JSON message objects each led by ',' */
    size_t *turn_ends;     /* history length after each answered turn */
    int first_kept;        /* answered turns before it are left out of the bodies */
    int64_t next_ns;
};

/* ---- the shared part ---------------------------------------------------------------- */

static void json_string_into(buf_t *out, const char *text)
{
    buf_append_char(out, '"');
    json_escape_into(out, text, strlen(text));
    buf_append_char(out, '"');
}

static void system_message(buf_t *out, const char *system, const char *prefix)
{
    buf_clear(out);
    bool has_system = system && *system, has_prefix = prefix && *prefix;
    if (!has_system && !has_prefix)
        return;
    buf_append_str(out, "{\"role\":\"system\",\"content\":\"");
    if (has_system)
        json_escape_into(out, system, strlen(system));
    if (has_system && has_prefix)
        json_escape_into(out, "\n\n", 2);
    if (has_prefix)
        json_escape_into(out, prefix, strlen(prefix));
    buf_append_str(out, "\"}");
}

/* The head and tail around `messages`, cut out of a single-turn body that the engine's
   own body builder made with a marker prompt (so extra_body, stream_options and the
   rest are exactly a single turn's). */
static int body_frame(conv_shared_t *self, const engine_config_t *config, char *err,
                      size_t err_size)
{
    static const char marker[] = "{\"role\":\"user\",\"content\":\"\\u0001surge\\u0001\"}";
    char *with = targets_body_build(config, "\001surge\001", 1);
    char *without = targets_body_build(config, "\001surge\001", 0);
    int rc = -1;
    const char *at = with ? strstr(with, marker) : NULL;
    if (!with || !without)
        snprintf(err, err_size, "conversations: out of memory");
    else if (!at || at == with || at[-1] != '[' || at[sizeof marker - 1] != ']')
        snprintf(err, err_size, "conversations: extra_body must not set `messages`");
    else {
        /* max_tokens goes into every turn unless extra_body sets it (then both are equal) */
        self->inject_max_tokens = strcmp(with, without) != 0;
        const char *base = self->inject_max_tokens ? without : with;
        const char *m = strstr(base, marker);
        buf_append(&self->head, base, (size_t)(m - base));
        buf_append_str(&self->tail, m + sizeof marker - 1);
        rc = 0;
    }
    free(with);
    free(without);
    return rc;
}

conv_shared_t *conv_shared_new(const engine_config_t *config, char *err, size_t err_size)
{
    const engine_conversations_t *c = &config->conversations;
    if (err_size)
        err[0] = '\0';
    if (!c->enabled)
        return NULL;
    if (config->api != ENGINE_API_CHAT) {
        snprintf(err, err_size, "conversations need the chat API");
        return NULL;
    }
    int total_turns = 0;
    for (int i = 0; i < c->conversation_count; i++) {
        if (!c->turn_counts || c->turn_counts[i] < 1) {
            snprintf(err, err_size, "conversations: conversation %d has no turn", i);
            return NULL;
        }
        total_turns += c->turn_counts[i];
    }
    if (total_turns != (c->conversation_count ? c->turn_text_count : total_turns) ||
        (c->conversation_count && !c->turn_texts)) {
        snprintf(err, err_size, "conversations: %d turns counted, %d given", total_turns,
                 c->turn_text_count);
        return NULL;
    }
    conv_shared_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "conversations: out of memory");
        return NULL;
    }
    self->turns = c->turns;
    self->think_time_ms = c->think_time_ms;
    self->shared_prefix_fraction =
        c->shared_prefix && *c->shared_prefix ? c->shared_prefix_fraction : 0;
    self->affinity_none = c->affinity_none;
    buf_init(&self->system_msg);
    buf_init(&self->system_prefix_msg);
    buf_init(&self->head);
    buf_init(&self->tail);
    system_message(&self->system_msg, c->system_prompt, NULL);
    system_message(&self->system_prefix_msg, c->system_prompt, c->shared_prefix);
    self->turn_json_count = c->turn_text_count + config->prompt_count;
    self->turn_json = calloc((size_t)self->turn_json_count + 1, sizeof(char *));
    self->conv_first = calloc((size_t)c->conversation_count + 1, sizeof(int));
    self->conv_count = calloc((size_t)c->conversation_count + 1, sizeof(int));
    self->prompt_max_tokens = calloc((size_t)config->prompt_count + 1, sizeof(int));
    if (!self->turn_json || !self->conv_first || !self->conv_count || !self->prompt_max_tokens) {
        snprintf(err, err_size, "conversations: out of memory");
        conv_shared_destroy(&self);
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < c->conversation_count; i++) {
        self->conv_first[i] = k;
        self->conv_count[i] = c->turn_counts[i];
        k += c->turn_counts[i];
    }
    self->conversation_count = c->conversation_count;
    for (int i = 0; i < self->turn_json_count; i++) {
        const char *text =
            i < c->turn_text_count ? c->turn_texts[i] : config->prompts[i - c->turn_text_count];
        buf_t b;
        buf_init(&b);
        json_string_into(&b, text ? text : "");
        self->turn_json[i] = buf_take(&b);
    }
    self->prompt_first = c->turn_text_count;
    self->prompt_count = config->prompt_count;
    for (int i = 0; config->prompt_max_tokens && i < config->prompt_count; i++)
        self->prompt_max_tokens[i] = config->prompt_max_tokens[i];
    self->max_tokens = config->max_tokens;
    double cpt = c->chars_per_token > 0 ? c->chars_per_token : DEFAULT_CHARS_PER_TOKEN;
    int context = c->context_tokens > 0 ? c->context_tokens : ENGINE_CONV_DEFAULT_CONTEXT_TOKENS;
    self->context_bytes = (size_t)(context * cpt);
    self->chars_per_token = cpt;
    if (body_frame(self, config, err, err_size) != 0) {
        conv_shared_destroy(&self);
        return NULL;
    }
    return self;
}

void conv_shared_destroy(conv_shared_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    conv_shared_t *self = *self_p;
    for (int i = 0; self->turn_json && i < self->turn_json_count; i++)
        free(self->turn_json[i]);
    free(self->turn_json);
    free(self->conv_first);
    free(self->conv_count);
    free(self->prompt_max_tokens);
    buf_free(&self->system_msg);
    buf_free(&self->system_prefix_msg);
    buf_free(&self->head);
    buf_free(&self->tail);
    free(self);
    *self_p = NULL;
}

bool conversation_affinity(const conv_shared_t *shared)
{
    return !shared->affinity_none;
}

/* ---- one conversation ---------------------------------------------------------------- */

conversation_t *conversation_new(const conv_shared_t *shared, int phase, int64_t id_a, int64_t id_b,
                                 uint64_t pick)
{
    conversation_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->shared = shared;
    if (id_b >= 0)
        snprintf(self->id, sizeof self->id, "%d.u%lld.%lld", phase, (long long)id_a,
                 (long long)id_b);
    else
        snprintf(self->id, sizeof self->id, "%d.%lld", phase, (long long)id_a);
    self->rng = pick * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    self->target = -1;
    if (shared->conversation_count > 0) {
        self->dataset = (int)(pick % (uint64_t)shared->conversation_count);
        self->turn_count = shared->conv_count[self->dataset];
    } else {
        self->dataset = -1;
        int64_t turns = dist_sample(&shared->turns, 1, &self->rng);
        self->turn_count = (int)(turns < 1 ? 1 : turns);
    }
    self->with_prefix =
        shared->shared_prefix_fraction > 0 && rng_unit(&self->rng) < shared->shared_prefix_fraction;
    self->turn_ends = calloc((size_t)self->turn_count, sizeof *self->turn_ends);
    buf_init(&self->history);
    if (!self->turn_ends) {
        free(self);
        return NULL;
    }
    return self;
}

void conversation_destroy(conversation_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    buf_free(&(*self_p)->history);
    free((*self_p)->turn_ends);
    free(*self_p);
    *self_p = NULL;
}

int conversation_next_body(conversation_t *self, buf_t *out, int *dropped)
{
    const conv_shared_t *shared = self->shared;
    int turn = self->turns_sent;
    int max_tokens = shared->max_tokens;
    if (self->dataset >= 0) {
        self->current_turn_json = shared->conv_first[self->dataset] + turn;
    } else {
        int p = (int)(rng_next(&self->rng) % (uint64_t)shared->prompt_count);
        self->current_turn_json = shared->prompt_first + p;
        if (shared->prompt_max_tokens[p] > 0)
            max_tokens = shared->prompt_max_tokens[p];
    }
    const buf_t *system = self->with_prefix ? &shared->system_prefix_msg : &shared->system_msg;
    const char *user = shared->turn_json[self->current_turn_json];
    size_t user_len = strlen(user);
    /* The context: the oldest answered turns go first, as chat clients drop them. */
    size_t budget = shared->context_bytes;
    /* the answer's room: a turn that asks for max_tokens needs them inside the context */
    size_t reserve = (size_t)((max_tokens > 0 ? max_tokens : 0) * shared->chars_per_token);
    size_t fixed = system->len + user_len + 32 + reserve;
    size_t history_end = turn > 0 ? self->turn_ends[turn - 1] : 0;
    while (self->first_kept < turn) {
        size_t start = self->first_kept > 0 ? self->turn_ends[self->first_kept - 1] : 0;
        if (fixed + (history_end - start) <= budget)
            break;
        self->first_kept++;
    }
    *dropped = self->first_kept;
    size_t start = self->first_kept > 0 ? self->turn_ends[self->first_kept - 1] : 0;

    buf_clear(out);
    buf_reserve(out, shared->head.len + system->len + (history_end - start) + user_len + 64 +
                         shared->tail.len);
    if (shared->inject_max_tokens && max_tokens > 0) {
        buf_printf(out, "{\"max_tokens\":%d,", max_tokens);
        buf_append(out, shared->head.data + 1, shared->head.len - 1);
    } else {
        buf_append(out, shared->head.data, shared->head.len);
    }
    bool any = system->len > 0;
    if (any)
        buf_append(out, system->data, system->len);
    if (history_end > start) /* each turn is led by ',': the first one's is left out */
        buf_append(out, self->history.data + start + (any ? 0 : 1),
                   history_end - start - (any ? 0 : 1));
    any = any || history_end > start;
    buf_append_str(out,
                   any ? ",{\"role\":\"user\",\"content\":" : "{\"role\":\"user\",\"content\":");
    buf_append(out, user, user_len);
    buf_append_char(out, '}');
    buf_append(out, shared->tail.data, shared->tail.len);
    self->turns_sent++;
    return self->turns_sent;
}

bool conversation_answered(conversation_t *self, const char *answer, size_t answer_len)
{
    int turn = self->turns_sent - 1;
    if (turn < 0)
        return false;
    buf_append_str(&self->history, ",{\"role\":\"user\",\"content\":");
    buf_append_str(&self->history, self->shared->turn_json[self->current_turn_json]);
    buf_append_str(&self->history, "},{\"role\":\"assistant\",\"content\":\"");
    json_escape_into(&self->history, answer ? answer : "", answer ? answer_len : 0);
    buf_append_str(&self->history, "\"}");
    self->turn_ends[turn] = self->history.len;
    return self->turns_sent < self->turn_count;
}

int64_t conversation_think_ns(conversation_t *self)
{
    int64_t ms = dist_sample(&self->shared->think_time_ms, 0, &self->rng);
    return (ms > 0 ? ms : 0) * NS_PER_MS;
}

int conversation_target(const conversation_t *self)
{
    return self->target;
}

void conversation_set_target(conversation_t *self, int target)
{
    self->target = target;
}

const char *conversation_id(const conversation_t *self)
{
    return self->id;
}

int64_t conversation_next_ns(const conversation_t *self)
{
    return self->next_ns;
}

void conversation_set_next_ns(conversation_t *self, int64_t next_ns)
{
    self->next_ns = next_ns;
}
