/* FNV-1a, written once: the 64-bit hash of a byte string (prep's split by prompt,
 * synth's per-prompt streams). */
#ifndef RMENS_BASE_HASH_H
#define RMENS_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t rmens_fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#endif
