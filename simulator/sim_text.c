/*  sim_text.c: words, token counts and hashes (sim_text.h). */
#include "simulator/sim_text.h"

#include <string.h>

/* Our own list of plain words: what the simulated model "writes". Each is a space and
   three letters, one token's worth of bytes (sim_text.h). */
static const char *const words[] = {
    " the", " sun", " sky", " red", " tea", " oak", " sea", " day", " way", " new", " old", " far",
    " low", " top", " map", " key", " ice", " art", " arm", " bay", " bed", " box", " cup", " dog",
    " ear", " egg", " eye", " fan", " fig", " fin", " fox", " gap", " gem", " hat", " hen", " ink",
    " jam", " jar", " jet", " kit", " lab", " leg", " lid", " log", " mud", " net", " nut", " owl",
    " pan", " pen", " pie", " pin", " pot", " ram", " ray", " rim", " row", " rug", " saw", " tin",
    " toe", " toy", " van", " web", " yak", " zoo", " and", " for", " but", " yet", " nor", " all",
    " any", " few", " one", " two", " six", " ten", " now", " was", " had", " has", " can", " may",
    " see", " run", " sit", " try", " say", " ask", " let", " got", " put", " set", " cut", " fit",
    " win", " own", " big", " hot", " wet", " dry", " shy", " fun", " raw", " odd", " dim", " air",
    " bus", " car", " elm", " fog", " gum", " hut", " ivy", " job", " kin", " lap", " mix", " oar",
    " pea", " rye", " sap", " tub", " urn", " vow", " wax", " yew",
};
#define WORD_COUNT (sizeof words / sizeof words[0])

const char *sim_word(uint64_t r)
{
    return words[r % WORD_COUNT];
}

int sim_text_tokens(size_t bytes)
{
    return (int)((bytes + SIM_TEXT_BYTES_PER_TOKEN - 1) / SIM_TEXT_BYTES_PER_TOKEN);
}

static uint64_t fnv1a(uint64_t hash, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)data[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

int sim_text_token_ids(const char *text, size_t len, int32_t *ids, int max)
{
    int count = sim_text_tokens(len);
    for (int i = 0; i < count && i < max; i++) {
        size_t at = (size_t)i * SIM_TEXT_BYTES_PER_TOKEN;
        size_t n = len - at < SIM_TEXT_BYTES_PER_TOKEN ? len - at : SIM_TEXT_BYTES_PER_TOKEN;
        ids[i] = (int32_t)(fnv1a(FNV_OFFSET, text + at, n) % SIM_TEXT_VOCAB_SIZE);
    }
    return count;
}

void sim_block_hasher_init(sim_block_hasher_t *h, int block_size_tokens, uint64_t *out, int max)
{
    *h = (sim_block_hasher_t){.chain = FNV_OFFSET,
                              .block = FNV_OFFSET,
                              .block_size = block_size_tokens,
                              .out = out,
                              .max = max};
}

void sim_block_hasher_push(sim_block_hasher_t *h, uint64_t token)
{
    if (h->block_size <= 0 || h->count >= h->max)
        return;
    if (h->filled == 0)
        h->block = h->chain; /* chained: block i's hash covers blocks 0..i */
    h->block = fnv1a(h->block, (const char *)&token, sizeof token);
    if (++h->filled == h->block_size) {
        h->out[h->count++] = h->chain = h->block;
        h->filled = 0;
    }
}

static uint64_t token_of_text(const char *text, size_t len)
{
    return fnv1a(FNV_OFFSET, text, len) | (1ull << 63); /* never a template token */
}

void sim_block_hasher_push_text(sim_block_hasher_t *h, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h->pending[h->pending_len++] = text[i];
        if (h->pending_len == SIM_TEXT_BYTES_PER_TOKEN) {
            sim_block_hasher_push(h, token_of_text(h->pending, SIM_TEXT_BYTES_PER_TOKEN));
            h->pending_len = 0;
        }
    }
}

void sim_block_hasher_end_text(sim_block_hasher_t *h)
{
    if (h->pending_len > 0)
        sim_block_hasher_push(h, token_of_text(h->pending, (size_t)h->pending_len));
    h->pending_len = 0;
}

static uint64_t token_of_role(const char *role)
{
    return (fnv1a(FNV_OFFSET ^ 0x726f6c65u, role, strlen(role)) & ~(1ull << 63)) | (1ull << 62);
}

void sim_block_hasher_message_begin(sim_block_hasher_t *h, const char *role)
{
    sim_block_hasher_push(h, SIM_TOKEN_HEADER_START);
    sim_block_hasher_push(h, token_of_role(role));
    sim_block_hasher_push(h, SIM_TOKEN_HEADER_END);
}

void sim_block_hasher_message_end(sim_block_hasher_t *h)
{
    sim_block_hasher_end_text(h);
    sim_block_hasher_push(h, SIM_TOKEN_END_OF_TURN);
}

void sim_block_hasher_assistant_header(sim_block_hasher_t *h)
{
    sim_block_hasher_message_begin(h, "assistant"); /* 3 tokens: SIM_TEXT_CHAT_TAIL_TOKENS */
}
