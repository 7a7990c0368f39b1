/* Acquisition functions: how much a preference label on one unlabelled pair is expected
 * to teach the ensemble, from its members' margins on the pair (rmens select,
 * docs/EVALUATION.md "Choosing pairs to label"). Higher means more worth labelling. The
 * order of the two responses in a pool means nothing, so every value is the same, bit for
 * bit, when they are swapped (every margin negated). Ties (all of random's values, many
 * of votes') are broken by a key drawn per pair from the seed. Serial. */
#ifndef RMENS_ENSEMBLE_ACQUISITION_H
#define RMENS_ENSEMBLE_ACQUISITION_H

#include <stdint.h>

#include "rmens.h"

typedef enum {
    RMENS_ACQ_RANDOM,    /* 0 for every pair: the seeded keys alone decide */
    RMENS_ACQ_STD,       /* the signals of ensemble/uncertainty.h: std of the margins, */
    RMENS_ACQ_VOTES,     /* vote split, */
    RMENS_ACQ_BALD,      /* mutual information of decision and member, */
    RMENS_ACQ_ENTROPY,   /* the ensemble's predictive entropy */
    RMENS_ACQ_THOMPSON,  /* double Thompson sampling: two distinct members drawn per pair,
                            -d_k1 * d_k2 (the two posterior draws disagreeing most) */
    RMENS_ACQ_N
} rmens_acquisition;
extern const char *const rmens_acquisition_names[RMENS_ACQ_N];
/* The acquisition called name (0), or -1. */
int rmens_acquisition_parse(const char *name, rmens_acquisition *a);
/* Whether it needs two members or more (it reads their disagreement or draws two). */
int rmens_acquisition_needs_members(rmens_acquisition a);

/* Pair i's draws of stream i of seed (docs/FORMAT.md's generator, seed salted): draw 1 is
 * its tie key; thompson then draws k1 below K and k2 below K - 1, k2 += (k2 >= k1). */
uint64_t rmens_acquisition_key(uint64_t seed, int64_t i);
void rmens_acquisition_draw_members(uint64_t seed, int64_t i, int K, int *k1, int *k2);

/* The value of pair i from its K members' margins d (rmens_pair_margins of its two
 * responses, K >= 1; thompson and the disagreement signals need K >= 2). */
double rmens_acquisition_value(rmens_acquisition a, const double *d, int K, uint64_t seed, int64_t i);

/* order[0..n) = 0..n-1 ranked: value[] decreasing, then key decreasing, then index
 * increasing (a NaN value ranks last). */
rmens_status rmens_acquisition_rank(const double *value, int64_t n, uint64_t seed, int64_t *order);

#endif
