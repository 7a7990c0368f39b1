#include "base/rng.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

uint64_t rmens_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rmens_rng_init(rmens_rng *r, uint64_t seed, uint64_t stream)
{
    r->key = rmens_mix64(rmens_mix64(seed) ^ (stream * GOLDEN + 1));
    r->ctr = 0;
}

uint64_t rmens_rng_u64(rmens_rng *r)
{
    r->ctr++;
    return rmens_mix64(r->key + r->ctr * GOLDEN);
}

uint64_t rmens_rng_below(rmens_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)rmens_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (unsigned __int128)rmens_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rmens_rng_unit(rmens_rng *r) { return (double)(rmens_rng_u64(r) >> 11) * 0x1.0p-53; }
