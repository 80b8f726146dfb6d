/*  sim_profiles.c: the named presets of the engine model. Where each number comes from
    is in docs/simulator.md ("Profiles"); change them together. */
#include <stddef.h>
#include <string.h>

#include "simulator/sim.h"

/* clang-format off */
static const sim_profile_t profiles[] = {
    /* Zero step cost and room for everything: tokens leave as fast as the server can
       write them. A target that is never the bottleneck. */
    {.name = "instant", .model = "surge-sim-instant",
     .block_size_tokens = 16, .total_kv_blocks = 1 << 22, .max_num_seqs = 1 << 16,
     .max_num_batched_tokens = 1 << 30, .max_model_len = 1 << 20,
     .step_base_ns = 0, .decode_seq_ns = 0, .prefill_token_ns = 0, .context_token_ns = 0,
     .output_mean_tokens = 128},
    /* A toy node whose knee sits at a few requests/s of short requests, so tests and a
       2-core demo saturate it in seconds: 48 blocks of 16 tokens = 768 KV tokens. */
    {.name = "tiny", .model = "surge-sim-tiny",
     .block_size_tokens = 16, .total_kv_blocks = 48, .max_num_seqs = 16,
     .max_num_batched_tokens = 256, .max_model_len = 768,
     .step_base_ns = 25000000, .decode_seq_ns = 1000000, .prefill_token_ns = 20000,
     .context_token_ns = 0, .output_mean_tokens = 32},
    /* Llama-3.1-8B-Instruct, bf16, one H100 SXM 80 GB, vLLM V1 defaults. */
    {.name = "llama-3.1-8b-h100", .model = "meta-llama/Llama-3.1-8B-Instruct",
     .block_size_tokens = 16, .total_kv_blocks = 24800, .max_num_seqs = 256,
     .max_num_batched_tokens = 8192, .max_model_len = 131072,
     .step_base_ns = 6000000, .decode_seq_ns = 30000, .prefill_token_ns = 30000,
     .context_token_ns = 50.8, .output_mean_tokens = 200},
    /* Llama-3.1-70B-Instruct FP8 weights (bf16 KV), 4x H100 SXM, tensor parallel 4. */
    {.name = "llama-3.1-70b-fp8-h100x4", .model = "meta-llama/Llama-3.1-70B-Instruct",
     .block_size_tokens = 16, .total_kv_blocks = 37500, .max_num_seqs = 256,
     .max_num_batched_tokens = 8192, .max_model_len = 131072,
     .step_base_ns = 9000000, .decode_seq_ns = 50000, .prefill_token_ns = 45000,
     .context_token_ns = 31.7, .output_mean_tokens = 200},
};
/* clang-format on */

#define PROFILE_COUNT ((int)(sizeof profiles / sizeof profiles[0]))

const sim_profile_t *sim_profile_find(const char *name)
{
    for (int i = 0; name && i < PROFILE_COUNT; i++) {
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    }
    return NULL;
}

const sim_profile_t *sim_profile_at(int index)
{
    return index >= 0 && index < PROFILE_COUNT ? &profiles[index] : NULL;
}
