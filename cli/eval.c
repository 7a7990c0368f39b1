/* rmens eval: options for the collective evaluator. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/evaluator.h"

static const char help[] =
    "usage: mpiexec -n P rmens eval --ckpt ens.h5 --data pairs.h5 [--json report.json] [options]\n"
    "\n"
    "Prints, and writes as JSON: each member's pairwise accuracy and the ensemble's deciding\n"
    "by mean, min (worst case) and mean - lambda var; calibration of sigmoid(r_w - r_l)\n"
    "(expected calibration error over 15 bins, Brier score, NLL) per member and for the\n"
    "ensemble's mean probability; the AUROC of the members' disagreement on a pair (std of\n"
    "r_w - r_l) for spotting the ensemble's errors, and accuracy when only the 50%, 80%,\n"
    "100% least disputed pairs are kept; reward against response length; accuracy on each\n"
    "trap kind (synthetic data); with --ood, disagreement in vs out of distribution.\n"
    "\n"
    "options:\n"
    "  --ckpt FILE              ensemble checkpoint or model file\n"
    "  --data FILE              pairs file\n"
    "  --ood FILE               pairs or responses file from another distribution (or give\n"
    "                           --data a second time)\n"
    "  --json FILE              the report as JSON (written atomically; refused if it exists)\n"
    "  --force                  replace an existing --json\n"
    "  --lambda X               uncertainty weight (default 0.5)\n"
    "  --normalize none|member  standardise each member's rewards by its training statistics\n"
    "                           first (default member when the checkpoint has them)\n"
    "  --threads N              BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE          memory for data tokens per file and rank (e.g. 512M, 4G); a\n"
    "                           larger file is read in chunks (default auto; 0: always)\n"
    "  --quiet                  no table\n";

int rmens_cmd_eval(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'}, {"data", 1, 0, 'd'},      {"ood", 1, 0, 'O'},   {"json", 1, 0, 'j'},
        {"lambda", 1, 0, 'l'}, {"normalize", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {"data-mem", 1, 0, 'D'}, {"force", 0, 0, 'f'}, {0, 0, 0, 0}};
    rmens_eval_options o = {0};
    o.lambda = 0.5;
    o.normalize = -1;
    int c, rank = rmens_cli_rank(comm);
    int64_t threads = 1;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'd':
            /* --data given twice: the second file is the out-of-distribution one. */
            if (o.data && !o.ood)
                o.ood = optarg;
            else if (o.data)
                st = rmens_fail(RMENS_ERR_ARG, "--data given three times (or with --ood)");
            else
                o.data = optarg;
            break;
        case 'O':
            if (o.ood)
                st = rmens_fail(RMENS_ERR_ARG, "--ood given twice (or with a second --data)");
            o.ood = optarg;
            break;
        case 'f': o.force = 1; break;
        case 'j': o.json = optarg; break;
        case 'l':
            if (rmens_cli_double(optarg, &o.lambda) || o.lambda < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--lambda: expected a non-negative number, got '%s'", optarg);
            break;
        case 'n':
            if (rmens_cli_normalize(optarg, &o.normalize))
                st = rmens_fail(RMENS_ERR_ARG, "--normalize: expected none or member, got '%s'", optarg);
            break;
        case 't':
            if (rmens_cli_int(optarg, &threads) || threads < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--threads: expected a positive integer, got '%s'", optarg);
            break;
        case 'q': o.quiet = 1; break;
        case 'D':
            if (rmens_cli_data_mem(optarg, &o.data_budget))
                st = rmens_fail(RMENS_ERR_ARG, "--data-mem: expected a size such as 512M, 4G or 0, got '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens eval --help)", argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.data))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt and --data are required");
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "eval", st);
    if ((st = rmens_cli_normalize_default(comm, o.ckpt, &o.normalize)) != RMENS_OK)
        return rmens_cli_report(comm, "eval", st);
    rmens_set_num_threads((int)threads);
    return rmens_cli_report(comm, "eval", rmens_eval(&o, comm));
}
