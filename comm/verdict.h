/* How errors cross ranks: MPI return codes become rmens_status with MPI's own error
 * string, and a collective verdict makes every rank of a communicator return the same
 * status and message, so no rank waits forever for one that already gave up. */
#ifndef RMENS_COMM_VERDICT_H
#define RMENS_COMM_VERDICT_H

#include "rmens_mpi.h"

/* If rc is not MPI_SUCCESS, records "<what>: <MPI error string>" and returns
 * RMENS_ERR_MPI; else RMENS_OK. Needs MPI_ERRORS_RETURN on the communicator. */
rmens_status rmens_mpi_check(int rc, const char *what);

/* Collective over comm: returns the status of the lowest-numbered failing rank (and
 * installs its message on every rank), or RMENS_OK if all succeeded. MPI_COMM_NULL:
 * returns st unchanged. */
rmens_status rmens_verdict(MPI_Comm comm, rmens_status st);

#endif
