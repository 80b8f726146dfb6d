/*  sim_engine.c: vLLM's iteration-level scheduler in simulated time (sim_engine.h has
    the model). Hot path: step_begin/step_end allocate nothing; the batch array is sized
    once for max_num_seqs, the prefix cache's index once for its capacity. */
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
    int shared_blocks; /* leading blocks that are prefix cache entries it pins */
    int block_count;
    uint64_t block_hashes[]; /* chained hashes of its full blocks, prompt then output */
};

typedef struct {
    sim_seq_t *head, *tail;
    int count;
} seq_list_t;

/* One cached KV block: its chained hash, the sequences pinning it, and its place in the
   LRU list (only while nobody pins it: then it is free but still holds its KV). */
typedef struct {
    uint64_t hash;
    int32_t bucket_next; /* hash chain; the free list when unused */
    int32_t lru_prev, lru_next;
    int32_t refs;
} cache_entry_t;

/* The index of cached blocks is sized once: the pool's blocks, at most this many. 2^18
   blocks are 4 M tokens of reusable prefix at block size 16, more than a test or a demo
   reuses; the `instant` profile's 4 M blocks would otherwise cost ~130 MB of index. */
#define PREFIX_CACHE_MAX_BLOCKS (1 << 18)

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
    /* Prefix cache (see "prefix cache" below). free_blocks counts neither private nor
       cached blocks; cache_evictable of the cached ones can be taken back. */
    cache_entry_t *cache;
    int cache_capacity, cache_count, cache_evictable, cache_free_head;
    int32_t *cache_buckets;
    size_t cache_mask;
    int lru_head, lru_tail; /* least recently released first */
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

static void prefix_release(sim_engine_t *self, sim_seq_t *seq);

static void seq_free_blocks(sim_engine_t *self, sim_seq_t *seq)
{
    self->free_blocks += seq->blocks - seq->shared_blocks;
    prefix_release(self, seq);
    seq->blocks = 0;
    seq->computed = 0;
}

/* Tokens the sequence still has to run through the model before it emits again. */
static int seq_tokens_pending(const sim_seq_t *seq)
{
    return seq->prompt_tokens + seq->generated - seq->computed;
}

/* ---- prefix cache -------------------------------------------------------------- */
/*  vLLM's model (V1 KVCacheManager): a full block, once computed, is entered in the cache
    under its chained hash while its sequence still runs; a later prompt whose leading
    block hashes are found pins those blocks and skips their prefill. A block nobody pins
    is free but keeps its KV, in an LRU list: it is reclaimed only when the pool has no
    empty block left (eviction under pressure), least recently released first. A
    sequence releases its blocks last to first, so the tail of a prefix goes before its
    head, as in vLLM. Each touch (find, pin, release, evict) is O(1): a hash chain and a
    doubly linked list over one array sized at engine_new. */

#define NONE (-1)

static int32_t *cache_bucket(sim_engine_t *self, uint64_t hash)
{
    return &self->cache_buckets[(size_t)(hash ^ (hash >> 29)) & self->cache_mask];
}

static int cache_find(sim_engine_t *self, uint64_t hash)
{
    for (int32_t e = *cache_bucket(self, hash); e != NONE; e = self->cache[e].bucket_next)
        if (self->cache[e].hash == hash)
            return e;
    return NONE;
}

static void lru_unlink(sim_engine_t *self, int e)
{
    cache_entry_t *c = &self->cache[e];
    if (c->lru_prev != NONE)
        self->cache[c->lru_prev].lru_next = c->lru_next;
    else
        self->lru_head = c->lru_next;
    if (c->lru_next != NONE)
        self->cache[c->lru_next].lru_prev = c->lru_prev;
    else
        self->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NONE;
    self->cache_evictable--;
}

static void lru_push_back(sim_engine_t *self, int e)
{
    cache_entry_t *c = &self->cache[e];
    c->lru_prev = self->lru_tail;
    c->lru_next = NONE;
    if (self->lru_tail != NONE)
        self->cache[self->lru_tail].lru_next = e;
    else
        self->lru_head = e;
    self->lru_tail = e;
    self->cache_evictable++;
}

static void cache_pin(sim_engine_t *self, int e)
{
    if (self->cache[e].refs++ == 0)
        lru_unlink(self, e);
}

static void cache_release(sim_engine_t *self, int e)
{
    if (--self->cache[e].refs == 0)
        lru_push_back(self, e);
}

/* Drops the least recently released block: its KV block becomes empty. */
static void cache_evict_one(sim_engine_t *self)
{
    int e = self->lru_head;
    lru_unlink(self, e);
    int32_t *link = cache_bucket(self, self->cache[e].hash);
    while (*link != e)
        link = &self->cache[*link].bucket_next;
    *link = self->cache[e].bucket_next;
    self->cache[e].bucket_next = self->cache_free_head;
    self->cache_free_head = e;
    self->cache_count--;
    self->free_blocks++;
    self->stats.prefix_evicted_blocks_total++;
}

/* A new entry for `hash`, pinned once, holding a block the caller already took from the
   pool; NONE when the index is full of pinned blocks. */
static int cache_insert(sim_engine_t *self, uint64_t hash)
{
    if (self->cache_free_head == NONE) {
        if (self->lru_head == NONE)
            return NONE;
        cache_evict_one(self); /* its block empties; the new entry takes its slot */
    }
    int e = self->cache_free_head;
    cache_entry_t *c = &self->cache[e];
    self->cache_free_head = c->bucket_next;
    int32_t *bucket = cache_bucket(self, hash);
    *c = (cache_entry_t){hash, *bucket, NONE, NONE, 1};
    *bucket = e;
    self->cache_count++;
    return e;
}

/* Enters the sequence's newly computed full blocks: each one's private block becomes a
   cache entry, or, when an equal block is already cached (another sequence got there
   first), is given back and the cached one pinned instead. */
static void prefix_enter_computed(sim_engine_t *self, sim_seq_t *seq)
{
    int bs = self->profile.block_size_tokens;
    while (seq->shared_blocks < seq->block_count && seq->shared_blocks < seq->blocks &&
           (seq->shared_blocks + 1) * bs <= seq->computed) {
        uint64_t hash = seq->block_hashes[seq->shared_blocks];
        int e = cache_find(self, hash);
        if (e != NONE) {
            cache_pin(self, e);
            self->free_blocks++;
        } else if (cache_insert(self, hash) == NONE) {
            return; /* index full of pinned blocks: the rest stay private */
        }
        seq->shared_blocks++;
    }
}

/* Pins the longest cached run of the sequence's leading blocks that vLLM would look up
   (the tokens to compute minus one: the last one is always run) and returns its tokens. */
static int prefix_pin_cached(sim_engine_t *self, sim_seq_t *seq)
{
    int bs = self->profile.block_size_tokens;
    int lookup = (seq->prompt_tokens + seq->generated - 1) / bs;
    if (lookup > seq->block_count)
        lookup = seq->block_count;
    int hits = 0;
    while (hits < lookup) {
        int e = cache_find(self, seq->block_hashes[hits]);
        if (e == NONE)
            break;
        cache_pin(self, e);
        hits++;
    }
    seq->shared_blocks = hits;
    seq->blocks = hits;
    return hits * bs;
}

/* Releases the pinned entries, last block first (its LRU position ends up oldest). */
static void prefix_release(sim_engine_t *self, sim_seq_t *seq)
{
    for (int i = seq->shared_blocks - 1; i >= 0; i--)
        cache_release(self, cache_find(self, seq->block_hashes[i]));
    seq->shared_blocks = 0;
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
    self->cache_free_head = self->lru_head = self->lru_tail = NONE;
    if (prefix_caching) {
        int capacity = profile->total_kv_blocks < PREFIX_CACHE_MAX_BLOCKS ? profile->total_kv_blocks
                                                                          : PREFIX_CACHE_MAX_BLOCKS;
        size_t buckets = 16;
        while (buckets < (size_t)capacity * 2)
            buckets *= 2;
        self->cache_capacity = capacity;
        self->cache = calloc((size_t)capacity, sizeof *self->cache);
        self->cache_buckets = malloc(buckets * sizeof *self->cache_buckets);
        self->cache_mask = buckets - 1;
        if (self->cache_buckets)
            memset(self->cache_buckets, 0xff, buckets * sizeof *self->cache_buckets); /* NONE */
        for (int e = capacity - 1; self->cache && e >= 0; e--) {
            self->cache[e].bucket_next = self->cache_free_head;
            self->cache_free_head = e;
        }
    }
    if (!self->batch || (prefix_caching && (!self->cache || !self->cache_buckets))) {
        free(self->batch);
        free(self->cache);
        free(self->cache_buckets);
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
    free(self->cache);
    free(self->cache_buckets);
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
    seq_free_blocks(self, seq);             /* its computed full blocks stay cached, as in vLLM */
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
    if (need > self->free_blocks + self->cache_evictable)
        return false;
    while (need > self->free_blocks)
        cache_evict_one(self); /* under pressure: the least recently used cached block */
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
        if (self->prefix_caching)
            cached = prefix_pin_cached(self, seq);
        seq->computed = cached;
        int tokens = seq_tokens_pending(seq);
        if (tokens > *budget)
            tokens = *budget;
        if (!seq_reserve(self, seq, seq->computed + tokens)) {
            seq_free_blocks(self, seq);
            break; /* head-of-line: later ones wait behind it, as in vLLM */
        }
        if (!seq->admitted_once) {
            seq->admitted_once = true;
            self->stats.prompt_tokens_total += seq->prompt_tokens;
            if (self->prefix_caching) {
                self->stats.prefix_query_tokens_total += seq->prompt_tokens;
                self->stats.prefix_hit_tokens_total += cached;
            }
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
        if (self->prefix_caching)
            prefix_enter_computed(self, seq);
        if (seq_tokens_pending(seq) > 0)
            continue; /* a prefill chunk: no token yet */
        seq->generated++;
        self->stats.generation_tokens_total++;
        bool finished = seq->generated >= seq->output_tokens;
        void *user = seq->user;
        int index = seq->generated;
        if (finished) {
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
    /* As vLLM counts usage: cached blocks nobody pins are free (they can be reclaimed). */
    out->used_blocks = self->profile.total_kv_blocks - self->free_blocks - self->cache_evictable;
    out->prefix_cached_blocks = self->cache_count;
    out->total_blocks = self->profile.total_kv_blocks;
}

int sim_seq_generated(const sim_seq_t *seq)
{
    return seq->generated;
}
