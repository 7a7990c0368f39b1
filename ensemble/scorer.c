#include "ensemble/scorer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"
#include "comm/moments.h"
#include "comm/placement.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/scorefile.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Members in a checkpoint (1 for a model file), and its step (-1 for a model file). */
static rmens_status count_members(const char *path, int *K, int64_t *step)
{
    rmens_ckpt_header h;
    rmens_status st = rmens_checkpoint_read_header(path, &h);
    if (st == RMENS_OK) {
        *K = h.members;
        *step = h.step;
        return st;
    }
    rmens_model *m;
    int fresh = 0;
    if (rmens_model_load(&m, path, 0, &fresh) != RMENS_OK)
        return st;  /* neither: report why it is not an ensemble */
    rmens_model_free(m);
    *K = 1;
    *step = -1;
    return RMENS_OK;
}

static uint32_t file_crc32(const char *path)
{
    FILE *f = fopen(path, "rb");
    uLong crc = crc32(0L, Z_NULL, 0);
    if (!f)
        return 0;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crc = crc32(crc, buf, (uInt)n);
    fclose(f);
    return (uint32_t)crc;
}

rmens_status rmens_score(const rmens_score_options *o, MPI_Comm comm)
{
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = RMENS_OK;
    if (!(o->lambda >= 0) || !isfinite(o->lambda))
        st = rmens_fail(RMENS_ERR_ARG, "--lambda must be a non-negative number, got %g", o->lambda);
    else if (rank == 0 && !o->force && access(o->out, F_OK) == 0)
        st = rmens_fail(RMENS_ERR_ARG, "%s already exists (pass --force to replace it)", o->out);
    RMENS_TRY(rmens_verdict(comm, st));

    rmens_dataset *ds = NULL;
    rmens_ensemble *e = NULL;
    rmens_placement pl = {0};
    pl.group = MPI_COMM_NULL;
    int K = 0;
    int64_t step = -1;
    const int32_t **seqs = NULL;
    int64_t *lens = NULL;
    float *mine = NULL, *all = NULL;
    rmens_moments *mom = NULL;
    rmens_score_stats *stats = NULL;
    double t0 = now();

    st = count_members(o->ckpt, &K, &step);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    if ((st = rmens_dataset_read(&ds, o->data, comm)) != RMENS_OK)
        goto exit;
    if ((st = rmens_placement_init(&pl, comm, K)) != RMENS_OK)
        goto exit;
    st = rmens_ensemble_open_subset(&e, o->ckpt, pl.local, pl.n_local);
    if (st == RMENS_OK && rmens_dataset_vocab_size(ds) > e->cfg.vocab_size)
        st = rmens_fail(RMENS_ERR_ARG, "%s has vocab_size %d but the model reads %d tokens", o->data,
                        rmens_dataset_vocab_size(ds), e->cfg.vocab_size);
    if (st == RMENS_OK && o->normalize && !e->has_stats)
        st = rmens_fail(RMENS_ERR_ARG, "--normalize member: %s has no reward statistics (a model file, or an unfinished "
                        "run)", o->ckpt);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;

    const int pairs = rmens_dataset_kind(ds) == RMENS_DATA_PAIRS, nsides = pairs ? 2 : 1;
    const int64_t n = rmens_dataset_count(ds), S = n * nsides;
    seqs = malloc((size_t)S * sizeof *seqs);
    lens = malloc((size_t)S * sizeof *lens);
    mom = malloc((size_t)S * sizeof *mom);
    mine = malloc((size_t)S * (pl.n_local + 1) * sizeof *mine);
    if (!seqs || !lens || !mom || !mine) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld sequences", (long long)S);
        goto exit;
    }
    int64_t n_cut = 0;
    for (int s = 0; s < nsides; s++)
        for (int64_t i = 0; i < n; i++) {
            seqs[s * n + i] = rmens_dataset_seq(ds, (rmens_side)s, i, &lens[s * n + i]);
            n_cut += lens[s * n + i] > e->cfg.n_ctx;
        }
    /* A member's ranks split the sequences at whole scoring batches, so every sequence
     * is scored in the same batch whatever the rank count. */
    int64_t blocks = (S + RMENS_SCORE_BATCH - 1) / RMENS_SCORE_BATCH;
    int64_t lo = blocks * pl.group_rank / pl.group_size * RMENS_SCORE_BATCH;
    int64_t hi = blocks * (pl.group_rank + 1) / pl.group_size * RMENS_SCORE_BATCH;
    if (hi > S)
        hi = S;
    if (lo > S)
        lo = S;
    if (hi > lo)
        st = rmens_ensemble_score(e, seqs + lo, lens + lo, NULL, hi - lo, o->normalize, (float)o->lambda, mine, NULL,
                                  NULL);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    rmens_moments_clear(mom, (size_t)S);
    for (int64_t i = lo; i < hi; i++)
        for (int j = 0; j < pl.n_local; j++)
            rmens_moments_add(&mom[i], &mine[(i - lo) * pl.n_local + j], 1);
    if ((st = rmens_moments_reduce(mom, (size_t)S, 0, comm)) != RMENS_OK)
        goto exit;
    if (o->per_member) {
        /* The user asked for every reward: gather them (a sum of disjoint parts is exact). */
        all = calloc((size_t)S * K, sizeof *all);
        if (!all)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld x %d rewards", (long long)S, K);
        if ((st = rmens_verdict(comm, st)) != RMENS_OK)
            goto exit;
        for (int64_t i = lo; i < hi; i++)
            for (int j = 0; j < pl.n_local; j++)
                all[i * K + pl.local[j]] = mine[(i - lo) * pl.n_local + j];
        void *send = rank == 0 ? MPI_IN_PLACE : all;
        if ((st = rmens_mpi_check(MPI_Reduce(send, rank == 0 ? all : NULL, (int)(S * K), MPI_FLOAT, MPI_SUM, 0, comm),
                                  "MPI_Reduce(rewards)")) != RMENS_OK)
            goto exit;
    }
    double t_score = now() - t0;
    if (rank == 0) {
        stats = malloc((size_t)S * sizeof *stats);
        if (!stats)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; st == RMENS_OK && i < S; i++) {
            double var = rmens_moments_var(&mom[i]);
            stats[i] = (rmens_score_stats){(float)mom[i].mean, (float)mom[i].min, (float)mom[i].max, (float)var,
                                           (float)sqrt(var), (float)(mom[i].mean - o->lambda * var)};
        }
        rmens_scorefile_info info = {o->ckpt, o->data, o->command, step, file_crc32(o->ckpt), K, o->lambda,
                                     o->normalize, n_cut, pairs, n};
        if (st == RMENS_OK)
            st = rmens_scorefile_write(o->out, o->force, &info, stats, all);
        if (st == RMENS_OK && !o->quiet) {
            printf("score: %lld %s of %s by %d member%s of %s -> %s\n", (long long)n, pairs ? "pairs" : "responses",
                   o->data, K, K > 1 ? "s" : "", o->ckpt, o->out);
            printf("  %.2f s: %.1f %s/s (%.1f sequences/s); %lld sequences cut to n_ctx %d from the front\n", t_score,
                   (double)n / t_score, pairs ? "pairs" : "responses", (double)S / t_score, (long long)n_cut,
                   e->cfg.n_ctx);
        }
    }
exit:
    st = rmens_verdict(comm, st);
    rmens_ensemble_close(e);
    rmens_dataset_free(ds);
    if (pl.local)
        rmens_placement_free(&pl);
    free(seqs);
    free(lens);
    free(mine);
    free(all);
    free(mom);
    free(stats);
    return st;
}
