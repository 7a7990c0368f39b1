#include "comm/gradients.h"

#include "base/error.h"
#include "comm/verdict.h"

rmens_status rmens_gradients_sum_pieces(float *grads, size_t n, size_t piece, MPI_Comm group)
{
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(group, &rank), "MPI_Comm_rank"));
    for (size_t at = 0; at < n; at += piece) {
        const int count = (int)(n - at < piece ? n - at : piece);
        float *g = grads + at;
        RMENS_TRY(rmens_mpi_check(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : g, rank == 0 ? g : NULL, count, MPI_FLOAT,
                                             MPI_SUM, 0, group), "MPI_Reduce(gradients)"));
        RMENS_TRY(rmens_mpi_check(MPI_Bcast(g, count, MPI_FLOAT, 0, group), "MPI_Bcast(gradients)"));
    }
    return RMENS_OK;
}

rmens_status rmens_gradients_sum(float *grads, size_t n, MPI_Comm group)
{
    return rmens_gradients_sum_pieces(grads, n, (size_t)1 << 30, group);
}
