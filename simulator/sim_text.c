/*  sim_text.c: words, token counts and hashes (sim_text.h). */
#include "simulator/sim_text.h"

/* Our own list of plain words: what the simulated model "writes". */
static const char *const words[] = {
    " the",      " river",      " light",    " stone",    " quiet",    " market",  " bridge",
    " morning",  " engine",     " paper",    " window",   " garden",   " signal",  " harbor",
    " winter",   " orange",     " pattern",  " careful",  " simple",   " number",  " forest",
    " letter",   " compass",    " silver",   " table",    " motion",   " thread",  " answer",
    " measure",  " travel",     " voice",    " cloud",    " copper",   " meadow",  " planet",
    " rhythm",   " canvas",     " lantern",  " ladder",   " circle",   " harvest", " mirror",
    " pocket",   " shadow",     " valley",   " wonder",   " yellow",   " anchor",  " basket",
    " candle",   " desert",     " feather",  " glacier",  " hollow",   " island",  " jacket",
    " kettle",   " lemon",      " marble",   " needle",   " orchard",  " pepper",  " quarry",
    " ribbon",   " saddle",     " timber",   " umbrella", " velvet",   " walnut",  " anthem",
    " and",      " of",         " to",       " in",       " is",       " was",     " for",
    " on",       " with",       " as",       " by",       " at",       " from",    " that",
    " this",     " it",         " we",       " they",     " every",    " under",   " over",
    " across",   " beyond",     " between",  " slowly",   " brightly", " again",   " always",
    " never",    " often",      " later",    " early",    " near",     " far",     " small",
    " large",    " bright",     " dark",     " warm",     " cold",     " green",   " blue",
    " red",      " golden",     " gentle",   " steady",   " sudden",   " distant", " ancient",
    " modern",   " little",     " open",     " closed",   " moves",    " holds",   " keeps",
    " turns",    " carries",    " follows",  " finds",    " makes",    " builds",  " reads",
    " writes",   " waits",      " listens",  " returns",  " begins",   " remains", " grows",
    " falls",    " rises",      " shines",   " breaks",   " bends",    " counts",  " sings",
    " nor",      " yet",        " while",    " because",  " when",     " where",   " after",
    " before",   " until",      " though",   " maybe",    " perhaps",  " still",   " even",
    " only",     " also",       " then",     " there",    " here",     " each",    " many",
    " few",      " some",       " most",     " one",      " two",      " three",   " seven",
    " dozen",    " hundred",    " road",     " tower",    " field",    " shore",   " wave",
    " wind",     " rain",       " snow",     " fire",     " sand",     " glass",   " iron",
    " wood",     " salt",       " bread",    " honey",    " tea",      " song",    " story",
    " dream",    " idea",       " reason",   " moment",   " season",   " journey", " village",
    " city",     " country",    " ocean",    " mountain", " sky",      " star",    " moon",
    " sun",      " time",       " day",      " night",    " year",     " hour",    " minute",
    " second",   " friend",     " teacher",  " builder",  " sailor",   " farmer",  " baker",
    " painter",  " keeper",     " traveler", " stranger", " neighbor", " child",   " elder",
    " crowd",    " choir",      " council",  " library",  " museum",   " station", " kitchen",
    " workshop", " lighthouse",
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

int sim_text_block_hashes(const char *text, size_t len, int block_size_tokens, uint64_t *out,
                          int max)
{
    size_t block_bytes = (size_t)block_size_tokens * SIM_TEXT_BYTES_PER_TOKEN;
    uint64_t hash = FNV_OFFSET;
    int n = 0;
    for (size_t at = 0; block_bytes && at + block_bytes <= len && n < max; at += block_bytes)
        out[n++] = hash = fnv1a(hash, text + at, block_bytes); /* chained: a prefix */
    return n;
}
