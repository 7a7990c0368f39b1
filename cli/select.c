/* rmens select: options for choosing the pairs to label next. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "ensemble/selector.h"

static const char help[] =
    "usage: mpiexec -n P rmens select --ckpt ens.h5 --pool pool.h5 --budget B\n"
    "                                 --by random|std|votes|bald|entropy|thompson --out picked.h5 [options]\n"
    "\n"
    "Active learning: every pair of an unlabelled pool (a pairs file whose chosen/rejected\n"
    "order means nothing) is scored by every member, valued by the acquisition --by, and the\n"
    "B most worth labelling are written to --out (the others to --rest), each record with\n"
    "every field it had, in pool order. Acquisitions, on the members' margins d_k (higher =\n"
    "label first; all symmetric in the two responses):\n"
    "  random    none: a uniformly random subset drawn from --seed\n"
    "  std       std of the d_k (disagreement)\n"
    "  votes     vote split min(#d_k > 0, #d_k < 0) / K\n"
    "  bald      mutual information of the decision and the member (BALD)\n"
    "  entropy   the ensemble's predictive entropy (uncertainty sampling)\n"
    "  thompson  double Thompson sampling: per pair two distinct members drawn from --seed,\n"
    "            value -d_k1 * d_k2 (largest when the two draws disagree most)\n"
    "Ties go to the pair with the larger key drawn from --seed (docs/EVALUATION.md).\n"
    "\n"
    "options:\n"
    "  --ckpt FILE              ensemble checkpoint (or model file: random and entropy only)\n"
    "  --pool FILE              unlabelled pairs (rmens prep / rmens synth)\n"
    "  --budget B               pairs to pick (1 to the pool's size)\n"
    "  --by NAME                acquisition (required)\n"
    "  --out FILE               the B picked pairs\n"
    "  --rest FILE              the other pairs (the next round's pool)\n"
    "  --seed S                 tie keys and Thompson draws (default 1)\n"
    "  --normalize none|member  standardise each member's rewards (default as score; the\n"
    "                           margins are read in each member's own scale either way)\n"
    "  --threads N              BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE          memory for pool tokens per rank (default auto)\n"
    "  --force                  replace existing --out/--rest\n"
    "  --quiet                  print nothing but errors\n";

int rmens_cmd_select(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'}, {"pool", 1, 0, 'p'}, {"out", 1, 0, 'o'}, {"rest", 1, 0, 'r'}, {"by", 1, 0, 'b'},
        {"budget", 1, 0, 'B'}, {"seed", 1, 0, 's'}, {"normalize", 1, 0, 'n'}, {"threads", 1, 0, 't'},
        {"force", 0, 0, 'f'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"data-mem", 1, 0, 'D'}, {0, 0, 0, 0}};
    rmens_select_options o = {0};
    o.normalize = -1;
    o.seed = 1;
    o.by = RMENS_ACQ_N;  /* --by not given */
    int c, rank = rmens_cli_rank(comm), quiet = 0;
    int64_t threads = 1, v;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'p': o.pool = optarg; break;
        case 'o': o.out = optarg; break;
        case 'r': o.rest = optarg; break;
        case 'b':
            if (rmens_acquisition_parse(optarg, &o.by))
                st = rmens_fail(RMENS_ERR_ARG, "--by: expected random, std, votes, bald, entropy or thompson, got '%s'",
                                optarg);
            break;
        case 'B':
            if (rmens_cli_int(optarg, &o.budget) || o.budget < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--budget: expected a positive integer, got '%s'", optarg);
            break;
        case 's':
            if (rmens_cli_int(optarg, &v) || v < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--seed: expected a non-negative integer, got '%s'", optarg);
            o.seed = (uint64_t)v;
            break;
        case 'n':
            if (rmens_cli_normalize(optarg, &o.normalize))
                st = rmens_fail(RMENS_ERR_ARG, "--normalize: expected none or member, got '%s'", optarg);
            break;
        case 't':
            if (rmens_cli_int(optarg, &threads) || threads < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--threads: expected a positive integer, got '%s'", optarg);
            break;
        case 'f': o.force = 1; break;
        case 'q': quiet = 1; break;
        case 'D':
            if (rmens_cli_data_mem(optarg, &o.data_budget))
                st = rmens_fail(RMENS_ERR_ARG, "--data-mem: expected a size such as 512M, 4G or 0, got '%s'", optarg);
            break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens select --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.pool || !o.out || !o.budget || o.by == RMENS_ACQ_N))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt, --pool, --budget, --by and --out are required");
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "select", st);
    if ((st = rmens_cli_normalize_default(comm, o.ckpt, &o.normalize)) != RMENS_OK)
        return rmens_cli_report(comm, "select", st);
    char cmd[4096];
    rmens_cli_command(cmd, sizeof cmd, "select", argc, argv);
    o.command = cmd;
    rmens_set_num_threads((int)threads);
    rmens_select_result r;
    if ((st = rmens_select(&o, comm, &r)) == RMENS_OK && rank == 0 && !quiet) {
        printf("select: %lld of %lld pairs of %s by %s (%d member%s of %s) -> %s", (long long)r.picked,
               (long long)r.pool, o.pool, rmens_acquisition_names[o.by], r.members, r.members > 1 ? "s" : "", o.ckpt,
               o.out);
        if (o.rest)
            printf(", %lld -> %s", (long long)(r.pool - r.picked), o.rest);
        printf("\n  %s of the picks %.4f on average, of the pool %.4f\n", rmens_acquisition_names[o.by],
               r.value_picked, r.value_pool);
        if (r.has_gold)
            printf("  gold reward gap |gold_a - gold_b|: %.4f of the picks, %.4f of the pool\n", r.gap_picked,
                   r.gap_pool);
        fflush(stdout);
    }
    return rmens_cli_report(comm, "select", st);
}
