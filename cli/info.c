/* rmens info: runs on rank 0; the other ranks only share its verdict. */
#include <getopt.h>
#include <stdio.h>

#include "base/error.h"
#include "cli/cli.h"

static const char help[] =
    "usage: rmens info FILE [--show I]\n"
    "\n"
    "Describes an rmens HDF5 file (kind, version, counts, token-length statistics,\n"
    "attributes) after checking every rule of docs/FORMAT.md; a file that breaks one is\n"
    "rejected with what is wrong and where.\n"
    "\n"
    "options:\n"
    "  --show I   also print record I (0-based) decoded as text\n";

int rmens_cmd_info(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"show", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int64_t show = -1;
    int c, rank = rmens_cli_rank(comm);
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's') {
            if (rmens_cli_int(optarg, &show) || show < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--show: not a record index: '%s'", optarg);
        } else if (c == 'h') {
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        } else {
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens info --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc - 1)
        st = rmens_fail(RMENS_ERR_ARG, "expected exactly one FILE (see rmens info --help)");
    if (st == RMENS_OK && rank == 0)
        st = rmens_info(stdout, argv[optind], show);
    return rmens_cli_report(comm, "info", st);
}
