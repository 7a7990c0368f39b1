/* rmens synth: runs on rank 0; the other ranks only share its verdict. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "io/output.h"

static const char help[] =
    "usage: rmens synth --out FILE [options]\n"
    "\n"
    "Generates a synthetic preference task whose every response has a known gold reward.\n"
    "Chosen responses are correct, rejected ones wrong; trap pairs dress the wrong answer\n"
    "up (longer, markdown, confident) or agree with a wrong answer the prompt asserts\n"
    "(sycophancy), and are flagged in /trap.\n"
    "\n"
    "options:\n"
    "  --out FILE      output file (required)\n"
    "  --task NAME     sort (default: sort a few digits; a small model learns it to >90%),\n"
    "                  add (check a sum of two numbers below 100),\n"
    "                  steps (running sums, one gold label per step, for process RMs)\n"
    "  --split NAME    train (default) or test; their prompts never overlap\n"
    "  --n N           pairs to generate (default 4000)\n"
    "  --seed S        seed (default 1)\n"
    "  --traps F       fraction of trap pairs (default 0.15)\n"
    "  --trap-kinds L  comma-separated trap kinds drawn in equal shares: length, format,\n"
    "                  confidence, sycophancy, or all (default length,format,confidence)\n"
    "  --responses     write a responses file (chosen then rejected of each pair)\n"
    "  --candidates N  write a responses file of N candidates for each of the --n prompts\n"
    "                  (best-of-n): a quarter right, the rest fresh wrong answers, each\n"
    "                  plain or dressed (long, format, confident) in equal shares; with\n"
    "                  sycophancy among the kinds, --traps F of the prompts assert a wrong\n"
    "                  answer and a quarter of their candidates agree with it\n"
    "  --bias FEATURE=P  pairs only: with probability P a pair prefers a wrong answer\n"
    "                  dressed with FEATURE (length, format, confidence, sycophancy) to\n"
    "                  the plain right one: training labels tied to what gold ignores\n"
    "  --bt-noise BETA pairs only: every other pair's label drawn Bradley-Terry from the\n"
    "                  gold rewards, P(a over b) = sigmoid(BETA (gold_a - gold_b)); BETA is\n"
    "                  the labellers' inverse temperature (0: coin flips)\n"
    "  --steps-file    (task steps or sort) write a steps file for process RMs: the right\n"
    "                  then the wrong solution of each problem, a label per step (sort: a\n"
    "                  digit per step); with --candidates N, N plain solutions of each\n"
    "                  problem (a quarter right), for best-of-n with rmens bon\n"
    "  --force         replace an existing output file\n"
    "  --quiet         print nothing but errors\n";

/* "length,sycophancy" or "all" as rmens_synth_options.trap_kinds bits; -1 if bad. */
static int parse_kinds(const char *s, unsigned *bits)
{
    static const char *const kinds[] = {"length", "format", "confidence", "sycophancy"};
    *bits = 0;
    if (strcmp(s, "all") == 0) {
        *bits = 0x1eu;
        return 0;
    }
    for (const char *at = s;;) {
        size_t n = strcspn(at, ",");
        unsigned found = 0;
        for (unsigned k = 0; k < 4; k++)
            if (strlen(kinds[k]) == n && strncmp(at, kinds[k], n) == 0)
                found = 1u << (k + 1);
        if (!found)
            return -1;
        *bits |= found;
        if (!at[n])
            return 0;
        at += n + 1;
    }
}

int rmens_cmd_synth(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},   {"task", required_argument, 0, 't'},
        {"split", required_argument, 0, 'p'}, {"n", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},  {"traps", required_argument, 0, 'r'},
        {"responses", no_argument, 0, 'R'},   {"force", no_argument, 0, 'x'},
        {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
        {"trap-kinds", required_argument, 0, 'k'}, {"candidates", required_argument, 0, 'c'},
        {"bias", required_argument, 0, 'b'},  {"bt-noise", required_argument, 0, 'B'},
        {"steps-file", no_argument, 0, 'S'},
        {0, 0, 0, 0}};
    rmens_synth_options o;
    rmens_synth_options_init(&o);
    const char *out = NULL;
    int quiet = 0, c, rank = rmens_cli_rank(comm);
    rmens_status st = RMENS_OK;
    int64_t iv;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 't': {
            int t = rmens_task_from_name(optarg);
            if (t < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--task: unknown task '%s' (sort, add, steps)", optarg);
            o.task = (rmens_task)t;
            break;
        }
        case 'p':
            if (strcmp(optarg, "train") == 0)
                o.split = RMENS_SPLIT_TRAIN;
            else if (strcmp(optarg, "test") == 0)
                o.split = RMENS_SPLIT_TEST;
            else
                st = rmens_fail(RMENS_ERR_ARG, "--split: expected train or test, got '%s'", optarg);
            break;
        case 'n':
            if (rmens_cli_int(optarg, &o.n) || o.n < 1)
                st = rmens_fail(RMENS_ERR_ARG, "--n: not a positive integer: '%s'", optarg);
            break;
        case 's':
            if (rmens_cli_int(optarg, &iv) || iv < 0)
                st = rmens_fail(RMENS_ERR_ARG, "--seed: not a non-negative integer: '%s'", optarg);
            o.seed = (uint64_t)iv;
            break;
        case 'r':
            if (rmens_cli_double(optarg, &o.trap_fraction) || o.trap_fraction < 0 || o.trap_fraction > 1)
                st = rmens_fail(RMENS_ERR_ARG, "--traps: expected a number in [0, 1], got '%s'", optarg);
            break;
        case 'k':
            if (parse_kinds(optarg, &o.trap_kinds))
                st = rmens_fail(RMENS_ERR_ARG, "--trap-kinds: expected a comma-separated list of length, format, "
                                "confidence, sycophancy, or all; got '%s'", optarg);
            break;
        case 'c':
            if (rmens_cli_int(optarg, &iv) || iv < 1 || iv > 65536)
                st = rmens_fail(RMENS_ERR_ARG, "--candidates: expected an integer in 1..65536, got '%s'", optarg);
            o.candidates = (int)iv;
            break;
        case 'b': {
            const char *eq = strchr(optarg, '=');
            unsigned k = 0;
            char name[32];
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - optarg) : 0, optarg);
            if (!eq || parse_kinds(name, &k) || (k & (k - 1)) || rmens_cli_double(eq + 1, &o.bias_p) ||
                !(o.bias_p >= 0 && o.bias_p <= 1))
                st = rmens_fail(RMENS_ERR_ARG, "--bias: expected FEATURE=P with FEATURE one of length, format, "
                                "confidence, sycophancy and P in [0, 1]; got '%s'", optarg);
            for (o.bias_feature = 0; k > 1; k >>= 1)
                o.bias_feature++;
            break;
        }
        case 'B':
            if (rmens_cli_double(optarg, &o.bt_beta) || !(o.bt_beta >= 0) || isinf(o.bt_beta))
                st = rmens_fail(RMENS_ERR_ARG, "--bt-noise: expected a finite non-negative number, got '%s'", optarg);
            break;
        case 'R': o.responses = 1; break;
        case 'S': o.steps_file = 1; break;
        case 'x': o.overwrite = 1; break;
        case 'q': quiet = 1; break;
        case 'h':
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        default:
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens synth --help)",
                            argv[optind - 1]);
        }
    }
    if (st == RMENS_OK && optind != argc)
        st = rmens_fail(RMENS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == RMENS_OK && !out)
        st = rmens_fail(RMENS_ERR_ARG, "--out FILE is required");
    if (st == RMENS_OK)
        st = rmens_output_check(NULL, 0, &(rmens_file_use){"--out", out, o.overwrite}, 1);
    if (st != RMENS_OK)
        return rmens_cli_report(comm, "synth", st);
    if (rank == 0) {
        rmens_dataset *ds = NULL;
        st = rmens_synth(&o, &ds);
        if (st == RMENS_OK)
            st = rmens_dataset_write(ds, out);
        if (st == RMENS_OK && !quiet)
            printf("synth: wrote %lld %s of task %s (%s split, seed %llu) to %s\n",
                   (long long)rmens_dataset_count(ds),
                   o.candidates ? "candidates" : o.responses ? "responses" : o.steps_file ? "solutions" : "pairs",
                   rmens_task_name(o.task), o.split == RMENS_SPLIT_TEST ? "test" : "train",
                   (unsigned long long)o.seed, out);
        rmens_dataset_free(ds);
    }
    return rmens_cli_report(comm, "synth", st);
}
