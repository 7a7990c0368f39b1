/* rmens's collective entry points: the same library as <rmens.h>, over MPI.
 *
 *     #include <rmens_mpi.h>   // build with mpicc
 *
 *     rmens_dataset *ds;
 *     if (rmens_dataset_read_comm(&ds, "train.h5", MPI_COMM_WORLD, -1) != RMENS_OK) ...
 *
 * A function taking an MPI_Comm is collective over it: every rank calls it, and every
 * rank returns the same status and message (no rank waits on one that gave up).
 * MPI_COMM_NULL makes it serial. */
#ifndef RMENS_MPI_H
#define RMENS_MPI_H

#include <mpi.h>

#include "rmens.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rmens_dataset_read_bounded over comm: every rank reads the whole file through MPI-IO;
 * a streamed data set (tokens over max_bytes; < 0: no limit) is validated in parts, one
 * per rank. */
RMENS_API rmens_status rmens_dataset_read_comm(rmens_dataset **out, const char *path, MPI_Comm comm,
                                               int64_t max_bytes);

#ifdef __cplusplus
}
#endif
#endif
