/* rmens synth: runs on rank 0; the other ranks only share its verdict. */
#include <getopt.h>
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
    "up (longer, markdown, confident) and are flagged in /trap.\n"
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
    "  --responses     write a responses file (chosen then rejected of each pair)\n"
    "  --steps-file    (task steps) write a steps file for process RMs: the right then\n"
    "                  the wrong solution of each problem, a label per step\n"
    "  --force         replace an existing output file\n"
    "  --quiet         print nothing but errors\n";

int rmens_cmd_synth(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},   {"task", required_argument, 0, 't'},
        {"split", required_argument, 0, 'p'}, {"n", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},  {"traps", required_argument, 0, 'r'},
        {"responses", no_argument, 0, 'R'},   {"force", no_argument, 0, 'x'},
        {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
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
                   o.responses ? "responses" : o.steps_file ? "solutions" : "pairs",
                   rmens_task_name(o.task), o.split == RMENS_SPLIT_TEST ? "test" : "train",
                   (unsigned long long)o.seed, out);
        rmens_dataset_free(ds);
    }
    return rmens_cli_report(comm, "synth", st);
}
