#include "comm/verdict.h"

#include <limits.h>
#include <string.h>

#include "base/error.h"

rmens_status rmens_mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return RMENS_OK;
    char s[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
        strcpy(s, "unknown MPI error");
    return rmens_fail(RMENS_ERR_MPI, "%s failed: %s", what, s);
}

rmens_status rmens_verdict(MPI_Comm comm, rmens_status st)
{
    if (comm == MPI_COMM_NULL)
        return st;
    int rank, first;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    int mine = st != RMENS_OK ? rank : INT_MAX;
    RMENS_TRY(rmens_mpi_check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm),
                              "MPI_Allreduce(verdict)"));
    if (first == INT_MAX)
        return RMENS_OK;
    struct {
        int code;
        char msg[2048];
    } v;
    memset(&v, 0, sizeof v);
    if (rank == first) {
        v.code = (int)st;
        strncpy(v.msg, rmens_last_error(), sizeof v.msg - 1);
    }
    RMENS_TRY(rmens_mpi_check(MPI_Bcast(&v, (int)sizeof v, MPI_BYTE, first, comm),
                              "MPI_Bcast(verdict)"));
    rmens_error_set_message(v.msg);
    return (rmens_status)v.code;
}
