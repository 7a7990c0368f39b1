#include "ensemble/selector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "comm/placement.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/scorer.h"
#include "ensemble/uncertainty.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/output.h"
#include "io/stage.h"

/* The two parts of the pool, written together: both files or neither. */
static rmens_status write_parts(const rmens_select_options *o, const rmens_dataset *pool, const int64_t *rows)
{
    const int64_t n = rmens_dataset_count(pool), B = o->budget;
    const int nparts = o->rest ? 2 : 1;
    const char *paths[2] = {o->out, o->rest};
    rmens_dataset *part[2] = {NULL, NULL};
    hid_t files[2] = {-1, -1};
    rmens_status st = RMENS_OK;
    for (int p = 0; p < nparts && st == RMENS_OK; p++) {
        if ((st = rmens_dataset_subset(&part[p], pool, p ? rows + B : rows, p ? n - B : B, NULL)) != RMENS_OK)
            break;
        snprintf(part[p]->source, sizeof part[p]->source, "%s", o->command ? o->command : "rmens select");
        st = rmens_dataset_build(part[p], paths[p], &files[p]);
    }
    if (st == RMENS_OK)
        st = rmens_stage_finish(files, paths, nparts);
    for (int p = 0; p < nparts; p++) {
        if (st != RMENS_OK)
            rmens_h5_close(files[p]);
        rmens_dataset_free(part[p]);
    }
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Rank 0: every pair's value from the rewards R ([2n][K]: first sides, then second), the
 * ranking, the picks (and the rest) in pool order, written. */
static rmens_status select_rank0(const rmens_select_options *o, const rmens_dataset *ds, const float *R, int K,
                                 const rmens_ensemble *e, rmens_select_result *res)
{
    const int64_t n = rmens_dataset_count(ds);
    double *v = malloc((size_t)n * sizeof *v + 1), *d = malloc((size_t)K * sizeof *d);
    int64_t *order = malloc((size_t)n * sizeof *order + 1);
    rmens_status st = v && d && order ? RMENS_OK
                                      : rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld pairs", (long long)n);
    for (int64_t i = 0; i < n && st == RMENS_OK; i++) {
        rmens_pair_margins(d, R + (size_t)i * K, R + (size_t)(n + i) * K, K, o->normalize ? e->rstd : NULL, e->tau);
        v[i] = rmens_acquisition_value(o->by, d, K, o->seed, i);
    }
    if (st == RMENS_OK)
        st = rmens_acquisition_rank(v, n, o->seed, order);
    if (st == RMENS_OK) {
        const float *g0 = ds->has & RMENS_HAS_GOLD ? ds->side[0].gold : NULL, *g1 = g0 ? ds->side[1].gold : NULL;
        res->has_gold = g0 != NULL;
        for (int64_t j = 0; j < n; j++) {
            const int64_t i = order[j];
            const double gap = g0 ? fabs((double)g0[i] - g1[i]) : 0;
            res->value_pool += v[i] / (double)n, res->gap_pool += gap / (double)n;
            if (j < o->budget)
                res->value_picked += v[i] / (double)o->budget, res->gap_picked += gap / (double)o->budget;
        }
        qsort(order, (size_t)o->budget, sizeof *order, cmp_i64);
        qsort(order + o->budget, (size_t)(n - o->budget), sizeof *order, cmp_i64);
        rmens_h5_lock();
        st = write_parts(o, ds, order);
        rmens_h5_unlock();
    }
    free(v);
    free(d);
    free(order);
    return st;
}

/* The pool with each pair's sides in a canonical order (the shorter sequence first, then
 * the lexicographically smaller), so that its rewards do not depend on which side the pool
 * called chosen: scoring lays a pair's sequences out in order, and the layout moves the
 * rewards' rounding (float32, ~1e-7). Every value is symmetric, so the order it is
 * computed in is otherwise irrelevant. */
static rmens_status canonical(const rmens_dataset *pool, rmens_dataset **out)
{
    const int64_t n = rmens_dataset_count(pool);
    int64_t *rows = malloc((size_t)n * sizeof *rows + 1);
    uint8_t *swap = malloc((size_t)n + 1);
    rmens_status st = rows && swap ? RMENS_OK
                                   : rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld pairs", (long long)n);
    for (int64_t i = 0; i < n && st == RMENS_OK; i++) {
        int64_t la, lb;
        const int32_t *a = rmens_dataset_seq(pool, RMENS_SIDE_CHOSEN, i, &la);
        const int32_t *b = rmens_dataset_seq(pool, RMENS_SIDE_REJECTED, i, &lb);
        if (!a || !b) {
            st = rmens_fail_context(RMENS_ERR_HDF5, "pair %lld: ", (long long)i);
            break;
        }
        int c = (la > lb) - (la < lb);
        for (int64_t t = 0; c == 0 && t < la; t++)
            c = (a[t] > b[t]) - (a[t] < b[t]);
        rows[i] = i, swap[i] = c > 0;
    }
    if (st == RMENS_OK)
        st = rmens_dataset_subset(out, pool, rows, n, swap);
    free(rows);
    free(swap);
    return st;
}

/* The pool and the budget, before anything is scored. */
static rmens_status check_pool(const rmens_select_options *o, const rmens_dataset *ds)
{
    const int64_t n = rmens_dataset_count(ds);
    if (rmens_dataset_kind(ds) != RMENS_DATA_PAIRS)
        return rmens_fail(RMENS_ERR_ARG, "%s is a responses file; select needs a pool of pairs", o->pool);
    if (o->budget > n)
        return rmens_fail(RMENS_ERR_ARG, "`budget` %lld is larger than the pool (%s holds %lld pairs)",
                          (long long)o->budget, o->pool, (long long)n);
    if (o->rest && o->budget == n)
        return rmens_fail(RMENS_ERR_ARG, "`budget` %lld takes the whole pool (%s holds %lld pairs): nothing would be "
                          "left for `rest`", (long long)o->budget, o->pool, (long long)n);
    return RMENS_OK;
}

rmens_status rmens_select(const rmens_select_options *o, MPI_Comm comm, rmens_select_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = RMENS_OK;
    if (o->budget < 1)
        st = rmens_fail(RMENS_ERR_ARG, "`budget` must be at least 1, got %lld", (long long)o->budget);
    else if ((int)o->by < 0 || o->by >= RMENS_ACQ_N)
        st = rmens_fail(RMENS_ERR_ARG, "unknown acquisition %d", (int)o->by);
    if (st == RMENS_OK && rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"`ckpt`", o->ckpt, 0}, {"`pool`", o->pool, 0}}, 2,
                                (rmens_file_use[]){{"`out`", o->out, o->force}, {"`rest`", o->rest, o->force}}, 2);
    RMENS_TRY(rmens_verdict(comm, st));
    rmens_dataset *ds = NULL, *cs = NULL;  /* the pool; its canonical copy */
    rmens_ensemble *e = NULL;
    float *R = NULL;
    int K = 0, none = 0;
    int64_t n_cut = 0, budget, step = 0;
    if ((st = rmens_data_budget(comm, o->data_budget, &budget)) != RMENS_OK ||
        (st = rmens_dataset_read_comm(&ds, o->pool, comm, budget)) != RMENS_OK)
        goto exit;
    if ((st = rmens_verdict(comm, check_pool(o, ds))) != RMENS_OK)
        goto exit;
    if ((st = rmens_verdict(comm, canonical(ds, &cs))) != RMENS_OK ||
        (st = rmens_score_gather(o->ckpt, o->pool, cs, o->normalize, comm, &R, &K, &n_cut)) != RMENS_OK)
        goto exit;
    if (K < 2 && rmens_acquisition_needs_members(o->by))
        st = rmens_fail(RMENS_ERR_ARG, "`by` %s needs two members or more: %s has one", rmens_acquisition_names[o->by],
                        o->ckpt);
    /* reward statistics and temperatures: of the ensemble without its weights; a model
     * file (step -1) is its one member */
    if (st == RMENS_OK && rank == 0 && (st = rmens_score_count_members(o->ckpt, &none, &step)) == RMENS_OK)
        st = step < 0 ? rmens_ensemble_open(&e, o->ckpt) : rmens_ensemble_open_subset(&e, o->ckpt, (int[]){0}, 0);
    if (st == RMENS_OK && rank == 0)
        st = select_rank0(o, ds, R, K, e, res);
    res->pool = rmens_dataset_count(ds);
    res->picked = o->budget;
    res->members = K;
exit:
    st = rmens_verdict(comm, st);
    if (st == RMENS_OK) {  /* rank 0's figures for every rank */
        double f[5] = {res->value_picked, res->value_pool, res->gap_picked, res->gap_pool, res->has_gold};
        st = rmens_mpi_check(MPI_Bcast(f, 5, MPI_DOUBLE, 0, comm), "MPI_Bcast(select)");
        res->value_picked = f[0], res->value_pool = f[1], res->gap_picked = f[2], res->gap_pool = f[3];
        res->has_gold = f[4] != 0;
    }
    rmens_ensemble_close(e);
    rmens_dataset_free(cs);
    rmens_dataset_free(ds);
    free(R);
    return st;
}
