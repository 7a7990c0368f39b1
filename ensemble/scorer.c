#include "ensemble/scorer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/error.h"
#include "text/tokenizer.h"
#include "comm/moments.h"
#include "comm/placement.h"
#include "comm/sum.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/uncertainty.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/output.h"
#include "io/hfdir.h"
#include "io/pin.h"
#include "io/scorefile.h"

rmens_status rmens_score_count_members(const char *path, int *K, int64_t *step)
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
    char why[2048];
    snprintf(why, sizeof why, "%s", rmens_last_error());
    if (rmens_model_load(&m, path, 0, &fresh) != RMENS_OK) {
        /* Not an ensemble: the model reader's complaint says more, unless the file did
         * claim to be an ensemble and broke the format. */
        if (!strstr(why, "expected \"ensemble\"") && !rmens_hfdir_is_dir(path))
            rmens_error_set_message(why);
        return RMENS_ERR_FORMAT;
    }
    rmens_model_free(m);
    *K = 1;
    *step = -1;
    return RMENS_OK;
}

uint32_t rmens_score_file_crc32(const char *path)
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

/* What one rank scored: its members' rewards for sequences [lo, hi). */
typedef struct {
    rmens_placement pl;
    rmens_ensemble *e;
    int K;
    int64_t step, n, S, lo, hi, n_cut;  /* [lo, hi): this rank's units (pairs, or responses) */
    int pairs;
    float *mine;  /* [hi - lo][sides][pl.n_local] */
    rmens_pin pin;  /* the version of the checkpoint read */
} scoring;

/* Member j's reward for sequence q (pairs: chosen 0..n-1, then rejected), if owned. */
static float reward_of(const scoring *sc, int64_t unit, int side, int j)
{
    int ns = sc->pairs ? 2 : 1;
    return sc->mine[((unit - sc->lo) * ns + side) * sc->pl.n_local + j];
}

/* Collective: this rank's members of one version of ckpt (io/pin.h), whatever saves
 * rename onto it meanwhile: the header and every rank's members are read again until no
 * save came between the first read and the last. The status returned is this rank's. */
static rmens_status open_members(const char *ckpt, MPI_Comm comm, scoring *sc)
{
    for (int attempt = 0;; attempt++) {
        RMENS_TRY(rmens_pin_open(&sc->pin, ckpt, comm));
        rmens_status st = rmens_verdict(comm, rmens_score_count_members(ckpt, &sc->K, &sc->step));
        if (st == RMENS_OK && (st = rmens_placement_init(&sc->pl, comm, sc->K)) == RMENS_OK)
            st = rmens_ensemble_open_subset(&sc->e, ckpt, sc->pl.local, sc->pl.n_local);
        int held = 0;
        RMENS_TRY(rmens_pin_held(&sc->pin, comm, &held));
        if (held)
            return st;
        if (attempt == RMENS_PIN_TRIES)
            return rmens_pin_gave_up(&sc->pin);
        rmens_ensemble_close(sc->e);
        sc->e = NULL;
        if (sc->pl.local)
            rmens_placement_free(&sc->pl);
        memset(&sc->pl, 0, sizeof sc->pl);
        sc->pl.group = MPI_COMM_NULL;
        rmens_pin_close(&sc->pin);
    }
}

/* Responses [lo, hi) in blocks of whole scoring batches (the same batches as one call
 * would make), their tokens copied out so that a streamed file is read once, in order. */
static rmens_status score_responses(scoring *sc, const rmens_dataset *ds, int normalize)
{
    const int64_t per = sc->e->cap;
    const int32_t **seqs = malloc((size_t)per * sizeof *seqs);
    int64_t *lens = malloc((size_t)per * sizeof *lens), room = 0;
    int32_t *arena = NULL;
    rmens_status st = seqs && lens ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int64_t u0 = sc->lo; u0 < sc->hi && st == RMENS_OK; u0 += per) {
        int64_t n = sc->hi - u0 < per ? sc->hi - u0 : per, need = 0;
        for (int64_t i = 0; i < n; i++)
            need += rmens_dataset_len(ds, RMENS_SIDE_RESPONSE, u0 + i);
        if (need > room) {
            int32_t *a = realloc(arena, (size_t)need * sizeof *a);
            if (!a) {
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld tokens", (long long)need);
                break;
            }
            arena = a;
            room = need;
        }
        int64_t at = 0;
        for (int64_t i = 0; i < n && st == RMENS_OK; i++) {
            const int32_t *t = rmens_dataset_seq(ds, RMENS_SIDE_RESPONSE, u0 + i, &lens[i]);
            if (!t) {
                st = rmens_fail_context(RMENS_ERR_HDF5, "response %lld: ", (long long)(u0 + i));
                break;
            }
            memcpy(arena + at, t, (size_t)lens[i] * sizeof *t);
            seqs[i] = arena + at;
            at += lens[i];
        }
        if (st == RMENS_OK)
            st = rmens_ensemble_score(sc->e, seqs, lens, n, normalize, 0.0f,
                                      sc->mine + (u0 - sc->lo) * sc->pl.n_local, NULL, NULL);
    }
    free(arena);
    free(seqs);
    free(lens);
    return st;
}

static void scoring_free(scoring *sc)
{
    rmens_ensemble_close(sc->e);
    rmens_pin_close(&sc->pin);
    if (sc->pl.local)
        rmens_placement_free(&sc->pl);
    free(sc->mine);
    memset(sc, 0, sizeof *sc);
}

/* Collective: opens this rank's members of ckpt and scores its share of ds (named data
 * in messages about it; a message about the checkpoint names the checkpoint alone). */
static rmens_status score_local(const char *ckpt, const char *data, const rmens_dataset *ds, int normalize, int batch,
                                MPI_Comm comm, scoring *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->pl.group = MPI_COMM_NULL;
    sc->step = -1;
    rmens_status st = open_members(ckpt, comm, sc);
    /* Activations sized by the data's longest sequence rather than n_ctx: memory grows
     * with the length (and its square, for attention). */
    int64_t longest = 0;
    for (int64_t i = 0; i < rmens_dataset_count(ds); i++)
        for (int s = 0; s < 2; s++) {
            int64_t l = rmens_dataset_len(ds, (rmens_side)s, i);
            longest = l > longest ? l : longest;
        }
    if (st == RMENS_OK)
        st = rmens_ensemble_set_batch_len(sc->e, batch > 0 ? batch : RMENS_SCORE_BATCH,
                                          longest < INT32_MAX ? (int)longest : INT32_MAX);
    RMENS_TRY(rmens_verdict(comm, st));
    if (sc->e->tokenizer[0] && !rmens_tokenizer_same(sc->e->tokenizer, ds->tokenizer))
        st = rmens_fail(RMENS_ERR_ARG, "the data was tokenized by \"%s\" but %s reads \"%s\" tokens", ds->tokenizer,
                        ckpt, sc->e->tokenizer);
    else if (st == RMENS_OK && rmens_dataset_vocab_size(ds) > sc->e->cfg.vocab_size)
        st = rmens_fail(RMENS_ERR_ARG, "the data has vocab_size %d but the model reads %d tokens",
                        rmens_dataset_vocab_size(ds), sc->e->cfg.vocab_size);
    else if (st == RMENS_OK && sc->e->eot >= 0 && sc->e->eot != ds->eot)
        st = rmens_fail(RMENS_ERR_ARG, "the data ends sequences with token %d but %s was trained with end-of-text %d",
                        ds->eot, ckpt, sc->e->eot);
    if (st == RMENS_OK && normalize && !sc->e->has_stats)
        st = rmens_fail(RMENS_ERR_ARG, "`normalize` member: %s has no reward statistics (%s)", ckpt, sc->e->no_stats);
    if (st != RMENS_OK)
        rmens_fail_context(st, "%s: ", data);
    RMENS_TRY(rmens_verdict(comm, st));
    sc->pairs = rmens_dataset_kind(ds) == RMENS_DATA_PAIRS;
    const int nsides = sc->pairs ? 2 : 1;
    sc->n = rmens_dataset_count(ds);
    sc->S = sc->n * nsides;
    int64_t *lens = malloc((size_t)sc->S * sizeof *lens);
    sc->mine = malloc((size_t)sc->S * (sc->pl.n_local + 1) * sizeof *sc->mine);
    if (!lens || !sc->mine)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld sequences", (long long)sc->S);
    for (int s = 0; s < nsides && st == RMENS_OK; s++)
        for (int64_t i = 0; i < sc->n; i++)
            lens[s * sc->n + i] = rmens_dataset_len(ds, (rmens_side)s, i);
    for (int64_t i = 0; i < sc->n && st == RMENS_OK; i++) {
        /* Count the sequences the layout shortens (model/batch.h's rule). */
        const rmens_cut c = rmens_batch_cut(lens[i], sc->pairs ? lens[sc->n + i] : 0,
                                            sc->pairs ? rmens_dataset_prompt_len(ds, i) : 0, sc->e->cfg.n_ctx);
        sc->n_cut += (c.chosen > 0) + (c.rejected > 0);
    }
    /* A member's ranks split the pairs (or responses) at whole scoring batches, so every
     * one is scored in the same batch whatever the rank count. Pairs are scored as pairs:
     * the shared prompt is computed once. */
    const int64_t units = sc->pairs ? sc->n : sc->S, per = sc->pairs ? sc->e->cap / 2 : sc->e->cap;
    int64_t blocks = (units + per - 1) / per;
    sc->lo = blocks * sc->pl.group_rank / sc->pl.group_size * per;
    sc->hi = blocks * (sc->pl.group_rank + 1) / sc->pl.group_size * per;
    sc->hi = sc->hi > units ? units : sc->hi;
    sc->lo = sc->lo > units ? units : sc->lo;
    if (st == RMENS_OK && sc->hi > sc->lo && sc->pairs)
        st = rmens_ensemble_score_pairs(sc->e, ds, sc->lo, sc->hi, normalize, sc->mine);
    else if (st == RMENS_OK && sc->hi > sc->lo)
        st = score_responses(sc, ds, normalize);
    free(lens);
    if (st != RMENS_OK)
        rmens_fail_context(st, "%s: ", data);
    return rmens_verdict(comm, st);
}

/* Every member's reward for every sequence, summed (disjoint parts: exact) onto rank 0. */
static rmens_status gather_rewards(const scoring *sc, MPI_Comm comm, int rank, float **out)
{
    float *all = calloc((size_t)sc->S * sc->K + 1, sizeof *all);
    rmens_status st = all ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld x %d rewards",
                                                  (long long)sc->S, sc->K);
    RMENS_TRY(rmens_verdict(comm, st));
    for (int64_t u = sc->lo; u < sc->hi; u++)
        for (int side = 0; side < (sc->pairs ? 2 : 1); side++)
            for (int j = 0; j < sc->pl.n_local; j++)
                all[(side * sc->n + u) * sc->K + sc->pl.local[j]] = reward_of(sc, u, side, j);
    st = rmens_sum_root(all, (size_t)(sc->S * sc->K), comm);
    if (st != RMENS_OK || rank != 0) {
        free(all);
        all = NULL;
    }
    *out = all;
    return st;
}

rmens_status rmens_score_gather(const char *ckpt, const char *data, const rmens_dataset *ds, int normalize,
                                MPI_Comm comm, float **rewards, int *K, int64_t *n_cut)
{
    int rank;
    scoring sc;
    *rewards = NULL;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = score_local(ckpt, data, ds, normalize, 0, comm, &sc);
    if (st == RMENS_OK)
        st = gather_rewards(&sc, comm, rank, rewards);
    *K = sc.K;
    *n_cut = sc.n_cut;
    scoring_free(&sc);
    return st;
}

/* Rank 0: each pair's probability and uncertainty (ensemble/uncertainty.h) from all
 * rewards [2n][K], in the members' own scale (standardised rewards are scaled back),
 * calibrated by the checkpoint's temperatures when it records them. */
static rmens_status pair_decisions(const scoring *sc, const float *all, int normalize, float **out)
{
    const int K = sc->K;
    const int64_t n = sc->n;
    float *pu = malloc((size_t)2 * n * sizeof *pu + 1);
    double *d = malloc((size_t)K * sizeof *d);
    if (!pu || !d) {
        free(pu);
        free(d);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld pairs' uncertainty", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        rmens_pair_margins(d, all + (size_t)i * K, all + (size_t)(n + i) * K, K, normalize ? sc->e->rstd : NULL,
                           sc->e->tau);
        pu[i] = (float)rmens_pair_probability(d, K);
        pu[n + i] = (float)rmens_uncertainty(d, K);
    }
    free(d);
    *out = pu;
    return RMENS_OK;
}

rmens_status rmens_score(const rmens_score_options *o, MPI_Comm comm, rmens_score_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = rmens_rule_check_lambda(o->lambda);
    if (st == RMENS_OK && rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"`ckpt`", o->ckpt, 0}, {"`data`", o->data, 0}}, 2,
                                &(rmens_file_use){"`out`", o->out, o->force}, 1);
    RMENS_TRY(rmens_verdict(comm, st));

    rmens_dataset *ds = NULL;
    scoring sc = {0};
    float *all = NULL;
    rmens_moments *mom = NULL;
    rmens_score_stats *stats = NULL;
    float *pu = NULL;  /* pairs: [2][n] P(chosen > rejected), uncertainty */
    double t0 = rmens_now();
    int64_t budget;
    if ((st = rmens_data_budget(comm, o->data_budget, &budget)) != RMENS_OK ||
        (st = rmens_dataset_read_comm(&ds, o->data, comm, budget)) != RMENS_OK)
        goto exit;
    if ((st = score_local(o->ckpt, o->data, ds, o->normalize, o->batch, comm, &sc)) != RMENS_OK)
        goto exit;
    const int64_t S = sc.S;
    if (!(mom = malloc((size_t)(S + 1) * sizeof *mom)))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    rmens_moments_clear(mom, (size_t)S);
    for (int64_t u = sc.lo; u < sc.hi; u++)
        for (int side = 0; side < (sc.pairs ? 2 : 1); side++)
            for (int j = 0; j < sc.pl.n_local; j++) {
                float r = reward_of(&sc, u, side, j);
                rmens_moments_add(&mom[side * sc.n + u], &r, 1);
            }
    if ((st = rmens_moments_reduce(mom, (size_t)S, 0, comm)) != RMENS_OK)
        goto exit;
    /* --per-member: the user asked for every reward, so gather them; a pair's probability
     * and uncertainty need every member's margin too. */
    if ((o->per_member || sc.pairs) && (st = gather_rewards(&sc, comm, rank, &all)) != RMENS_OK)
        goto exit;
    if (rank == 0 && sc.pairs && (st = pair_decisions(&sc, all, o->normalize, &pu)) != RMENS_OK)
        goto exit;
    double t_score = rmens_now() - t0;
    if (rank == 0) {
        stats = malloc((size_t)(S + 1) * sizeof *stats);
        if (!stats)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; st == RMENS_OK && i < S; i++) {
            double var = rmens_moments_var(&mom[i]);
            double uwo = rmens_rule_value(RMENS_RULE_UWO, mom[i].mean, mom[i].min, var, o->lambda);
            stats[i] = (rmens_score_stats){(float)mom[i].mean, (float)mom[i].min, (float)mom[i].max, (float)var,
                                           (float)sqrt(var), (float)uwo};
            if (!isfinite(stats[i].uwo) && isfinite(stats[i].mean))  /* not -inf, exit 0 */
                st = rmens_fail(RMENS_ERR_ARG, "`lambda` %g: uwo = mean - lambda var of sequence %lld is %g, beyond "
                                "float32: use a smaller `lambda`", o->lambda, (long long)i, uwo);
        }
        uint32_t crc = 0;
        if (st == RMENS_OK)
            st = rmens_pin_crc32(&sc.pin, &crc);  /* of what was read */
        rmens_scorefile_info info = {o->ckpt, o->data, o->command, sc.step, crc, sc.K, o->lambda,
                                     o->normalize, sc.n_cut, sc.pairs, sc.n,
                                     (ds->has & RMENS_HAS_GROUP) ? ds->prompt_id : NULL,
                                     pu, pu ? pu + sc.n : NULL, sc.e->has_temperature ? sc.e->tau : NULL};
        if (st == RMENS_OK)
            st = rmens_scorefile_write(o->out, o->force, &info, stats, o->per_member ? all : NULL);
    }
    *res = (rmens_score_result){sc.n, S, sc.pairs, sc.K, sc.e->cfg.n_ctx, sc.n_cut, t_score};
exit:
    st = rmens_verdict(comm, st);
    scoring_free(&sc);
    rmens_dataset_free(ds);
    free(all);
    free(mom);
    free(stats);
    free(pu);
    return st;
}
