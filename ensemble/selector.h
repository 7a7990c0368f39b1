/* rmens select: the pairs of an unlabelled pool most worth labelling next. Every pair is
 * scored by every member (as rmens score scores a pairs file: members on ranks), valued
 * by an acquisition (ensemble/acquisition.h) on the members' margins, and the budget's
 * best are written as a pairs file, the rest optionally as another; both keep every field
 * of each record, in pool order. */
#ifndef RMENS_ENSEMBLE_SELECTOR_H
#define RMENS_ENSEMBLE_SELECTOR_H

#include "ensemble/acquisition.h"
#include "rmens_mpi.h"

typedef struct {
    const char *ckpt, *pool, *out, *rest, *command;
    rmens_acquisition by;
    int64_t budget;
    uint64_t seed;
    int normalize, force;
    int64_t data_budget;
} rmens_select_options;

/* What a select run did, the same on every rank. */
typedef struct {
    int64_t pool, picked;
    int members;
    double value_picked, value_pool;  /* mean acquisition value */
    int has_gold;                     /* the pool carries gold rewards (synthetic tasks): */
    double gap_picked, gap_pool;      /* mean |gold difference| of a pair's two responses */
} rmens_select_result;

/* Collective over comm: scores o->pool and writes o->out (and o->rest) on rank 0. */
rmens_status rmens_select(const rmens_select_options *o, MPI_Comm comm, rmens_select_result *res);

#endif
