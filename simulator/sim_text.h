/*  sim_text.h: what the simulator says and how it counts tokens.

    Token counting is an approximation used everywhere the simulator needs a count
    (/tokenize, usage.prompt_tokens, the KV model), so the three always agree:
      text tokens    = ceil(bytes / 4)           (about what BPE tokenizers give English)
      prompt tokens  = 1 (BOS) + text tokens      (completions)
      chat prompt    = 1 (BOS) + sum over messages of (4 + text tokens of the content)
                       + 3 (the assistant header), like a chat template's overhead
    Generated text is one word per token, each with a leading space as BPE tokens have.
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
/* Chained hashes of the full KV blocks of a prompt's text (block_size_tokens tokens each),
   for prefix caching. Returns how many were written (at most max). */
int sim_text_block_hashes(const char *text, size_t len, int block_size_tokens, uint64_t *out,
                          int max);

#endif
