/*  sim_engine.h: one simulated vLLM engine (a GPU replica), in simulated time.

    Pure and deterministic: no clock, no I/O, no randomness. The caller owns time; a
    step is split in two so that tokens leave when the step's GPU work would end:

        int64_t step_ns = sim_engine_step_begin(engine);   // schedules a batch
        if (step_ns >= 0) { ...wait step_ns...; sim_engine_step_end(engine); }

    step_begin does what vLLM's scheduler does each iteration:
      1. running sequences first, in admission order: a decoding one needs 1 token, a
         prefilling one the rest of its prompt (chunked to the remaining token budget);
         each needs ceil(tokens / block_size) KV blocks. When blocks run out, the most
         recently admitted running sequence is preempted (its blocks freed, its KV to
         be recomputed) and goes back to the head of the waiting queue;
      2. then, if nothing was preempted, waiting sequences in FIFO order while fewer than
         max_num_seqs run, token budget (max_num_batched_tokens) remains and their
         blocks fit; the head of the queue that does not fit blocks the others.
    The step costs base + decode_seq * decoding seqs + prefill_token * prefill tokens +
    context_token * KV tokens the batch attends to (sim.h). step_end commits the work:
    each sequence whose KV caught up with its tokens emits one token (the last prefill
    chunk emits the first token, as in vLLM), and finished sequences free their blocks.

    Prefix caching (optional), as vLLM V1 does it: a full block, once computed, enters
    the cache under the chained hash of its tokens (prompt and output alike) and is shared
    by every sequence whose leading blocks hash the same; a new prompt pins its longest
    cached run of leading blocks (up to its tokens minus one) and skips their prefill.
    Cached blocks live in the KV pool: one nobody pins is free but keeps its KV, and the
    least recently released is reclaimed only when no empty block is left (LRU eviction
    under pressure). Every touch is O(1); the index is sized once (sim_engine.c).

    Callbacks (on_token from step_end, on_admit from step_begin) run after the engine's state is
   consistent; they must not call back into the engine (defer aborts). Hot path: steps allocate
   nothing; submit allocates one sequence.
*/
#ifndef SURGE_SIM_ENGINE_H
#define SURGE_SIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "simulator/sim.h"

typedef struct _sim_engine_t sim_engine_t;
typedef struct _sim_seq_t sim_seq_t; /* a request inside the engine; opaque */

typedef struct {
    /* One token for `user`; index counts from 1. `finished` is set on its last token,
       after which the sequence is gone (its handle is invalid). */
    void (*on_token)(void *user, int token_index, bool finished, void *arg);
    /* The request left the waiting queue for the first time (called from step_begin;
       optional). Its queue time ends here. */
    void (*on_admit)(void *user, void *arg);
    void *arg;
} sim_engine_callbacks_t;

typedef struct {
    int running;
    int waiting;
    int used_blocks;
    int total_blocks;
    int64_t preemptions_total;
    int64_t prompt_tokens_total;         /* prompt tokens of admitted requests (once each) */
    int64_t generation_tokens_total;     /* tokens emitted */
    int64_t prefix_query_tokens_total;   /* prompt tokens looked up in the prefix cache */
    int64_t prefix_hit_tokens_total;     /* of those, found cached: prefill skipped */
    int64_t prefix_evicted_blocks_total; /* cached blocks reclaimed under pressure */
    int prefix_cached_blocks;            /* blocks in the cache now, pinned or not */
    int64_t steps_total;
} sim_engine_stats_t;

sim_engine_t *sim_engine_new(const sim_profile_t *profile, bool prefix_caching,
                             sim_engine_callbacks_t callbacks);
void sim_engine_destroy(sim_engine_t **self_p);

/* Queues a request. output_tokens >= 1 is how many tokens it will emit (the caller drew
   it); block_hashes (borrowed, copied) are the chained hashes of its full blocks, prompt
   then output (the output as a next turn would resend it), used only with prefix caching
   (may be NULL; fewer than the blocks is fine: the rest is never cached). Returns a handle valid
   until its last token or sim_engine_abort. prompt_tokens + output_tokens must fit
   sim_engine_fits(). */
sim_seq_t *sim_engine_submit(sim_engine_t *self, void *user, int prompt_tokens, int output_tokens,
                             const uint64_t *block_hashes, int block_count);
/* True when a request of that size can ever run (KV capacity and max_model_len). */
bool sim_engine_fits(const sim_engine_t *self, int prompt_tokens, int output_tokens);
/* Removes a request (client gone); frees its blocks. No callback. Not from a callback. */
void sim_engine_abort(sim_engine_t *self, sim_seq_t *seq);

/* Schedules the next batch; returns its duration in ns (>= 0), or -1 if there is no work.
   A step already begun must be ended before another begins. */
int64_t sim_engine_step_begin(sim_engine_t *self);
/* Commits the begun step: emits tokens through the callbacks. */
void sim_engine_step_end(sim_engine_t *self);

bool sim_engine_has_work(const sim_engine_t *self);
void sim_engine_stats(const sim_engine_t *self, sim_engine_stats_t *out);
/* Tokens the request has had emitted so far (for tests). */
int sim_seq_generated(const sim_seq_t *seq);

#endif
