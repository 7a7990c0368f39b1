/* A counter-based random generator: draw i of stream (seed, stream) is a pure function
 * of (seed, stream, i), so any draw can be reproduced anywhere (in Python too: see
 * docs/FORMAT.md) without replaying the ones before it. It is SplitMix64's output
 * function applied to key + (i + 1) * 0x9E3779B97F4A7C15. */
#ifndef RMENS_BASE_RNG_H
#define RMENS_BASE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t key;
    uint64_t ctr;  /* draws taken so far */
} rmens_rng;

uint64_t rmens_mix64(uint64_t z);  /* SplitMix64's finaliser */
void rmens_rng_init(rmens_rng *r, uint64_t seed, uint64_t stream);
uint64_t rmens_rng_u64(rmens_rng *r);
/* Uniform integer in [0, n), n >= 1, by Lemire's unbiased multiply-and-reject. */
uint64_t rmens_rng_below(rmens_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double rmens_rng_unit(rmens_rng *r);

#endif
