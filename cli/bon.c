/* rmens bon: options for best-of-n selection. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "ensemble/bon.h"

static const char help[] =
    "usage: mpiexec -n P rmens bon --ckpt ens.h5 --candidates cands.h5 --by mean|min|uwo|member:K\n"
    "                              --out picked.h5 [options]\n"
    "\n"
    "Best-of-n selection (rejection sampling; data for best-of-n distillation): every\n"
    "candidate response of a responses file grouped by prompt (rmens prep --responses:\n"
    "/prompt_id) is scored by every member, and for each prompt the candidate with the\n"
    "highest aggregate is picked: the members' mean, min (worst case), mean - lambda var\n"
    "(uwo), or member K's reward alone. Ties go to the lowest candidate index. The picks file\n"
    "holds, per prompt, the pick's index and tokens, its per-member rewards, mean, min, std,\n"
    "uwo, the group size, and the uncertainty of preferring it to the runner-up.\n"
    "\n"
    "options:\n"
    "  --ckpt FILE              ensemble checkpoint or model file\n"
    "  --candidates FILE        responses file grouped by prompt id\n"
    "  --by RULE                mean, min, uwo or member:K (required)\n"
    "  --out FILE               picks file (refused if it exists, unless --force)\n"
    "  --lambda X               uncertainty weight of uwo (default 0.5)\n"
    "  --normalize none|member  standardise each member's rewards first (default member when\n"
    "                           the checkpoint has statistics, as score)\n"
    "  --threads N              BLAS threads per rank (default 1)\n"
    "  --data-mem SIZE          memory for candidate tokens per rank (default auto)\n"
    "  --curve FILE             also write best-of-n curves (CSV: by,n,kl_bon,proxy,gold,prompts)\n"
    "                           for every member and rule, n = 1, 2, 4, ... up to the smallest\n"
    "                           group: the expected proxy and gold reward of the pick among n\n"
    "                           candidates drawn from each group (the unbiased estimator of\n"
    "                           Coste et al.), KL_bon = log n - (n-1)/n; --by and --out are\n"
    "                           then optional\n"
    "  --aggregate min|prod|last  a process reward model (rmens train --objective prm) picks\n"
    "                           among the solutions of a steps file grouped by prompt: each\n"
    "                           member's reward of a solution is its steps' probabilities\n"
    "                           aggregated by their min (default, Math-Shepherd), product\n"
    "                           (Lightman et al.) or the last step's; gold is whether the\n"
    "                           solution is right (every labelled step right)\n"
    "  --force                  replace an existing --out (and --curve)\n"
    "  --quiet                  print nothing but errors\n";

/* "mean", "min", "uwo" or "member:K". */
static int parse_by(const char *s, rmens_bon_options *o)
{
    for (int r = 0; r < RMENS_RULE_N; r++)
        if (strcmp(s, rmens_rule_names[r]) == 0) {
            o->rule = (rmens_rule)r, o->member = -1;
            return 0;
        }
    int64_t k;
    if (strncmp(s, "member:", 7) == 0 && rmens_cli_int(s + 7, &k) == 0 && k >= 0 && k < 1 << 20) {
        o->member = (int)k;
        return 0;
    }
    return -1;
}

/* The curve as CSV, written to a temporary and renamed (the library computed it). */
static rmens_status write_curve(const char *path, const rmens_bon_result *r)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    fprintf(f, "by,n,kl_bon,proxy,gold,prompts\n");
    for (int i = 0; i < r->ncurve; i++) {
        const rmens_bon_point *p = &r->curve[i];
        fprintf(f, "%s,%lld,%.17g,%.17g,%.17g,%lld\n", p->by, (long long)p->n, p->kl, p->proxy, p->gold,
                (long long)r->prompts);
    }
    rmens_status st = RMENS_OK;
    if (ferror(f) | fclose(f))
        st = rmens_fail(RMENS_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
        st = rmens_fail(RMENS_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != RMENS_OK)
        remove(tmp);
    return st;
}

int rmens_cmd_bon(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"ckpt", 1, 0, 'c'}, {"candidates", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"by", 1, 0, 'b'},
        {"lambda", 1, 0, 'l'}, {"normalize", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"force", 0, 0, 'f'},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"data-mem", 1, 0, 'D'}, {"curve", 1, 0, 'C'},
        {"aggregate", 1, 0, 'A'}, {0, 0, 0, 0}};
    rmens_bon_options o = {0};
    o.lambda = 0.5;
    o.normalize = -1;
    o.member = -2;  /* --by not given */
    int c, rank = rmens_cli_rank(comm), quiet = 0;
    int64_t threads = 1;
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o.ckpt = optarg; break;
        case 'd': o.candidates = optarg; break;
        case 'o': o.out = optarg; break;
        case 'b':
            if (parse_by(optarg, &o))
                st = rmens_fail(RMENS_ERR_ARG, "--by: expected mean, min, uwo or member:K, got '%s'", optarg);
            break;
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
        case 'f': o.force = 1; break;
        case 'C': o.curve = optarg; break;
        case 'A':
            if (rmens_cli_aggregate(optarg, &o.aggregate))
                st = rmens_fail(RMENS_ERR_ARG, "--aggregate: expected min, prod or last, got '%s'", optarg);
            break;
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
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens bon --help)", argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && (!o.ckpt || !o.candidates || (!o.curve && (!o.out || o.member == -2))))
        st = rmens_fail(RMENS_ERR_ARG, "--ckpt, --candidates, --by and --out are required (--by and --out not with "
                        "--curve)");
    if (st == RMENS_OK && o.out && o.member == -2)
        st = rmens_fail(RMENS_ERR_ARG, "--out needs --by");
    if (o.member == -2)
        o.member = -1, o.rule = RMENS_RULE_MEAN;
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "bon", st);
    if (rmens_prm_wanted(o.ckpt, o.candidates))  /* probabilities: nothing to standardise */
        o.normalize = o.normalize < 0 ? 0 : o.normalize;
    else if ((st = rmens_cli_normalize_default(comm, o.ckpt, &o.normalize)) != RMENS_OK)
        return rmens_cli_report(comm, "bon", st);
    char cmd[4096];
    rmens_cli_command(cmd, sizeof cmd, "bon", argc, argv);
    o.command = cmd;
    rmens_set_num_threads((int)threads);
    rmens_bon_result r;
    st = rmens_bon(&o, comm, &r);
    if (st == RMENS_OK && rank == 0 && o.curve)
        st = write_curve(o.curve, &r);
    if (st == RMENS_OK && rank == 0 && !quiet && !o.out) {
        printf("bon: %lld candidates of %s scored by %d member%s of %s -> curves %s\n", (long long)r.candidates,
               o.candidates, r.members, r.members > 1 ? "s" : "", o.ckpt, o.curve);
        fflush(stdout);
    } else if (st == RMENS_OK && rank == 0 && !quiet) {
        printf("bon: %lld prompts, %lld candidates (%.2f per prompt) of %s scored by %d member%s of %s -> %s\n",
               (long long)r.prompts, (long long)r.candidates, r.mean_group, o.candidates, r.members,
               r.members > 1 ? "s" : "", o.ckpt, o.out);
        char by[32];
        if (o.member >= 0)
            snprintf(by, sizeof by, "member %d", o.member);
        else
            snprintf(by, sizeof by, "%s", rmens_rule_names[o.rule]);
        printf("  picked by %s: mean aggregate of the picks %.4f; the first candidate picked for %lld prompts\n", by,
               r.mean_value, (long long)r.picked_first);
        if (r.has_gold)
            printf("  gold reward: %.4f of the picks, %.4f of a random candidate\n", r.gold_picked, r.gold_random);
        if (o.curve)
            printf("  best-of-n curves -> %s\n", o.curve);
        fflush(stdout);
    }
    rmens_bon_result_free(&r);
    return rmens_cli_report(comm, "bon", st);
}
