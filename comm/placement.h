/* Which rank trains which ensemble member.
 *   K >= P: member k lives on rank k mod P; a rank steps its members in turn.
 *   P >  K, P divisible by K: member k gets ranks [k G, (k+1) G), G = P / K, which train
 *           it data-parallel (MPI_Comm_split), averaging gradients every step.
 *   anything else is refused with the rank counts that would work. */
#ifndef RMENS_COMM_PLACEMENT_H
#define RMENS_COMM_PLACEMENT_H

#include "rmens_mpi.h"

typedef struct {
    int P, K, rank;
    int group_size;       /* G: ranks per member (1 unless P > K) */
    int n_local;          /* members this rank (helps) train */
    int *local;           /* [n_local] their indices */
    MPI_Comm group;       /* the ranks sharing this rank's member (G > 1), else MPI_COMM_SELF */
    int group_rank;       /* rank within group; 0 is the member's owner for I/O and metrics */
} rmens_placement;

rmens_status rmens_placement_init(rmens_placement *p, MPI_Comm world, int K);
void rmens_placement_free(rmens_placement *p);
/* The world rank that owns member k (group rank 0 of its group). */
int rmens_placement_owner(const rmens_placement *p, int k);

/* Bytes of data tokens a rank may hold in memory (collective over comm; MPI_COMM_NULL:
 * this process alone). requested > 0 is taken as is, < 0 means no limit; 0 chooses a
 * quarter of the node's memory (or of SLURM's allocation on it, if smaller) shared among
 * the ranks on the node. */
rmens_status rmens_data_budget(MPI_Comm comm, int64_t requested, int64_t *bytes);

#endif
