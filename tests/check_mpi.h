/* The MPI Check test programs' start and end: MPI initialised once, errors returned (not
 * fatal), Check without fork (forked children cannot share MPI), and one verdict over
 * every rank's failures. */
#ifndef RMENS_TESTS_CHECK_MPI_H
#define RMENS_TESTS_CHECK_MPI_H

#include <mpi.h>

#include "tests/check_util.h"

static inline void check_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    MPI_Init(argc, argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
}

/* Runs s (rank 0 reports), prints the total on rank 0; returns the failures of all ranks. */
static inline int check_mpi_run(Suite *s, int rank, int size)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr), total = 0;
    srunner_free(sr);
    MPI_Allreduce(&failed, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%d rank(s): %d failure(s) in total\n", size, total);
    return total;
}

#endif
