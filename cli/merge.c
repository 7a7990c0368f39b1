/* rmens merge: job-array parts -> one ensemble checkpoint (rank 0 does the work). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "io/checkpoint.h"

static const char help[] =
    "usage: rmens merge --out ens.h5 [--force] PART.h5...\n"
    "\n"
    "Joins the one-member checkpoints of a job array (each task ran rmens train --members K\n"
    "--member k) into one ensemble checkpoint, with the same members, moments, samples and\n"
    "metrics as one MPI run of all K would have written. The parts must be members 0 to K-1,\n"
    "finished, and trained with the same data and settings.\n";

int rmens_cmd_merge(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"out", 1, 0, 'o'}, {"force", 0, 0, 'f'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int force = 0, c, rank = rmens_cli_rank(comm);
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            force = 1;
        else if (c == 'h') {
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        } else
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens merge --help)",
                            argv[optind - 1]);
    }
    if (st == RMENS_OK && (!out || optind >= argc))
        st = rmens_fail(RMENS_ERR_ARG, "--out and at least one part are required");
    if (st == RMENS_OK && rank == 0) {
        char cmd[4096];
        rmens_cli_command(cmd, sizeof cmd, "merge", argc, argv);
        st = rmens_checkpoint_merge(out, (const char *const *)argv + optind, argc - optind, cmd, force);
        if (st == RMENS_OK)
            printf("merge: %d members -> %s\n", argc - optind, out);
    }
    return rmens_cli_report(comm, "merge", st);
}
