/*  sim_engine.c: vLLM's iteration-level scheduler in simulated time (sim_engine.h has
    the model). Hot path: step_begin/step_end allocate nothing; the batch array is sized
    once for max_num_seqs. */
#include "simulator/sim_engine.h"

#include <stdlib.h>
#include <string.h>

typedef enum { SEQ_WAITING, SEQ_RUNNING } seq_state_t;

struct _sim_seq_t {
    sim_seq_t *prev, *next; /* in the waiting or the running list */
    seq_state_t state;
    void *user;
    int prompt_tokens;
    int output_tokens; /* target */
    int generated;     /* tokens emitted */
    int computed;      /* tokens whose KV is in the cache */
    int blocks;        /* KV blocks held */
    int scheduled;     /* tokens scheduled in the step under way */
    int step_slot;     /* index in the batch array, -1 when not in it */
    bool admitted_once;
    int block_count;
    uint64_t block_hashes[]; /* chained hashes of full prompt blocks */
};

typedef struct {
    sim_seq_t *head, *tail;
    int count;
} seq_list_t;

struct _sim_engine_t {
    sim_profile_t profile; /* copied: the engine outlives nobody's preset */
    bool prefix_caching;
    sim_engine_callbacks_t callbacks;
    seq_list_t waiting, running;
    int free_blocks;
    sim_seq_t **batch; /* the step under way, max_num_seqs slots */
    int batch_len;
    bool in_step;
    sim_engine_stats_t stats;
    /* Prefix cache: direct-mapped table of block hashes; a collision evicts. */
    uint64_t *prefix_table;
    size_t prefix_mask;
};

/* ---- lists --------------------------------------------------------------------- */

static void list_push_back(seq_list_t *list, sim_seq_t *seq)
{
    seq->prev = list->tail;
    seq->next = NULL;
    if (list->tail)
        list->tail->next = seq;
    else
        list->head = seq;
    list->tail = seq;
    list->count++;
}

static void list_push_front(seq_list_t *list, sim_seq_t *seq)
{
    seq->prev = NULL;
    seq->next = list->head;
    if (list->head)
        list->head->prev = seq;
    else
        list->tail = seq;
    list->head = seq;
    list->count++;
}

static void list_remove(seq_list_t *list, sim_seq_t *seq)
{
    if (seq->prev)
        seq->prev->next = seq->next;
    else
        list->head = seq->next;
    if (seq->next)
        seq->next->prev = seq->prev;
    else
        list->tail = seq->prev;
    seq->prev = seq->next = NULL;
    list->count--;
}

/* ---- KV blocks ----------------------------------------------------------------- */

static int blocks_for_tokens(const sim_engine_t *self, int tokens)
{
    return (tokens + self->profile.block_size_tokens - 1) / self->profile.block_size_tokens;
}

static void seq_free_blocks(sim_engine_t *self, sim_seq_t *seq)
{
    self->free_blocks += seq->blocks;
    seq->blocks = 0;
    seq->computed = 0;
}

/* Tokens the sequence still has to run through the model before it emits again. */
static int seq_tokens_pending(const sim_seq_t *seq)
{
    return seq->prompt_tokens + seq->generated - seq->computed;
}

/* ---- prefix cache -------------------------------------------------------------- */

static size_t prefix_slot(const sim_engine_t *self, uint64_t hash)
{
    return (size_t)(hash ^ (hash >> 29)) & self->prefix_mask;
}

static void prefix_remember(sim_engine_t *self, const sim_seq_t *seq)
{
    for (int i = 0; i < seq->block_count; i++)
        self->prefix_table[prefix_slot(self, seq->block_hashes[i])] = seq->block_hashes[i] | 1;
}

/* Leading prompt tokens already cached. At least one token is always computed, so a
   fully cached prompt still runs one step, as in vLLM. */
static int prefix_cached_tokens(const sim_engine_t *self, const sim_seq_t *seq)
{
    int hit_blocks = 0;
    for (int i = 0; i < seq->block_count; i++) {
        uint64_t want = seq->block_hashes[i] | 1;
        if (self->prefix_table[prefix_slot(self, seq->block_hashes[i])] != want)
            break;
        hit_blocks++;
    }
    int tokens = hit_blocks * self->profile.block_size_tokens;
    if (tokens >= seq->prompt_tokens)
        tokens = seq->prompt_tokens - 1;
    return tokens > 0 ? tokens : 0;
}

/* ---- lifecycle ----------------------------------------------------------------- */

sim_engine_t *sim_engine_new(const sim_profile_t *profile, bool prefix_caching,
                             sim_engine_callbacks_t callbacks)
{
    sim_engine_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->profile = *profile;
    self->prefix_caching = prefix_caching;
    self->callbacks = callbacks;
    self->free_blocks = profile->total_kv_blocks;
    self->batch = calloc((size_t)profile->max_num_seqs, sizeof *self->batch);
    size_t table = 1024;
    while (prefix_caching && table < (size_t)profile->total_kv_blocks * 2)
        table *= 2;
    self->prefix_table = prefix_caching ? calloc(table, sizeof *self->prefix_table) : NULL;
    self->prefix_mask = table - 1;
    if (!self->batch || (prefix_caching && !self->prefix_table)) {
        free(self->batch);
        free(self->prefix_table);
        free(self);
        return NULL;
    }
    self->stats.total_blocks = profile->total_kv_blocks;
    return self;
}

void sim_engine_destroy(sim_engine_t **self_p)
{
    sim_engine_t *self = *self_p;
    if (!self)
        return;
    seq_list_t *lists[] = {&self->waiting, &self->running};
    for (int l = 0; l < 2; l++) {
        while (lists[l]->head) {
            sim_seq_t *seq = lists[l]->head;
            list_remove(lists[l], seq);
            free(seq);
        }
    }
    free(self->batch);
    free(self->prefix_table);
    free(self);
    *self_p = NULL;
}

bool sim_engine_fits(const sim_engine_t *self, int prompt_tokens, int output_tokens)
{
    if (prompt_tokens < 1 || output_tokens < 1)
        return false;
    int64_t total = (int64_t)prompt_tokens + output_tokens;
    if (total > self->profile.max_model_len)
        return false;
    return blocks_for_tokens(self, (int)total) <= self->profile.total_kv_blocks;
}

sim_seq_t *sim_engine_submit(sim_engine_t *self, void *user, int prompt_tokens, int output_tokens,
                             const uint64_t *block_hashes, int block_count)
{
    if (!sim_engine_fits(self, prompt_tokens, output_tokens))
        return NULL;
    if (!block_hashes || !self->prefix_caching)
        block_count = 0;
    sim_seq_t *seq = calloc(1, sizeof *seq + (size_t)block_count * sizeof(uint64_t));
    if (!seq)
        return NULL;
    seq->user = user;
    seq->prompt_tokens = prompt_tokens;
    seq->output_tokens = output_tokens;
    seq->step_slot = -1;
    seq->block_count = block_count;
    if (block_count)
        memcpy(seq->block_hashes, block_hashes, (size_t)block_count * sizeof(uint64_t));
    seq->state = SEQ_WAITING;
    list_push_back(&self->waiting, seq);
    return seq;
}

void sim_engine_abort(sim_engine_t *self, sim_seq_t *seq)
{
    if (!seq)
        return;
    if (seq->step_slot >= 0)
        self->batch[seq->step_slot] = NULL; /* step_end skips it */
    seq_free_blocks(self, seq);
    list_remove(seq->state == SEQ_RUNNING ? &self->running : &self->waiting, seq);
    free(seq);
}

/* ---- scheduling ---------------------------------------------------------------- */

static void seq_preempt(sim_engine_t *self, sim_seq_t *seq)
{
    if (seq->step_slot >= 0) {
        self->batch[seq->step_slot] = NULL;
        seq->step_slot = -1;
        seq->scheduled = 0;
    }
    seq_free_blocks(self, seq);
    list_remove(&self->running, seq);
    seq->state = SEQ_WAITING;
    list_push_front(&self->waiting, seq);
    self->stats.preemptions_total++;
}

static void batch_add(sim_engine_t *self, sim_seq_t *seq, int tokens)
{
    seq->scheduled = tokens;
    seq->step_slot = self->batch_len;
    self->batch[self->batch_len++] = seq;
}

/* Grows seq's blocks to hold `tokens`; false when the cache has no room. */
static bool seq_reserve(sim_engine_t *self, sim_seq_t *seq, int tokens)
{
    int need = blocks_for_tokens(self, tokens) - seq->blocks;
    if (need <= 0)
        return true;
    if (need > self->free_blocks)
        return false;
    self->free_blocks -= need;
    seq->blocks += need;
    return true;
}

/* Step 1: the running sequences, preempting from the back when blocks run out. Returns
   true if anything was preempted. */
static bool schedule_running(sim_engine_t *self, int *budget)
{
    bool preempted = false;
    sim_seq_t *seq = self->running.head;
    while (seq && *budget > 0) {
        sim_seq_t *next = seq->next;
        int tokens = seq_tokens_pending(seq);
        if (tokens > *budget)
            tokens = *budget;
        bool placed = false;
        while (!placed) {
            if (seq_reserve(self, seq, seq->computed + tokens)) {
                placed = true;
                break;
            }
            sim_seq_t *victim = self->running.tail;
            preempted = true;
            if (victim == seq) { /* nobody left to evict: this one waits */
                seq_preempt(self, seq);
                break;
            }
            if (victim == next)
                next = NULL; /* the victim was the next to visit */
            seq_preempt(self, victim);
        }
        if (placed) {
            batch_add(self, seq, tokens);
            *budget -= tokens;
        }
        seq = next;
    }
    return preempted;
}

/* Step 2: admit waiting sequences in FIFO order. */
static void schedule_waiting(sim_engine_t *self, int *budget)
{
    while (self->waiting.head && *budget > 0 && self->running.count < self->profile.max_num_seqs) {
        sim_seq_t *seq = self->waiting.head;
        int cached = 0;
        if (self->prefix_caching && seq->generated == 0)
            cached = prefix_cached_tokens(self, seq);
        seq->computed = cached;
        int tokens = seq_tokens_pending(seq);
        if (tokens > *budget)
            tokens = *budget;
        if (!seq_reserve(self, seq, seq->computed + tokens)) {
            seq->computed = 0;
            break; /* head-of-line: later ones wait behind it, as in vLLM */
        }
        if (!seq->admitted_once) {
            seq->admitted_once = true;
            self->stats.prompt_tokens_total += seq->prompt_tokens;
            self->stats.prefix_hit_tokens_total += cached;
            if (self->callbacks.on_admit)
                self->callbacks.on_admit(seq->user, self->callbacks.arg);
        }
        list_remove(&self->waiting, seq);
        seq->state = SEQ_RUNNING;
        list_push_back(&self->running, seq);
        batch_add(self, seq, tokens);
        *budget -= tokens;
    }
}

int64_t sim_engine_step_begin(sim_engine_t *self)
{
    if (self->in_step)
        return -1;
    self->batch_len = 0;
    int budget = self->profile.max_num_batched_tokens;
    bool preempted = schedule_running(self, &budget);
    if (!preempted)
        schedule_waiting(self, &budget);

    int decode_seqs = 0;
    int64_t prefill_tokens = 0;
    int64_t context_tokens = 0;
    int scheduled = 0;
    for (int i = 0; i < self->batch_len; i++) {
        sim_seq_t *seq = self->batch[i];
        if (!seq)
            continue;
        scheduled++;
        if (seq->scheduled == 1 && seq->generated > 0)
            decode_seqs++;
        else
            prefill_tokens += seq->scheduled;
        context_tokens += seq->computed + seq->scheduled;
    }
    if (scheduled == 0)
        return -1;
    self->in_step = true;
    self->stats.steps_total++;
    const sim_profile_t *p = &self->profile;
    return p->step_base_ns + p->decode_seq_ns * decode_seqs + p->prefill_token_ns * prefill_tokens +
           (int64_t)(p->context_token_ns * (double)context_tokens);
}

void sim_engine_step_end(sim_engine_t *self)
{
    if (!self->in_step)
        return;
    self->in_step = false;
    for (int i = 0; i < self->batch_len; i++) {
        sim_seq_t *seq = self->batch[i];
        self->batch[i] = NULL;
        if (!seq)
            continue; /* aborted or preempted during the step */
        seq->step_slot = -1;
        seq->computed += seq->scheduled;
        seq->scheduled = 0;
        if (seq_tokens_pending(seq) > 0)
            continue; /* a prefill chunk: no token yet */
        seq->generated++;
        self->stats.generation_tokens_total++;
        bool finished = seq->generated >= seq->output_tokens;
        void *user = seq->user;
        int index = seq->generated;
        if (finished) {
            if (self->prefix_caching)
                prefix_remember(self, seq);
            seq_free_blocks(self, seq);
            list_remove(&self->running, seq);
            free(seq);
        }
        if (self->callbacks.on_token)
            self->callbacks.on_token(user, index, finished, self->callbacks.arg);
    }
    self->batch_len = 0;
}

bool sim_engine_has_work(const sim_engine_t *self)
{
    return self->running.count > 0 || self->waiting.count > 0;
}

void sim_engine_stats(const sim_engine_t *self, sim_engine_stats_t *out)
{
    *out = self->stats;
    out->running = self->running.count;
    out->waiting = self->waiting.count;
    out->used_blocks = self->profile.total_kv_blocks - self->free_blocks;
    out->total_blocks = self->profile.total_kv_blocks;
}

int sim_seq_generated(const sim_seq_t *seq)
{
    return seq->generated;
}
