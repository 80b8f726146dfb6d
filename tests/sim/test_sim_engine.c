/*  test_sim_engine.c: the engine model's properties, in simulated time (no HTTP, no clock). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "simulator/sim_engine.h"
#include "simulator/sim_text.h"

/* ---- a driver: arrivals in simulated time, steps back to back ----------------- */

typedef struct {
    int64_t arrival_ns, admit_ns, first_ns, last_ns;
    int prompt, output, tokens;
    bool in_order; /* token indices arrived 1, 2, 3, ... */
    sim_seq_t *seq;
} req_t;

typedef struct {
    sim_engine_t *engine;
    int64_t now_ns;
    int finished;
    uint64_t trace_hash;
    int max_running, max_waiting, max_used_blocks, total_blocks;
    double max_kv_usage;
    int64_t max_step_ns;
} driver_t;

static driver_t *current;

static void on_token(void *user, int index, bool finished, void *arg)
{
    driver_t *d = arg;
    req_t *r = user;
    if (index != r->tokens + 1)
        r->in_order = false;
    r->tokens = index;
    if (index == 1)
        r->first_ns = d->now_ns;
    r->last_ns = d->now_ns;
    if (finished) {
        r->seq = NULL;
        d->finished++;
    }
    d->trace_hash = (d->trace_hash ^ (uint64_t)d->now_ns ^ ((uint64_t)(uintptr_t)index << 40)) *
                    0x100000001b3ULL;
}

static void on_admit(void *user, void *arg)
{
    driver_t *d = arg;
    ((req_t *)user)->admit_ns = d->now_ns;
}

static void driver_init(driver_t *d, const sim_profile_t *p, bool prefix)
{
    memset(d, 0, sizeof *d);
    sim_engine_callbacks_t cb = {.on_token = on_token, .on_admit = on_admit, .arg = d};
    d->engine = sim_engine_new(p, prefix, cb);
    d->trace_hash = 0xcbf29ce484222325ULL;
    current = d;
}

static void driver_observe(driver_t *d)
{
    sim_engine_stats_t st;
    sim_engine_stats(d->engine, &st);
    if (st.running > d->max_running)
        d->max_running = st.running;
    if (st.waiting > d->max_waiting)
        d->max_waiting = st.waiting;
    if (st.used_blocks > d->max_used_blocks)
        d->max_used_blocks = st.used_blocks;
    d->total_blocks = st.total_blocks;
    double usage = (double)st.used_blocks / st.total_blocks;
    if (usage > d->max_kv_usage)
        d->max_kv_usage = usage;
}

/* Runs every request to completion; arrivals must be sorted. Bounded by max_steps. */
static void driver_run(driver_t *d, req_t *reqs, int n, int64_t max_steps)
{
    int next = 0;
    for (int64_t steps = 0; d->finished < n && steps < max_steps; steps++) {
        if (!sim_engine_has_work(d->engine)) {
            if (next >= n)
                break;
            if (reqs[next].arrival_ns > d->now_ns)
                d->now_ns = reqs[next].arrival_ns;
        }
        while (next < n && reqs[next].arrival_ns <= d->now_ns) {
            req_t *r = &reqs[next++];
            r->in_order = true;
            r->seq = sim_engine_submit(d->engine, r, r->prompt, r->output, NULL, 0);
        }
        int64_t step_ns = sim_engine_step_begin(d->engine);
        driver_observe(d);
        if (step_ns < 0)
            continue;
        if (step_ns > d->max_step_ns)
            d->max_step_ns = step_ns;
        d->now_ns += step_ns;
        sim_engine_step_end(d->engine);
    }
}

/* Poisson arrivals at rate_per_s, fixed sizes. */
static req_t *make_poisson(int n, double rate_per_s, int prompt, int output, uint64_t seed)
{
    req_t *reqs = calloc((size_t)n, sizeof *reqs);
    uint64_t rng = seed;
    double t_s = 0;
    for (int i = 0; i < n; i++) {
        t_s += -log(rng_unit_positive(&rng)) / rate_per_s;
        reqs[i].arrival_ns = (int64_t)(t_s * 1e9);
        reqs[i].prompt = prompt;
        reqs[i].output = output;
    }
    return reqs;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double ttft_p99_ms(const req_t *reqs, int n)
{
    int64_t *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = reqs[i].first_ns - reqs[i].arrival_ns;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int idx = (int)ceil(0.99 * n) - 1;
    double ms = (double)v[idx] / 1e6;
    free(v);
    return ms;
}

/* A profile whose step cost is easy to reason about. */
static sim_profile_t simple_profile(void)
{
    sim_profile_t p = {.name = "test",
                       .model = "test",
                       .block_size_tokens = 16,
                       .total_kv_blocks = 64,
                       .max_num_seqs = 4,
                       .max_num_batched_tokens = 100,
                       .max_model_len = 1024,
                       .step_base_ns = 1000,
                       .decode_seq_ns = 0,
                       .prefill_token_ns = 0,
                       .context_token_ns = 0,
                       .output_mean_tokens = 8};
    return p;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_same_arrivals_give_identical_token_trace(void)
{
    const sim_profile_t *tiny = sim_profile_find("tiny");
    REQUIRE(tiny);
    uint64_t hashes[3];
    uint64_t seeds[3] = {7, 7, 8};
    for (int k = 0; k < 3; k++) {
        driver_t d;
        driver_init(&d, tiny, false);
        req_t *reqs = make_poisson(200, 8.0, 60, 24, seeds[k]);
        driver_run(&d, reqs, 200, 1000000);
        CHECK_INT_EQ(d.finished, 200);
        hashes[k] = d.trace_hash;
        sim_engine_destroy(&d.engine);
        free(reqs);
    }
    CHECK(hashes[0] == hashes[1]);
    CHECK(hashes[0] != hashes[2]); /* the trace does depend on the arrivals */
}

static void test_batch_never_exceeds_max_num_seqs(void)
{
    sim_profile_t p = simple_profile();
    driver_t d;
    driver_init(&d, &p, false);
    req_t reqs[20] = {0};
    for (int i = 0; i < 20; i++) {
        reqs[i].prompt = 10;
        reqs[i].output = 5;
    }
    driver_run(&d, reqs, 20, 10000);
    CHECK_INT_EQ(d.finished, 20);
    CHECK_INT_EQ(d.max_running, 4);
    CHECK(d.max_waiting >= 15);
    for (int i = 0; i < 20; i++)
        CHECK(reqs[i].tokens == 5 && reqs[i].in_order);
    sim_engine_destroy(&d.engine);
}

static void test_chunked_prefill_respects_token_budget(void)
{
    /* Step cost = prefill tokens exactly: it shows how many tokens each step ran. */
    sim_profile_t p = simple_profile();
    p.step_base_ns = 0;
    p.prefill_token_ns = 1;
    p.max_num_batched_tokens = 100;
    driver_t d;
    driver_init(&d, &p, false);
    req_t r = {.prompt = 250, .output = 3};
    r.seq = sim_engine_submit(d.engine, &r, r.prompt, r.output, NULL, 0);
    REQUIRE(r.seq);
    int64_t costs[4];
    for (int i = 0; i < 3; i++) {
        costs[i] = sim_engine_step_begin(d.engine);
        sim_engine_step_end(d.engine);
        CHECK_INT_EQ(r.tokens, i == 2 ? 1 : 0); /* the last chunk emits the first token */
    }
    CHECK_INT_EQ(costs[0], 100);
    CHECK_INT_EQ(costs[1], 100);
    CHECK_INT_EQ(costs[2], 50);
    costs[3] = sim_engine_step_begin(d.engine); /* decode: no prefill tokens */
    CHECK_INT_EQ(costs[3], 0);
    sim_engine_step_end(d.engine);
    CHECK_INT_EQ(r.tokens, 2);
    sim_engine_destroy(&d.engine);
}

static void test_kv_blocks_are_ceil_of_tokens_over_block_size(void)
{
    sim_profile_t p = simple_profile();
    driver_t d;
    driver_init(&d, &p, false);
    req_t r = {.prompt = 30, .output = 40};
    r.seq = sim_engine_submit(d.engine, &r, r.prompt, r.output, NULL, 0);
    REQUIRE(r.seq);
    while (r.tokens < r.output) {
        int generated = r.tokens;
        REQUIRE(sim_engine_step_begin(d.engine) >= 0);
        sim_engine_stats_t st;
        sim_engine_stats(d.engine, &st);
        /* during the step that computes token generated+1 */
        int want = (r.prompt + generated + p.block_size_tokens - 1) / p.block_size_tokens;
        CHECK_MSG(st.used_blocks == want, "after %d tokens: %d blocks, want %d", generated,
                  st.used_blocks, want);
        sim_engine_step_end(d.engine);
    }
    sim_engine_stats_t st;
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.used_blocks, 0); /* a finished sequence frees everything */
    CHECK_INT_EQ(st.generation_tokens_total, 40);
    CHECK_INT_EQ(st.prompt_tokens_total, 30);
    sim_engine_destroy(&d.engine);
}

static void test_full_kv_cache_preempts_and_every_request_still_completes(void)
{
    /* 8 sequences of 40 + 60 tokens need 7 blocks each at the end: 56 > 24 blocks. */
    sim_profile_t p = simple_profile();
    p.total_kv_blocks = 24;
    p.max_num_seqs = 8;
    p.max_num_batched_tokens = 400;
    driver_t d;
    driver_init(&d, &p, false);
    req_t reqs[8] = {0};
    for (int i = 0; i < 8; i++) {
        reqs[i].prompt = 40;
        reqs[i].output = 60;
    }
    driver_run(&d, reqs, 8, 100000);
    sim_engine_stats_t st;
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(d.finished, 8);
    CHECK(st.preemptions_total > 0);
    CHECK(d.max_used_blocks <= 24);
    CHECK_INT_EQ(st.used_blocks, 0);
    for (int i = 0; i < 8; i++)
        CHECK(reqs[i].tokens == 60 && reqs[i].in_order);
    CHECK_INT_EQ(st.generation_tokens_total, 8 * 60);
    sim_engine_destroy(&d.engine);
}

static void test_requests_wait_when_no_blocks_are_free(void)
{
    sim_profile_t p = simple_profile();
    p.total_kv_blocks = 8;
    p.max_num_seqs = 100;
    p.max_num_batched_tokens = 10000;
    driver_t d;
    driver_init(&d, &p, false);
    req_t reqs[10] = {0};
    for (int i = 0; i < 10; i++) {
        reqs[i].prompt = 30; /* 2 blocks each: 4 fit */
        reqs[i].output = 2;
        reqs[i].seq = sim_engine_submit(d.engine, &reqs[i], 30, 2, NULL, 0);
        reqs[i].in_order = true;
    }
    REQUIRE(sim_engine_step_begin(d.engine) >= 0);
    sim_engine_stats_t st;
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.running, 4);
    CHECK_INT_EQ(st.waiting, 6);
    CHECK_INT_EQ(st.used_blocks, 8);
    sim_engine_step_end(d.engine);
    for (int steps = 0; steps < 1000 && sim_engine_step_begin(d.engine) >= 0; steps++)
        sim_engine_step_end(d.engine);
    CHECK_INT_EQ(d.finished, 10);
    sim_engine_destroy(&d.engine);
}

static void test_request_larger_than_the_cache_is_refused(void)
{
    sim_profile_t p = simple_profile();
    driver_t d;
    driver_init(&d, &p, false);
    CHECK(!sim_engine_fits(d.engine, 1000, 100)); /* > max_model_len */
    CHECK(!sim_engine_fits(d.engine, 0, 1));      /* nothing to run */
    p.total_kv_blocks = 2;
    sim_engine_t *small = sim_engine_new(&p, false, (sim_engine_callbacks_t){0});
    CHECK(!sim_engine_fits(small, 30, 10)); /* 3 blocks > 2 */
    CHECK(sim_engine_submit(small, NULL, 30, 10, NULL, 0) == NULL);
    CHECK(sim_engine_fits(small, 20, 10));
    sim_engine_destroy(&small);
    sim_engine_destroy(&d.engine);
}

static void test_abort_frees_blocks_and_emits_nothing(void)
{
    sim_profile_t p = simple_profile();
    driver_t d;
    driver_init(&d, &p, false);
    req_t a = {.prompt = 50, .output = 100, .in_order = true};
    req_t b = {.prompt = 50, .output = 3, .in_order = true};
    a.seq = sim_engine_submit(d.engine, &a, a.prompt, a.output, NULL, 0);
    b.seq = sim_engine_submit(d.engine, &b, b.prompt, b.output, NULL, 0);
    REQUIRE(sim_engine_step_begin(d.engine) >= 0);
    sim_engine_abort(d.engine, a.seq); /* mid-step, as when a client leaves */
    sim_engine_step_end(d.engine);
    CHECK_INT_EQ(a.tokens, 0);
    CHECK_INT_EQ(b.tokens, 1);
    while (sim_engine_step_begin(d.engine) >= 0)
        sim_engine_step_end(d.engine);
    sim_engine_stats_t st;
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(b.tokens, 3);
    CHECK_INT_EQ(st.used_blocks, 0);
    CHECK_INT_EQ(st.running + st.waiting, 0);
    sim_engine_destroy(&d.engine);
}

/* ---- prefix caching ------------------------------------------------------------- */

/* A completion prompt's block hashes, as sim_http makes them: BOS, then the text. */
static int hash_completion_prompt(const sim_profile_t *p, const char *text, uint64_t *out, int max)
{
    sim_block_hasher_t h;
    sim_block_hasher_init(&h, p->block_size_tokens, out, max);
    sim_block_hasher_push(&h, SIM_TOKEN_BOS);
    sim_block_hasher_push_text(&h, text, strlen(text));
    sim_block_hasher_end_text(&h);
    return h.count;
}

/* Runs one request alone to its end; returns its TTFT in simulated ns. */
static int64_t run_alone(driver_t *d, int prompt, int output, const uint64_t *hashes, int count)
{
    req_t r = {.prompt = prompt, .output = output, .in_order = true, .arrival_ns = d->now_ns};
    r.seq = sim_engine_submit(d->engine, &r, prompt, output, hashes, count);
    CHECK(r.seq != NULL);
    for (int64_t step_ns; (step_ns = sim_engine_step_begin(d->engine)) >= 0;) {
        d->now_ns += step_ns;
        sim_engine_step_end(d->engine);
        driver_observe(d);
    }
    CHECK_INT_EQ(r.tokens, output);
    return r.first_ns - r.arrival_ns;
}

static void test_prefix_caching_skips_prefill_of_a_repeated_prompt(void)
{
    sim_profile_t p = simple_profile();
    p.step_base_ns = 0;
    p.prefill_token_ns = 1;
    p.max_num_batched_tokens = 1000;
    const char *text = "The same long system prompt, repeated by every request of this "
                       "conversation so that its KV blocks can be reused from the cache.";
    uint64_t hashes[16];
    int count = hash_completion_prompt(&p, text, hashes, 16);
    int prompt = 1 + sim_text_tokens(strlen(text));
    REQUIRE(count == prompt / p.block_size_tokens && count >= 1);
    int expected_hit = (prompt - 1) / p.block_size_tokens * p.block_size_tokens;
    for (int on = 0; on <= 1; on++) {
        driver_t d;
        driver_init(&d, &p, on);
        int64_t first_cost[2];
        for (int k = 0; k < 2; k++) {
            req_t r = {.prompt = prompt, .output = 2};
            r.seq = sim_engine_submit(d.engine, &r, prompt, 2, hashes, count);
            first_cost[k] = sim_engine_step_begin(d.engine);
            sim_engine_step_end(d.engine);
            while (sim_engine_step_begin(d.engine) >= 0)
                sim_engine_step_end(d.engine);
        }
        sim_engine_stats_t st;
        sim_engine_stats(d.engine, &st);
        if (on) {
            CHECK_INT_EQ(first_cost[1], first_cost[0] - expected_hit);
            CHECK_INT_EQ(st.prefix_hit_tokens_total, expected_hit);
            CHECK_INT_EQ(st.prefix_query_tokens_total, 2 * prompt);
        } else {
            CHECK_INT_EQ(first_cost[1], first_cost[0]);
            CHECK_INT_EQ(st.prefix_hit_tokens_total, 0);
            CHECK_INT_EQ(st.prefix_query_tokens_total, 0);
        }
        sim_engine_destroy(&d.engine);
    }
}

/* A chat conversation as a client replays it: turn k sends the system prompt, every
   earlier user turn and answer, and a new user turn. Tokens are counted and hashed the
   way sim_http does (sim_text.h's template); answers are the words the engine "wrote". */
#define CONV_TURNS     6
#define CONV_ANSWER    37 /* tokens per answer */
#define CONV_MAX_BYTES 8192

typedef struct {
    char user[CONV_TURNS][160];
    char answer[CONV_TURNS][CONV_ANSWER * SIM_TEXT_BYTES_PER_TOKEN + 1];
} conversation_t;

static void conversation_init(conversation_t *c)
{
    for (int k = 0; k < CONV_TURNS; k++) {
        snprintf(c->user[k], sizeof c->user[k],
                 "Turn %d: please explain, with one more example than before, how the river "
                 "carries the stone to the sea.",
                 k + 1);
        c->answer[k][0] = 0;
        for (int i = 0; i < CONV_ANSWER; i++)
            strcat(c->answer[k], sim_word((uint64_t)(k * 1000 + i)));
    }
}

static const char conv_system[] = "You are a careful assistant. Answer in plain words, keep "
                                  "every answer short, and never repeat the question back.";

/* Turn `turn` (0-based): its prompt tokens, and the hashes of prompt + answer blocks. */
static int conversation_turn(const sim_profile_t *p, const conversation_t *c, int turn,
                             uint64_t *hashes, int max, int *count)
{
    sim_block_hasher_t h;
    sim_block_hasher_init(&h, p->block_size_tokens, hashes, max);
    sim_block_hasher_push(&h, SIM_TOKEN_BOS);
    int tokens = 1 + SIM_TEXT_CHAT_TAIL_TOKENS;
    const char *role[2] = {"user", "assistant"};
    sim_block_hasher_message_begin(&h, "system");
    sim_block_hasher_push_text(&h, conv_system, strlen(conv_system));
    sim_block_hasher_message_end(&h);
    tokens += SIM_TEXT_CHAT_MSG_TOKENS + sim_text_tokens(strlen(conv_system));
    for (int k = 0; k <= turn; k++) {
        for (int m = 0; m < (k < turn ? 2 : 1); m++) {
            const char *text = m ? c->answer[k] : c->user[k];
            sim_block_hasher_message_begin(&h, role[m]);
            sim_block_hasher_push_text(&h, text, strlen(text));
            sim_block_hasher_message_end(&h);
            tokens += SIM_TEXT_CHAT_MSG_TOKENS + sim_text_tokens(strlen(text));
        }
    }
    sim_block_hasher_assistant_header(&h);
    for (int i = 0; i < CONV_ANSWER; i++) { /* the answer, as the engine writes it */
        const char *word = sim_word((uint64_t)(turn * 1000 + i));
        sim_block_hasher_push_text(&h, word, strlen(word));
        sim_block_hasher_end_text(&h);
    }
    *count = h.count;
    return tokens;
}

/* Turn k resends turn k-1's prompt and answer: every block of that history whose KV was
   computed (all but the answer's last token, which is never fed back) is found cached,
   so the hits of turn k are exactly those blocks' tokens and the queries its prompt. */
static void test_chat_turn_k_hits_every_full_block_of_the_previous_turns_history(void)
{
    sim_profile_t p = simple_profile();
    p.max_model_len = 4096;
    p.total_kv_blocks = 512;
    p.max_num_batched_tokens = 4096;
    conversation_t c;
    conversation_init(&c);
    driver_t d;
    driver_init(&d, &p, true);
    uint64_t hashes[CONV_MAX_BYTES / 16];
    int prev_history = 0;
    for (int turn = 0; turn < CONV_TURNS; turn++) {
        int count;
        int prompt = conversation_turn(&p, &c, turn, hashes, CONV_MAX_BYTES / 16, &count);
        sim_engine_stats_t before, after;
        sim_engine_stats(d.engine, &before);
        run_alone(&d, prompt, CONV_ANSWER, hashes, count);
        sim_engine_stats(d.engine, &after);
        int64_t hits = after.prefix_hit_tokens_total - before.prefix_hit_tokens_total;
        int64_t queries = after.prefix_query_tokens_total - before.prefix_query_tokens_total;
        CHECK_INT_EQ(queries, prompt);
        int computed = prev_history - 1; /* the previous answer's last token has no KV */
        int expected = turn == 0 ? 0 : computed / p.block_size_tokens * p.block_size_tokens;
        CHECK_MSG(hits == expected, "turn %d: %lld hits, want %d (history %d, prompt %d)", turn + 1,
                  (long long)hits, expected, prev_history, prompt);
        CHECK(prev_history < prompt); /* the history is a strict prefix of the new prompt */
        prev_history = prompt + CONV_ANSWER;
    }
    sim_engine_destroy(&d.engine);
}

/* With caching, a later turn prefills only its new tokens, so its TTFT stays near turn
   1's while its input grows; without caching it prefills the whole history each turn. */
static void test_chat_ttft_of_later_turns_stays_near_turn_1_with_caching_grows_without(void)
{
    sim_profile_t p = simple_profile();
    p.max_model_len = 4096;
    p.total_kv_blocks = 512;
    p.max_num_batched_tokens = 4096;
    p.step_base_ns = 1000000;   /* 1 ms */
    p.prefill_token_ns = 20000; /* 20 us: a 100-token prompt costs 2 ms */
    conversation_t c;
    conversation_init(&c);
    uint64_t hashes[CONV_MAX_BYTES / 16];
    int64_t ttft[2][CONV_TURNS];
    int prompt_of[CONV_TURNS];
    for (int on = 0; on <= 1; on++) {
        driver_t d;
        driver_init(&d, &p, on);
        for (int turn = 0; turn < CONV_TURNS; turn++) {
            int count;
            prompt_of[turn] = conversation_turn(&p, &c, turn, hashes, CONV_MAX_BYTES / 16, &count);
            ttft[on][turn] = run_alone(&d, prompt_of[turn], CONV_ANSWER, hashes, count);
        }
        sim_engine_destroy(&d.engine);
    }
    int last = CONV_TURNS - 1;
    fprintf(stderr,
            "# TTFT turn 1 / turn %d: %.2f / %.2f ms cached, %.2f / %.2f ms not "
            "(input %d -> %d tokens)\n",
            CONV_TURNS, ttft[1][0] / 1e6, ttft[1][last] / 1e6, ttft[0][0] / 1e6,
            ttft[0][last] / 1e6, prompt_of[0], prompt_of[last]);
    CHECK(prompt_of[last] > 4 * prompt_of[0]);
    for (int turn = 1; turn < CONV_TURNS; turn++) {
        CHECK_MSG(ttft[1][turn] < 1.5 * ttft[1][0], "cached turn %d: %lld ns vs %lld", turn + 1,
                  (long long)ttft[1][turn], (long long)ttft[1][0]);
        CHECK(ttft[0][turn] > ttft[0][turn - 1]); /* grows with the input */
    }
    CHECK(ttft[0][last] > 3 * ttft[0][0]);
}

/* Under pressure the cache gives back the prefix released longest ago: with room for
   ten blocks, A (3 blocks) and B (3 blocks) cached, then A used again, a prompt that
   needs 7 blocks evicts B's, and A is still found. The cache never holds more blocks
   than the pool. */
static void test_lru_evicts_the_prefix_untouched_longest_and_keeps_the_recent_one(void)
{
    sim_profile_t p = simple_profile();
    p.total_kv_blocks = 10;
    p.max_num_batched_tokens = 1000;
    uint64_t a[8], b[8], big[8];
    char text_a[200], text_b[200], text_big[400];
    memset(text_a, 'a', 192), text_a[192] = 0; /* 1 + 48 tokens: 3 full blocks */
    memset(text_b, 'b', 192), text_b[192] = 0;
    memset(text_big, 'c', 396), text_big[396] = 0; /* 1 + 99 tokens: 7 blocks with output */
    int count_a = hash_completion_prompt(&p, text_a, a, 8);
    int count_b = hash_completion_prompt(&p, text_b, b, 8);
    int count_big = hash_completion_prompt(&p, text_big, big, 8);
    int prompt_a = 49, prompt_big = 100;
    driver_t d;
    driver_init(&d, &p, true);
    sim_engine_stats_t st;
    run_alone(&d, prompt_a, 1, a, count_a);
    run_alone(&d, prompt_a, 1, b, count_b); /* B, released after A */
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.prefix_cached_blocks, 6);
    CHECK_INT_EQ(st.used_blocks, 0);        /* cached but unpinned blocks count as free */
    run_alone(&d, prompt_a, 1, a, count_a); /* touches A: now B is the oldest */
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.prefix_hit_tokens_total, 48);
    CHECK_INT_EQ(st.prefix_evicted_blocks_total, 0);
    run_alone(&d, prompt_big, 1, big, count_big); /* 7 blocks: 4 empty + 3 evicted */
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.prefix_evicted_blocks_total, 3);
    CHECK(st.prefix_cached_blocks <= p.total_kv_blocks);
    int64_t hits_before = st.prefix_hit_tokens_total;
    run_alone(&d, prompt_a, 1, a, count_a);
    sim_engine_stats(d.engine, &st);
    CHECK_MSG(st.prefix_hit_tokens_total - hits_before == 48, "A hit %lld tokens after pressure",
              (long long)(st.prefix_hit_tokens_total - hits_before));
    hits_before = st.prefix_hit_tokens_total;
    run_alone(&d, prompt_a, 1, b, count_b);
    sim_engine_stats(d.engine, &st);
    CHECK_MSG(st.prefix_hit_tokens_total == hits_before, "B hit %lld tokens: not evicted",
              (long long)(st.prefix_hit_tokens_total - hits_before));
    CHECK(d.max_used_blocks <= p.total_kv_blocks);
    sim_engine_destroy(&d.engine);
}

/* Many distinct prompts through a small pool: the cache stays within the pool, every
   request completes, and blocks all come back when the engine is idle. */
static void test_prefix_cache_stays_within_the_pool_under_churn(void)
{
    const sim_profile_t *tiny = sim_profile_find("tiny");
    REQUIRE(tiny);
    driver_t d;
    driver_init(&d, tiny, true);
    const int n = 300;
    req_t *reqs = make_poisson(n, 6, 64, 16, 7);
    uint64_t(*hashes)[8] = calloc((size_t)n, sizeof *hashes);
    int next = 0;
    for (int64_t steps = 0; d.finished < n && steps < 1000000; steps++) {
        if (!sim_engine_has_work(d.engine) && next < n && reqs[next].arrival_ns > d.now_ns)
            d.now_ns = reqs[next].arrival_ns;
        while (next < n && reqs[next].arrival_ns <= d.now_ns) {
            req_t *r = &reqs[next];
            char text[300];
            /* a third share one prefix, the rest are all different */
            snprintf(text, sizeof text, "%0252d", next % 3 == 0 ? 0 : next);
            int count = hash_completion_prompt(tiny, text, hashes[next], 8);
            r->in_order = true;
            r->seq = sim_engine_submit(d.engine, r, 64, 16, hashes[next], count);
            next++;
        }
        int64_t step_ns = sim_engine_step_begin(d.engine);
        driver_observe(&d);
        sim_engine_stats_t st;
        sim_engine_stats(d.engine, &st);
        CHECK(st.prefix_cached_blocks <= tiny->total_kv_blocks);
        if (step_ns < 0)
            continue;
        d.now_ns += step_ns;
        sim_engine_step_end(d.engine);
    }
    CHECK_INT_EQ(d.finished, n);
    sim_engine_stats_t st;
    sim_engine_stats(d.engine, &st);
    CHECK_INT_EQ(st.used_blocks, 0);
    CHECK(st.prefix_evicted_blocks_total > 0);
    CHECK(st.prefix_hit_tokens_total > 0);
    sim_engine_destroy(&d.engine);
    free(hashes);
    free(reqs);
}

/* The hockey stick: TTFT P99 stays near its floor while the load is below capacity and
   rises sharply past it, while the KV cache fills and requests queue. */
static void test_hockey_stick_ttft_p99_flat_then_sharply_up(void)
{
    const sim_profile_t *tiny = sim_profile_find("tiny");
    REQUIRE(tiny);
    const double rates[] = {0.5, 1, 2, 12};
    double p99[4], kv[4];
    int waiting[4];
    const int n = 400;
    for (int k = 0; k < 4; k++) {
        driver_t d;
        driver_init(&d, tiny, false);
        req_t *reqs = make_poisson(n, rates[k], 64, 32, 42);
        driver_run(&d, reqs, n, 10000000);
        REQUIRE(d.finished == n);
        p99[k] = ttft_p99_ms(reqs, n);
        kv[k] = d.max_kv_usage;
        waiting[k] = d.max_waiting;
        fprintf(stderr, "# rate %5.1f/s: TTFT p99 %8.1f ms, max kv usage %.2f, max waiting %d\n",
                rates[k], p99[k], kv[k], waiting[k]);
        sim_engine_destroy(&d.engine);
        free(reqs);
    }
    /* Floor: one prefill step of an idle engine. */
    double floor_ms = (tiny->step_base_ns + 64 * tiny->prefill_token_ns) / 1e6;
    CHECK_MSG(p99[0] < 3 * floor_ms, "low load p99 %.1f ms vs floor %.1f ms", p99[0], floor_ms);
    CHECK_MSG(p99[2] < 4 * floor_ms, "2/s p99 %.1f ms vs floor %.1f ms", p99[2], floor_ms);
    CHECK_MSG(p99[3] > 20 * floor_ms, "overload p99 %.1f ms not far above floor", p99[3]);
    CHECK_MSG(p99[3] > 10 * p99[2], "overload p99 %.1f ms vs %.1f ms below the knee", p99[3],
              p99[2]);
    CHECK_MSG(kv[3] > 0.9, "overload kv usage %.2f", kv[3]);
    CHECK(waiting[0] == 0 || waiting[0] <= 2);
    CHECK(waiting[3] > 10);
}

CHECK_MAIN(test_same_arrivals_give_identical_token_trace, test_batch_never_exceeds_max_num_seqs,
           test_chunked_prefill_respects_token_budget,
           test_kv_blocks_are_ceil_of_tokens_over_block_size,
           test_full_kv_cache_preempts_and_every_request_still_completes,
           test_requests_wait_when_no_blocks_are_free,
           test_request_larger_than_the_cache_is_refused, test_abort_frees_blocks_and_emits_nothing,
           test_prefix_caching_skips_prefill_of_a_repeated_prompt,
           test_chat_turn_k_hits_every_full_block_of_the_previous_turns_history,
           test_chat_ttft_of_later_turns_stays_near_turn_1_with_caching_grows_without,
           test_lru_evicts_the_prefix_untouched_longest_and_keeps_the_recent_one,
           test_prefix_cache_stays_within_the_pool_under_churn,
           test_hockey_stick_ttft_p99_flat_then_sharply_up)
