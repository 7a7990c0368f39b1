/* A data-parallel member's gradients summed over the ranks of its group. */
#ifndef RMENS_COMM_GRADIENTS_H
#define RMENS_COMM_GRADIENTS_H

#include <stddef.h>

#include "rmens.h"

/* Collective over group: replaces grads[n] on every rank by the sum over the group,
 * bit-identical on every rank (a reduction to the group's first rank, then a broadcast:
 * an allreduce may round differently on different ranks, and the copies of a member
 * must not drift apart). Sent in pieces of at most 2^30 floats, since MPI counts are
 * int. MPI errors come back as RMENS_ERR_MPI with MPI's message. */
rmens_status rmens_gradients_sum(float *grads, size_t n, MPI_Comm group);
/* The same in pieces of `piece` floats (for the tests). */
rmens_status rmens_gradients_sum_pieces(float *grads, size_t n, size_t piece, MPI_Comm group);

#endif
