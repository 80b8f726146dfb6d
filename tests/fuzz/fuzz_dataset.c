/*  fuzz_dataset.c: any bytes as a dataset in every format: prompts (and conversations) or
    an error naming the file, never a crash or a leak. The first byte picks the format. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plan/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const names[] = {"d.json", "d.jsonl", "d.txt", "d"};
    dataset_spec_t spec = {0};
    spec.format = (dataset_format_t)(data[0] % 5);
    spec.field = data[0] & 0x80 ? "instances.0.input" : NULL;
    spec.input_field = data[0] & 0x40 ? "input" : NULL;
    const char *name = names[(data[0] >> 3) % 4];
    prompt_list_t out = {0};
    char err[512];
    err[0] = '\0';
    if (dataset_load_bytes(&spec, name, (const char *)data + 1, size - 1, &out, err, sizeof err) !=
            0 &&
        strncmp(err, name, strlen(name)) != 0)
        __builtin_trap(); /* every error names the file */
    for (int i = 0; i < out.count; i++) {
        if (!out.items[i] || !out.items[i][0])
            __builtin_trap(); /* empty prompts are skipped, never kept */
    }
    prompt_list_free(&out);
    /* The same bytes as whole conversations (ShareGPT or JSONL messages): conversations
       of 1..WORKLOAD_MAX_TURNS non-empty user turns, or an error naming the file. */
    conversation_list_t convs = {0};
    err[0] = '\0';
    if (dataset_load_conversations_bytes(&spec, name, (const char *)data + 1, size - 1, &convs, err,
                                         sizeof err) != 0 &&
        strncmp(err, name, strlen(name)) != 0)
        __builtin_trap();
    for (int i = 0; i < convs.count; i++) {
        const prompt_list_t *turns = &convs.items[i].user_turns;
        if (turns->count < 1 || turns->count > WORKLOAD_MAX_TURNS)
            __builtin_trap();
        for (int k = 0; k < turns->count; k++) {
            if (!turns->items[k] || !turns->items[k][0])
                __builtin_trap();
        }
    }
    conversation_list_free(&convs);
    return 0;
}
