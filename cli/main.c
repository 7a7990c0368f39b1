/* rmens: the command-line program. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "base/error.h"
#include "base/fault.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"

static const char usage[] =
    "usage: rmens <command> [options]   (under MPI: mpiexec -n P rmens <command> ...)\n"
    "\n"
    "commands:\n"
    "  prep    convert JSON/JSONL preference data (HH-RLHF, prompt/chosen/rejected, messages,\n"
    "          ShareGPT; plain or .gz) to an rmens pairs file\n"
    "  synth   generate a synthetic preference task with gold rewards and trap pairs\n"
    "  train   train an ensemble of reward models under MPI\n"
    "  score   score responses or pairs with an ensemble: mean, min, variance, ...\n"
    "  bon     best-of-n: pick each prompt's best candidate by mean, min, uwo or a member\n"
    "  select  pick the pairs of an unlabelled pool most worth labelling (active learning)\n"
    "  eval    accuracy, calibration, uncertainty and bias probes of an ensemble on pairs\n"
    "  merge   join the one-member checkpoints of a job array into one ensemble\n"
    "  export  write members as Hugging Face reward models (<Arch>ForSequenceClassification)\n"
    "  serve   serve an ensemble's rewards and uncertainty over HTTP to RL jobs (OpenRLHF, ...)\n"
    "  info    describe and validate any rmens file\n"
    "  tokenize  text to ids and back with a Hugging Face tokenizer (tokenizer.json)\n"
    "  bench   measure training and scoring throughput of one reward model\n"
    "  tensorboard  write train's metrics as TensorBoard event files\n"
    "  version print the version\n"
    "\n"
    "rmens <command> --help describes each command's options.\n";

int rmens_cli_rank(MPI_Comm comm)
{
    int r = 0;
    if (comm != MPI_COMM_NULL)
        MPI_Comm_rank(comm, &r);
    return r;
}

/* Commands that need no MPI peers run without MPI (comm MPI_COMM_NULL) unless a launcher
 * started this process: MPI start-up costs about a second, and minutes where localhost
 * does not resolve (docs/RELIABILITY.md). */
static int needs_mpi(const char *cmd)
{
    static const char *const serial[] = {"prep", "synth", "info", "tokenize", "tensorboard", "export", "version", "--version",
                                         "help", "--help", "-h", "", NULL};
    for (int i = 0; serial[i]; i++)
        if (strcmp(cmd, serial[i]) == 0)
            return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
    return 1;
}

/* Library messages name option fields as `field` (the C name in the options struct);
 * the program names its flags instead. Fields whose flag is not the field's name with
 * '-' for '_': */
static const struct {
    const char *field, *flag;
} field_flags[] = {
    {"output", "out"}, {"val_output", "val-out"}, {"trap_fraction", "traps"}, {"model.n_ctx", "ctx"},
    {"opt.lr", "lr"}, {"data_budget", "data-mem"}, {"bt_beta", "bt-noise"}, {"bias_p", "bias"},
    {"bias_feature", "bias"},
};

/* msg with "set `f`" written "pass --flag" and any other "`f`" written "--flag". */
static void name_flags(char *out, size_t size, const char *msg)
{
    size_t at = 0;
    while (*msg && at + 1 < size) {
        const char *end = msg[0] == '`' ? msg + 1 + strspn(msg + 1, "abcdefghijklmnopqrstuvwxyz0123456789_.") : NULL;
        if (!end || *end != '`' || end - msg > 64 || end == msg + 1) {
            if (strncmp(msg, "set `", 5) == 0 && msg[5 + strspn(msg + 5, "abcdefghijklmnopqrstuvwxyz0123456789_.")] == '`') {
                at += (size_t)snprintf(out + at, size - at, "pass ");
                msg += 4;
                continue;
            }
            out[at++] = *msg++;
            continue;
        }
        char field[72];
        snprintf(field, sizeof field, "%.*s", (int)(end - msg - 1), msg + 1);
        const char *flag = NULL;
        for (size_t i = 0; i < sizeof field_flags / sizeof *field_flags; i++)
            if (strcmp(field, field_flags[i].field) == 0)
                flag = field_flags[i].flag;
        if (!flag) {
            for (char *c = field; *c; c++)
                *c = *c == '_' ? '-' : *c;
            flag = field;
        }
        at += (size_t)snprintf(out + at, size - at, "--%s", flag);
        msg = end + 1;
    }
    out[at < size ? at : size - 1] = '\0';
}

int rmens_cli_report(MPI_Comm comm, const char *cmd, rmens_status st)
{
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK)
        return 0;
    if (rmens_cli_rank(comm) == 0) {
        char msg[8192];
        name_flags(msg, sizeof msg, rmens_last_error());
        fprintf(stderr, "rmens %s: error: %s\n", cmd, msg);
    }
    return st == RMENS_ERR_ARG ? 2 : 1;
}

const char *rmens_cli_command(char *buf, size_t size, const char *cmd, int argc, char **argv)
{
    size_t at = (size_t)snprintf(buf, size, "rmens %s", cmd);
    for (int i = 1; i < argc && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, " %s", argv[i]);
    return buf;
}

rmens_status rmens_cli_normalize_default(MPI_Comm comm, const char *ckpt, int *normalize)
{
    if (*normalize >= 0)
        return RMENS_OK;
    /* Standardise when the checkpoint has statistics (an ensemble checkpoint). */
    int has = 0;
    if (rmens_cli_rank(comm) == 0 && rmens_ensemble_has_stats(ckpt, &has) != RMENS_OK)
        has = 0;  /* the command opens the checkpoint again and reports what is wrong */
    RMENS_TRY(rmens_mpi_check(MPI_Bcast(&has, 1, MPI_INT, 0, comm), "MPI_Bcast"));
    *normalize = has;
    return RMENS_OK;
}

int rmens_cli_normalize(const char *s, int *v)
{
    if (strcmp(s, "none") != 0 && strcmp(s, "member") != 0)
        return -1;
    *v = strcmp(s, "member") == 0;
    return 0;
}

int rmens_cli_aggregate(const char *s, rmens_aggregate *a)
{
    for (int k = 0; k < RMENS_AGG_N; k++)
        if (strcmp(s, rmens_aggregate_names[k]) == 0) {
            *a = (rmens_aggregate)k;
            return 0;
        }
    return -1;
}

int rmens_cli_int(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE)  /* saturated: not the number given */
        return -1;
    *v = x;
    return 0;
}

int rmens_cli_data_mem(const char *s, int64_t *v)
{
    if (strcmp(s, "auto") == 0) {
        *v = 0;
        return 0;
    }
    char *end;
    double x = strtod(s, &end), unit = 1;
    if (end == s || !(x >= 0) || x > 1e18)
        return -1;
    if (*end && end[1] == 0)
        unit = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0
             : *end == 'G' || *end == 'g' ? 1073741824.0 : 0;
    else if (*end)
        unit = 0;
    if (unit == 0 || x * unit > 9e18)
        return -1;
    /* 0 would mean auto to the library: one byte makes every non-empty file stream. */
    *v = x * unit >= 1 ? (int64_t)(x * unit) : 1;
    return 0;
}

int rmens_cli_double(const char *s, double *v)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end || x != x || x - x != 0)
        return -1;
    *v = x;
    return 0;
}

void rmens_cli_unescape(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (const char *q = s; *q && n + 1 < size; q++) {
        char ch = *q;
        if (ch == '\\' && q[1])
            ch = *++q == 'n' ? '\n' : *q == 't' ? '\t' : *q;
        out[n++] = ch;
    }
    out[n] = 0;
}

int main(int argc, char **argv)
{
    /* A file-size limit (ulimit -f, a quota enforced that way) must make a write fail
     * with EFBIG, reported and cleaned up like a full disk, not kill the rank. */
    signal(SIGXFSZ, SIG_IGN);
    const char *cmd = argc > 1 ? argv[1] : "";
    int mpi = needs_mpi(cmd);
    if (strcmp(cmd, "train") == 0)
        rmens_cli_train_signals();
    if (mpi && MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "rmens: MPI_Init failed\n");
        return 1;
    }
    /* Tests only (base/fault.h): RMENS_FAULT_FSIZE, after MPI_Init, whose runtime files
     * must not be limited. */
    rmens_fault_fsize();
    /* Library code returns MPI errors up the stack; only this level decides to exit. */
    if (mpi)
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm comm = mpi ? MPI_COMM_WORLD : MPI_COMM_NULL;
    int rank = rmens_cli_rank(comm), rc = 0;
    if (strcmp(cmd, "prep") == 0)
        rc = rmens_cmd_prep(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "synth") == 0)
        rc = rmens_cmd_synth(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "info") == 0)
        rc = rmens_cmd_info(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "train") == 0)
        rc = rmens_cmd_train(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "score") == 0)
        rc = rmens_cmd_score(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "bon") == 0)
        rc = rmens_cmd_bon(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "select") == 0)
        rc = rmens_cmd_select(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "eval") == 0)
        rc = rmens_cmd_eval(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "merge") == 0)
        rc = rmens_cmd_merge(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "export") == 0)
        rc = rmens_cmd_export(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "tensorboard") == 0)
        rc = rmens_cmd_tensorboard(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "tokenize") == 0)
        rc = rmens_cmd_tokenize(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "serve") == 0)
        rc = rmens_cmd_serve(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "bench") == 0)
        rc = rmens_cmd_bench(argc - 1, argv + 1, comm);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (rank == 0)
            printf("rmens %s\n", rmens_version_string());
    } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (rank == 0)
            fputs(usage, stdout);
    } else {
        if (rank == 0) {
            if (cmd[0])
                fprintf(stderr, "rmens: unknown command '%s'\n\n", cmd);
            fputs(usage, stderr);
        }
        rc = 2;
    }
    if (mpi)
        MPI_Finalize();
    return rc;
}
