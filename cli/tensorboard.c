/* rmens tensorboard: the metrics of rmens train as TensorBoard event files. Serial. */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/error.h"
#include "cli/cli.h"
#include "io/events.h"
#include "io/records.h"

static const char help[] =
    "usage: rmens tensorboard METRICS.jsonl --logdir DIR [--quiet]\n"
    "\n"
    "Writes the metrics of `rmens train --metrics` (a finished or a running run) as a\n"
    "TensorBoard event file in DIR (created if needed; a new file each time):\n"
    "train/loss/member_K, train/accuracy/member_K, train/loss_mean, train/lr,\n"
    "train/pairs_per_s, val/{loss,accuracy,margin}/member_K, oob/{...}/member_K and\n"
    "val/ensemble_accuracy_{mean,min,uwo}. Then: tensorboard --logdir DIR.\n";

/* Reads every record; with ev == NULL only finds the last elapsed_s (the run's length). */
static rmens_status pass(const char *path, rmens_events *ev, double start, double *last, int64_t *n)
{
    rmens_records *in = NULL;
    rmens_status st = rmens_records_open(&in, path);
    *last = 0;
    for (json_object *rec; st == RMENS_OK;) {
        if ((st = rmens_records_next(in, &rec)) != RMENS_OK || !rec)
            break;
        json_object *v;
        if (!ev) {
            if (json_object_is_type(rec, json_type_object) && json_object_object_get_ex(rec, "elapsed_s", &v))
                *last = json_object_get_double(v);
            continue;
        }
        st = rmens_events_metrics(ev, rec, rmens_records_where(in), start, last, n);
    }
    rmens_records_close(in);
    return st;
}

int rmens_cmd_tensorboard(int argc, char **argv, MPI_Comm comm)
{
    static const struct option longopts[] = {
        {"logdir", 1, 0, 'l'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *logdir = NULL;
    int c, quiet = 0, rank = rmens_cli_rank(comm);
    rmens_status st = RMENS_OK;
    opterr = 0;
    optind = 1;
    while (st == RMENS_OK && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'l')
            logdir = optarg;
        else if (c == 'q')
            quiet = 1;
        else if (c == 'h') {
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        } else
            st = rmens_fail(RMENS_ERR_ARG, "unknown or incomplete option '%s' (see rmens tensorboard --help)",
                            argv[optind - 1]);
    }
    if (st == RMENS_OK && (optind != argc - 1 || !logdir))
        st = rmens_fail(RMENS_ERR_ARG, "expected METRICS.jsonl and --logdir DIR (see rmens tensorboard --help)");
    if (st != RMENS_OK || rank != 0)
        return rmens_cli_report(comm, "tensorboard", st);
    const char *metrics = argv[optind], *path = NULL;
    struct stat sb;
    double last = 0;
    int64_t n = 0;
    rmens_events *ev = NULL;
    if (stat(metrics, &sb) != 0)
        st = rmens_fail(RMENS_ERR_IO, "%s: cannot read it", metrics);
    /* Wall times: the file was last written at the end of the run so far. */
    if (st == RMENS_OK)
        st = pass(metrics, NULL, 0, &last, &n);
    double start = (double)sb.st_mtime - last;
    char file[4096] = "";
    if (st == RMENS_OK && (st = rmens_events_open(&ev, logdir, &path)) == RMENS_OK)
        snprintf(file, sizeof file, "%s", path);  /* path lives in ev, freed by close */
    if (st == RMENS_OK)
        st = pass(metrics, ev, start, &last, &n);
    if (st == RMENS_OK && !quiet)
        printf("tensorboard: %lld scalars from %s -> %s\n", (long long)n, metrics, file);
    rmens_status cl = rmens_events_close(ev);
    if (st == RMENS_OK)
        st = cl;
    if (st != RMENS_OK && file[0])
        remove(file);  /* no half-converted file */
    return rmens_cli_report(comm, "tensorboard", st);
}
