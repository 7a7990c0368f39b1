/* Float sums over the ranks of a communicator, for arrays of any length. */
#ifndef RMENS_COMM_SUM_H
#define RMENS_COMM_SUM_H

#include <stddef.h>

#include "rmens_mpi.h"

/* Collective: replaces buf[n] on every rank by the sum over comm, bit-identical on every
 * rank (a reduction to rank 0, then a broadcast: an allreduce may round differently on
 * different ranks, and the copies of a data-parallel member's gradients must not drift
 * apart). MPI errors come back as RMENS_ERR_MPI with MPI's message. */
rmens_status rmens_sum_all(float *buf, size_t n, MPI_Comm comm);
/* Collective: the sum over comm into rank 0's buf[n] (the other ranks' are unchanged). */
rmens_status rmens_sum_root(float *buf, size_t n, MPI_Comm comm);
/* Both send in pieces of at most 2^30 floats, since MPI counts are int; this takes the
 * piece size (> 0) and whether every rank gets the sum, for the tests. */
rmens_status rmens_sum_pieces(float *buf, size_t n, size_t piece, int to_all, MPI_Comm comm);

#endif
