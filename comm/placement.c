#include "comm/placement.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "comm/memory.h"
#include "comm/verdict.h"

rmens_status rmens_placement_init(rmens_placement *p, MPI_Comm world, int K)
{
    memset(p, 0, sizeof *p);
    p->group = MPI_COMM_NULL;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_size(world, &p->P), "MPI_Comm_size"));
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(world, &p->rank), "MPI_Comm_rank"));
    p->K = K;
    if (K < 1)
        return rmens_fail(RMENS_ERR_ARG, "`members` must be at least 1, got %d", K);
    if (p->P > K && p->P % K != 0) {
        char works[160] = "";
        size_t at = 0;
        for (int q = 1; q <= K && at < sizeof works - 16; q++)
            at += (size_t)snprintf(works + at, sizeof works - at, "%s%d", q > 1 ? ", " : "", q);
        for (int m = 2; m <= 4 && at < sizeof works - 16; m++)
            at += (size_t)snprintf(works + at, sizeof works - at, ", %d", m * K);
        return rmens_fail(RMENS_ERR_ARG, "%d ranks cannot be shared among %d members: use at most %d ranks (a rank "
                          "trains several members) or a multiple of %d (ranks train a member together): P = %s, ...",
                          p->P, K, K, K, works);
    }
    p->group_size = p->P > K ? p->P / K : 1;
    p->local = malloc((size_t)(K / p->P + 1) * sizeof *p->local);
    if (!p->local)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (p->group_size == 1) {
        for (int k = p->rank; k < K; k += p->P)
            p->local[p->n_local++] = k;
        RMENS_TRY(rmens_mpi_check(MPI_Comm_dup(MPI_COMM_SELF, &p->group), "MPI_Comm_dup"));
        p->group_rank = 0;
    } else {
        int k = p->rank / p->group_size;
        p->local[p->n_local++] = k;
        RMENS_TRY(rmens_mpi_check(MPI_Comm_split(world, k, p->rank, &p->group), "MPI_Comm_split"));
        RMENS_TRY(rmens_mpi_check(MPI_Comm_set_errhandler(p->group, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler"));
        RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(p->group, &p->group_rank), "MPI_Comm_rank"));
    }
    return RMENS_OK;
}

void rmens_placement_free(rmens_placement *p)
{
    if (p->group != MPI_COMM_NULL)
        MPI_Comm_free(&p->group);
    free(p->local);
    memset(p, 0, sizeof *p);
}

int rmens_placement_owner(const rmens_placement *p, int k)
{
    return p->group_size == 1 ? k % p->P : k * p->group_size;
}

rmens_status rmens_data_budget(MPI_Comm comm, int64_t requested, int64_t *bytes)
{
    *bytes = requested;
    if (requested != 0)
        return RMENS_OK;
    int on_node = 1;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm node = MPI_COMM_NULL;
        RMENS_TRY(rmens_mpi_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
                                  "MPI_Comm_split_type(node)"));
        rmens_status st = rmens_mpi_check(MPI_Comm_size(node, &on_node), "MPI_Comm_size(node)");
        MPI_Comm_free(&node);
        RMENS_TRY(st);
    }
    char source[4500];
    double mem = rmens_memory_allowance(source, sizeof source);  /* node, SLURM or cgroup */
    *bytes = (int64_t)(mem / 4 / on_node);
    if (*bytes < 1)
        *bytes = 1;
    return RMENS_OK;
}
