/* Per-sample statistics of rewards across ensemble members — count, mean, M2 (sum of
 * squared deviations), min, max — and their merge by Chan et al.'s parallel formula,
 * as a user-defined MPI_Op, so variance stays accurate at large offsets and a
 * reduction over ranks is a log(P) tree that never gathers every member's rewards. */
#ifndef RMENS_COMM_MOMENTS_H
#define RMENS_COMM_MOMENTS_H

#include "rmens_mpi.h"

typedef struct {
    double count, mean, m2, min, max;
} rmens_moments;

/* The identity of the merge: count 0. */
void rmens_moments_clear(rmens_moments *m, size_t n);
/* Adds one value to each of n accumulators (x[i] to m[i]). */
void rmens_moments_add(rmens_moments *m, const float *x, size_t n);
/* into[i] <- merge(into[i], from[i]) */
void rmens_moments_merge(rmens_moments *into, const rmens_moments *from, size_t n);
double rmens_moments_var(const rmens_moments *m);  /* population variance, M2 / count */

/* Collective: reduces n accumulators per rank onto root with the Chan merge. */
rmens_status rmens_moments_reduce(rmens_moments *inout, size_t n, int root, MPI_Comm comm);

#endif
