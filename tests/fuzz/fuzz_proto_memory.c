/*  fuzz_proto_memory.c: what decoding a message costs is bounded by its size.

    Property: the peak of heap bytes allocated while proto_decode runs (and the decoded
    message is held) is at most PROTO_MEMORY_FLOOR_BYTES + PROTO_MEMORY_PER_BYTE per input
    byte. The floor covers the per-message caps (PROTO_MAX_DECODED_COUNTERS counters, one
    histogram's payload, msgpack-c's first zone chunk); the slope covers msgpack-c's objects
    (16-32 bytes per object, each at least one input byte) and copied strings. Before issue 18
    a 1 KB snapshot claiming 5-digit histograms cost 112 MiB: this target finds that in its
    first seconds from the seed corpus. Run with a -max_len large enough for a snapshot of
    many targets (CMakeLists.txt gives 256 KiB).

    The count comes from the sanitizer allocator's hooks (every malloc and free of the
    process, libFuzzer's own included, which is why the floor is not tighter).
*/
#include <sanitizer/allocator_interface.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/proto.h"

#define PROTO_MEMORY_FLOOR_BYTES ((size_t)PROTO_MAX_DECODED_COUNTERS * 8 + (8u << 20))
#define PROTO_MEMORY_PER_BYTE    64

static size_t live_bytes, peak_bytes;
static int counting;

static void on_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    if (!counting)
        return;
    live_bytes += size;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
}

static void on_free(const volatile void *ptr)
{
    if (!counting || !ptr)
        return;
    size_t size = __sanitizer_get_allocated_size((const void *)ptr);
    live_bytes = size < live_bytes ? live_bytes - size : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_msg_t msg;
    char err[256];
    live_bytes = peak_bytes = 0;
    counting = 1;
    proto_type_t type;
    proto_peek_type(data, size, &type);
    proto_decode(&msg, data, size, err, sizeof err);
    counting = 0;
    proto_msg_clear(&msg);
    size_t bound = PROTO_MEMORY_FLOOR_BYTES + PROTO_MEMORY_PER_BYTE * size;
    if (peak_bytes > bound) {
        fprintf(stderr, "decoding %zu bytes allocated %zu bytes at its peak (bound %zu): %s\n",
                size, peak_bytes, bound, err);
        abort();
    }
    return 0;
}
