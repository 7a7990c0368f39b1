#include "comm/sum.h"

#include "base/error.h"
#include "comm/verdict.h"

rmens_status rmens_sum_pieces(float *buf, size_t n, size_t piece, int to_all, MPI_Comm comm)
{
    if (piece == 0)
        return rmens_fail(RMENS_ERR_INTERNAL, "rmens_sum_pieces: pieces of 0 floats");
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    for (size_t at = 0; at < n; at += piece) {
        const int count = (int)(n - at < piece ? n - at : piece);
        float *b = buf + at;
        RMENS_TRY(rmens_mpi_check(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : b, rank == 0 ? b : NULL, count, MPI_FLOAT,
                                             MPI_SUM, 0, comm), "MPI_Reduce(sum)"));
        if (to_all)
            RMENS_TRY(rmens_mpi_check(MPI_Bcast(b, count, MPI_FLOAT, 0, comm), "MPI_Bcast(sum)"));
    }
    return RMENS_OK;
}

rmens_status rmens_sum_all(float *buf, size_t n, MPI_Comm comm)
{
    return rmens_sum_pieces(buf, n, (size_t)1 << 30, 1, comm);
}

rmens_status rmens_sum_root(float *buf, size_t n, MPI_Comm comm)
{
    return rmens_sum_pieces(buf, n, (size_t)1 << 30, 0, comm);
}
