/*  sim_text.h: what the simulator says and how it counts tokens.

    Token counting is an approximation used everywhere the simulator needs a count
    (/tokenize, usage.prompt_tokens, the KV model), so the three always agree:
      text tokens    = ceil(bytes / 4)           (about what BPE tokenizers give English)
      prompt tokens  = 1 (BOS) + text tokens      (completions)
      chat prompt    = 1 (BOS) + sum over messages of (4 + text tokens of the content)
                       + 3 (the assistant header), like a chat template's overhead
    Generated text is one word per token, each with a leading space as BPE tokens have,
    and every word is SIM_TEXT_BYTES_PER_TOKEN bytes: an answer resent as history in the
    next chat turn counts exactly the tokens generated, token for token (prefix caching).
    Randomness comes from common/rng.h: the same sequence for the same seed.
*/
#ifndef SURGE_SIM_TEXT_H
#define SURGE_SIM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

#define SIM_TEXT_BYTES_PER_TOKEN  4
#define SIM_TEXT_CHAT_MSG_TOKENS  4
#define SIM_TEXT_CHAT_TAIL_TOKENS 3
#define SIM_TEXT_VOCAB_SIZE       128256 /* Llama 3's, for plausible token ids */

/* A word with a leading space (" river"); `r` picks it. Static storage. */
const char *sim_word(uint64_t r);

int sim_text_tokens(size_t bytes);
/* Token ids for /tokenize: one per SIM_TEXT_BYTES_PER_TOKEN bytes, hashed. Writes at most
   max ids; returns the count (= sim_text_tokens(len)). */
int sim_text_token_ids(const char *text, size_t len, int32_t *ids, int max);
/* Chained hashes of full KV blocks, for prefix caching: tokens are pushed one by one (or
   as text, one per SIM_TEXT_BYTES_PER_TOKEN bytes, a part carried over to the next
   push until sim_block_hasher_end_text), and every block_size tokens the hash of the
   block and of all the blocks before it is written to out (at most max; the rest are
   dropped). Two token streams get equal hashes for block i exactly when their first
   (i + 1) * block_size tokens are equal (up to 64-bit collisions), as vLLM's are.

   A chat prompt is, token by token, the template sim_text_tokens counts:
     BOS, then per message  HEADER_START ROLE(role) HEADER_END content... END_OF_TURN,
     then the assistant header HEADER_START ROLE("assistant") HEADER_END,
   so turn k's prompt begins with turn k-1's prompt followed by turn k-1's answer. */
typedef struct {
    uint64_t chain; /* hash of the blocks before the current one */
    uint64_t block; /* the current block's hash so far */
    int filled, block_size;
    char pending[SIM_TEXT_BYTES_PER_TOKEN]; /* text not yet a whole token */
    int pending_len;
    uint64_t *out; /* borrowed */
    int count, max;
} sim_block_hasher_t;

#define SIM_TOKEN_BOS          1u
#define SIM_TOKEN_HEADER_START 2u
#define SIM_TOKEN_HEADER_END   3u
#define SIM_TOKEN_END_OF_TURN  4u

void sim_block_hasher_init(sim_block_hasher_t *h, int block_size_tokens, uint64_t *out, int max);
void sim_block_hasher_push(sim_block_hasher_t *h, uint64_t token);
void sim_block_hasher_push_text(sim_block_hasher_t *h, const char *text, size_t len);
/* The end of a text run: its last part-token, if any, is pushed. */
void sim_block_hasher_end_text(sim_block_hasher_t *h);
/* The chat template, in one place: a message is begin(role), its content as text, end;
   a prompt is BOS, its messages, then the assistant header. */
void sim_block_hasher_message_begin(sim_block_hasher_t *h, const char *role);
void sim_block_hasher_message_end(sim_block_hasher_t *h);
void sim_block_hasher_assistant_header(sim_block_hasher_t *h);

#endif
