/* Which pairs each member trains on, and in what order.
 *
 * Bootstrap: member k draws round(fraction * N) pair indices with replacement; draw j
 * (1-based) is Lemire's below(N) on the generator stream (mix64(seed ^ BOOT), k) of
 * docs/FORMAT.md, so Python can reproduce a sample (docs/TRAINING.md has reference
 * values). fraction < 0 means no resampling: every pair once (a seed ensemble).
 *
 * Order: the sample, as a list sorted by index, is shuffled anew each epoch e by a
 * Fisher-Yates pass on stream (mix64(seed ^ SHUF), k * 2^32 + e); step s trains on
 * positions [s B, (s + 1) B) of the concatenated epochs. The position is a function of
 * the step alone, so resuming needs nothing but the step. */
#ifndef RMENS_ENSEMBLE_BOOTSTRAP_H
#define RMENS_ENSEMBLE_BOOTSTRAP_H

#include <stdint.h>

#include "rmens.h"

#define RMENS_BOOT_SALT 0x626f6f7473747270ull  /* "bootstrp" */
#define RMENS_SHUF_SALT 0x73687566666c6521ull  /* "shuffle!" */
#define RMENS_GENERATOR_NAME "splitmix64-counter/lemire"

typedef struct {
    int64_t n;          /* pairs in the data set */
    int64_t n_sample;   /* draws in the sample (round(fraction * n), or n) */
    int32_t *counts;    /* [n] times each pair was drawn */
    int64_t *sample;    /* [n_sample] drawn indices, sorted */
    int64_t *order;     /* [n_sample] the current epoch's permutation of sample */
    int64_t epoch;      /* which epoch order holds, -1 none yet */
    uint64_t seed;
    int member;
} rmens_bootstrap;

rmens_status rmens_bootstrap_init(rmens_bootstrap *b, int64_t n, double fraction, uint64_t seed, int member);
void rmens_bootstrap_free(rmens_bootstrap *b);
/* The B pair indices of step s. */
void rmens_bootstrap_batch(rmens_bootstrap *b, int64_t step, int B, int64_t *idx);
/* Pairs never drawn (out of bag), in increasing order; returns how many. */
int64_t rmens_bootstrap_oob(const rmens_bootstrap *b, int64_t *out);

/* Sample i of k evenly spaced among n items (k <= n): item (2i + 1) n / (2k), the
 * middle of the i-th of k equal parts; i itself when k == n, and never below i. */
static inline int64_t rmens_even_sample(int64_t i, int64_t n, int64_t k) { return (2 * i + 1) * n / (2 * k); }

#endif
