/* rmens score: options for the collective scorer. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "ensemble/prm.h"
#include "ensemble/scorer.h"

static const char help[] =
    "usage: mpiexec -n P rmens score --ckpt ens.h5 --data FILE.h5 --out scores.h5 [options]\n"
    "\n"
    "Scores every sequence of a responses file, or both sides of every pair of a pairs file,\n"
    "with every member of an ensemble checkpoint (or a single model file), and writes per\n"
    "sequence: mean, min, max, var (population variance over members), std, uwo = mean -\n"
    "lambda var, wco = min. Members are spread over ranks as in training.\n"
    "\n"
    "options:\n"
    "  --ckpt FILE            ensemble checkpoint (rmens train) or model file\n"
    "  --data FILE            responses or pairs file\n"
    "  --out FILE             scores file (refused if it exists, unless --force)\n"
    "  --lambda X             uncertainty weight for uwo (default 0.5)\n"
    "  --normalize none|member  standardise each member's rewards by its training statistics\n"
    "                         first (default member when the checkpoint has them, as eval)\n"
    "  --per-member           also write every member's reward: rewards [N, K]\n"
    "  --aggregate min|prod|last  a process reward model on a steps file: every member's\n"
    "                         probability of every step, the ensemble's per-step mean, std\n"
    "                         and min, and each solution's score from its steps' mean\n"
    "                         probabilities: the least (min, default), the product (prod) or\n"
    "                         the last step's (last) (docs/FORMAT.md, \"scores\" of steps)\n"
    "  --batch B              sequences per forward pass (default 64; memory grows with it)\n"
    "  --threads N            BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE        memory for data tokens per rank (e.g. 512M, 4G); a larger file\n"
    "                         is read in chunks (default auto; 0: always)\n"
    "  --force                replace an existing --out\n"
    "  --quiet                print nothing but errors\n";

int rmens_cmd_score(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'},  {"data", 1, 0, 'd'},    {"out", 1, 0, 'o'},         {"lambda", 1, 0, 'l'},
        {"normalize", 1, 0, 'n'}, {"per-member", 0, 0, 'p'}, {"threads", 1, 0, 't'}, {"force", 0, 0, 'f'},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"data-mem", 1, 0, 'D'},    {"batch", 1, 0, 'b'},
        {"aggregate", 1, 0, 'A'}, {0, 0, 0, 0}};
    rmens_aggregate aggregate = RMENS_AGG_MIN;
    rmens_score_options o = {0};
    o.lambda = 0.5;
    o.normalize = -1;
    int c, rank = rmens_cli_rank(comm), quiet = 0;
    int64_t threads = 1;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'd': o.data = optarg; break;
        case 'o': o.out = optarg; break;
        case 'l':
            if (rmens_cli_double(optarg, &o.lambda) || o.lambda < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--lambda: expected a non-negative number, got '%s'", optarg);
            break;
        case 'n':
            if (rmens_cli_normalize(optarg, &o.normalize))
                st = rmens_fail(RMENS_ERR_ARG, "--normalize: expected none or member, got '%s'", optarg);
            break;
        case 'p': o.per_member = 1; break;
        case 'A':
            if (rmens_cli_aggregate(optarg, &aggregate))
                st = rmens_fail(RMENS_ERR_ARG, "--aggregate: expected min, prod or last, got '%s'", optarg);
            break;
        case 'b': {
            int64_t b;
            if (rmens_cli_int(optarg, &b) || b < 1 || b > 1 << 20)
                st = rmens_fail(RMENS_ERR_ARG, "--batch: expected a positive integer, got '%s'", optarg);
            o.batch = (int)b;
            break;
        }
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
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens score --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.data || !o.out))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt, --data and --out are required");
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "score", st);
    if (rmens_prm_wanted(o.ckpt, o.data)) {  /* a process reward model and a steps file */
        char cmd[4096];
        rmens_cli_command(cmd, sizeof cmd, "score", argc, argv);
        rmens_set_num_threads((int)threads);
        rmens_prm_score_options po = {o.ckpt, o.data, o.out, cmd, aggregate, o.force, o.batch};
        rmens_prm_score_result pr;
        if ((st = rmens_prm_score(&po, comm, &pr)) == RMENS_OK && rank == 0 && !quiet) {
            printf("score: %lld solutions (%lld steps) of %s by %d member%s of %s -> %s (aggregate %s)\n",
                   (long long)pr.n, (long long)pr.steps, o.data, pr.members, pr.members > 1 ? "s" : "", o.ckpt, o.out,
                   rmens_aggregate_names[aggregate]);
            printf("  %.2f s; %lld solutions cut to n_ctx %d from the front, %lld steps lost to the cut (NaN)\n",
                   pr.seconds, (long long)pr.n_cut, pr.n_ctx, (long long)pr.steps_cut);
            fflush(stdout);
        }
        return rmens_cli_report(comm, "score", st);
    }
    if ((st = rmens_cli_normalize_default(comm, o.ckpt, &o.normalize)) != RMENS_OK)
        return rmens_cli_report(comm, "score", st);
    char cmd[4096];
    rmens_cli_command(cmd, sizeof cmd, "score", argc, argv);
    o.command = cmd;
    rmens_set_num_threads((int)threads);
    rmens_score_result r;
    if ((st = rmens_score(&o, comm, &r)) == RMENS_OK && rank == 0 && !quiet) {
        const char *unit = r.pairs ? "pairs" : "responses";
        printf("score: %lld %s of %s by %d member%s of %s -> %s\n", (long long)r.n, unit, o.data, r.members,
               r.members > 1 ? "s" : "", o.ckpt, o.out);
        printf("  %.2f s: %.1f %s/s (%.1f sequences/s); %lld sequences cut to n_ctx %d from the front\n", r.seconds,
               (double)r.n / r.seconds, unit, (double)r.sequences / r.seconds, (long long)r.n_cut, r.n_ctx);
        fflush(stdout);
    }
    return rmens_cli_report(comm, "score", st);
}
