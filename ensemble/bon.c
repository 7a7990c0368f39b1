#include "ensemble/bon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "comm/moments.h"
#include "comm/placement.h"
#include "comm/verdict.h"
#include "ensemble/ensemble.h"
#include "ensemble/prm.h"
#include "ensemble/scorer.h"
#include "ensemble/uncertainty.h"
#include "io/dataset.h"
#include "io/output.h"
#include "io/picks.h"

/* One candidate's aggregates over its K rewards (as score computes them per sequence). */
static rmens_score_stats stats_of(const float *r, int K, double lambda)
{
    rmens_moments m;
    rmens_moments_clear(&m, 1);
    for (int k = 0; k < K; k++)
        rmens_moments_add(&m, &r[k], 1);
    double var = rmens_moments_var(&m);
    return (rmens_score_stats){(float)m.mean, (float)m.min, (float)m.max, (float)var, (float)sqrt(var),
                               (float)rmens_rule_value(RMENS_RULE_UWO, m.mean, m.min, var, lambda)};
}

double rmens_bon_value(const float *r, int K, const rmens_bon_options *o)
{
    if (o->member >= 0)
        return r[o->member];
    rmens_moments m;
    rmens_moments_clear(&m, 1);
    for (int k = 0; k < K; k++)
        rmens_moments_add(&m, &r[k], 1);
    return rmens_rule_value(o->rule, m.mean, m.min, rmens_moments_var(&m), o->lambda);
}

int64_t rmens_bon_pick(const float *R, int K, const int64_t *rows, int64_t n, const rmens_bon_options *o,
                       int64_t *runner)
{
    int64_t best = -1, second = -1;
    double vb = -INFINITY, vs = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double v = rmens_bon_value(R + (size_t)rows[j] * K, K, o);
        if (best < 0 || v > vb) {  /* strictly greater: a tie keeps the earlier candidate */
            second = best, vs = vb;
            best = j, vb = v;
        } else if (second < 0 || v > vs) {
            second = j, vs = v;
        }
    }
    *runner = second;
    return best;
}

typedef struct {
    double proxy;
    int64_t i;
} ranked;

/* Ascending proxy; among equal proxies the higher index first, so the lowest index ranks
 * highest (it wins a tie, as in rmens_bon_pick). */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->proxy != y->proxy)
        return x->proxy < y->proxy ? -1 : 1;
    return (x->i < y->i) - (x->i > y->i);
}

rmens_status rmens_bon_expected(const double *proxy, const double *gold, int64_t N, int64_t n, double *out)
{
    *out = NAN;
    if (n < 1 || n > N)
        return RMENS_OK;
    ranked *r = malloc((size_t)N * sizeof *r);
    if (!r)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld candidates", (long long)N);
    for (int64_t i = 0; i < N; i++)
        r[i] = (ranked){proxy[i], i};
    qsort(r, (size_t)N, sizeof *r, cmp_ranked);
    /* log C(N, n), and for rank i (1-based) log C(i - 1, n - 1) */
    const double lcn = lgamma((double)N + 1) - lgamma((double)n + 1) - lgamma((double)(N - n) + 1);
    double e = 0;
    for (int64_t i = n; i <= N; i++) {
        double lw = lgamma((double)i) - lgamma((double)n) - lgamma((double)(i - n) + 1) - lcn;
        e += exp(lw) * gold[r[i - 1].i];
    }
    free(r);
    *out = e;
    return RMENS_OK;
}

/* The candidates' groups: rows of each prompt id 0..G-1, in file order (a counting sort);
 * an id without candidates is refused. */
static rmens_status group_rows(const rmens_dataset *ds, const char *path, int64_t *G, int64_t **start, int64_t **rows)
{
    const int64_t n = rmens_dataset_count(ds);
    int64_t g = 0;
    for (int64_t i = 0; i < n; i++)
        g = ds->prompt_id[i] + 1 > g ? ds->prompt_id[i] + 1 : g;
    int64_t *s = calloc((size_t)g + 2, sizeof *s), *r = malloc((size_t)n * sizeof *r + 1);
    if (!s || !r) {
        free(s);
        free(r);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld groups", (long long)g);
    }
    for (int64_t i = 0; i < n; i++)
        s[ds->prompt_id[i] + 1]++;
    for (int64_t q = 0; q < g; q++) {
        if (s[q + 1] == 0) {
            free(s);
            free(r);
            return rmens_fail(RMENS_ERR_FORMAT, "%s: prompt id %lld has no candidates (an empty group): ids must "
                              "number the prompts 0..%lld", path, (long long)q, (long long)g - 1);
        }
        s[q + 1] += s[q];
    }
    int64_t *at = malloc((size_t)g * sizeof *at + 1);
    if (!at) {
        free(s);
        free(r);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    memcpy(at, s, (size_t)g * sizeof *at);
    for (int64_t i = 0; i < n; i++)
        r[at[ds->prompt_id[i]]++] = i;
    free(at);
    *G = g, *start = s, *rows = r;
    return RMENS_OK;
}

/* Rank 0: the best-of-n curve of every aggregate (each member's reward, then each rule
 * of rmens_rule_names) for n = 1, 2, 4, ... up to the smallest group: the mean over
 * prompts of the expected proxy (the aggregate itself) and gold reward of the pick among
 * n candidates drawn from the group without replacement (rmens_bon_expected), against
 * KL_bon = log n - (n - 1) / n, into res->curve. */
static rmens_status curve_compute(const rmens_bon_options *o, const rmens_dataset *ds, const float *R, int K,
                                  const float *gold, rmens_bon_result *res)
{
    int64_t G = 0, *start = NULL, *rows = NULL, nmin = INT64_MAX, nmax = 0;
    RMENS_TRY(group_rows(ds, o->candidates, &G, &start, &rows));
    for (int64_t q = 0; q < G; q++) {
        int64_t n = start[q + 1] - start[q];
        nmin = n < nmin ? n : nmin, nmax = n > nmax ? n : nmax;
    }
    int nn = 0;
    int64_t ns[64];
    for (int64_t n = 1; n <= nmin; n *= 2)
        ns[nn++] = n;
    const int nb = K + RMENS_RULE_N;
    double *proxy = malloc((size_t)nmax * sizeof *proxy + 1), *g = malloc((size_t)nmax * sizeof *g + 1);
    rmens_bon_point *c = calloc((size_t)nb * (size_t)nn + 1, sizeof *c);
    rmens_status st = proxy && g && c ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory for the curve");
    for (int b = 0; st == RMENS_OK && b < nb; b++) {
        rmens_bon_options ob = *o;
        ob.member = b < K ? b : -1;
        ob.rule = b < K ? o->rule : (rmens_rule)(b - K);
        for (int t = 0; t < nn; t++) {
            rmens_bon_point *pt = &c[b * nn + t];
            if (b < K)
                snprintf(pt->by, sizeof pt->by, "member:%d", b);
            else
                snprintf(pt->by, sizeof pt->by, "%s", rmens_rule_names[b - K]);
            pt->n = ns[t];
            pt->kl = log((double)ns[t]) - (double)(ns[t] - 1) / (double)ns[t];
        }
        for (int64_t q = 0; st == RMENS_OK && q < G; q++) {
            const int64_t n = start[q + 1] - start[q], *rs = rows + start[q];
            for (int64_t j = 0; j < n; j++) {
                proxy[j] = rmens_bon_value(R + (size_t)rs[j] * K, K, &ob);
                g[j] = gold ? gold[rs[j]] : NAN;
            }
            for (int t = 0; st == RMENS_OK && t < nn; t++) {
                double ep, eg;
                if ((st = rmens_bon_expected(proxy, proxy, n, ns[t], &ep)) == RMENS_OK &&
                    (st = rmens_bon_expected(proxy, g, n, ns[t], &eg)) == RMENS_OK)
                    c[b * nn + t].proxy += ep / (double)G, c[b * nn + t].gold += eg / (double)G;
            }
        }
    }
    free(proxy), free(g), free(start), free(rows);
    if (st != RMENS_OK) {
        free(c);
        return st;
    }
    res->curve = c, res->ncurve = nb * nn, res->prompts = G;
    return RMENS_OK;
}

void rmens_bon_result_free(rmens_bon_result *res)
{
    free(res->curve);
    res->curve = NULL, res->ncurve = 0;
}

/* What rank 0 writes. */
typedef struct {
    int64_t *pid, *index, *cand, *size, *offsets, *plen;
    float *value, *unc, *rewards, *gold;
    rmens_score_stats *stats;
    int32_t *tokens;
} picks_buf;

static void picks_free(picks_buf *b)
{
    free(b->pid), free(b->index), free(b->cand), free(b->size), free(b->offsets), free(b->plen);
    free(b->value), free(b->unc), free(b->rewards), free(b->stats), free(b->tokens), free(b->gold);
}

/* Rank 0: the pick of every group, its figures and tokens. */
static rmens_status select_all(const rmens_bon_options *o, const rmens_dataset *ds, const float *R, int K,
                               const float *gold, const rmens_ensemble *ei, rmens_picks *out, picks_buf *b,
                               rmens_bon_result *res)
{
    int64_t G = 0, *start = NULL, *rows = NULL;
    RMENS_TRY(group_rows(ds, o->candidates, &G, &start, &rows));
    const size_t g = (size_t)G + 1;
    b->pid = malloc(g * 8), b->index = malloc(g * 8), b->cand = malloc(g * 8), b->size = malloc(g * 8);
    b->offsets = calloc(g + 1, 8), b->plen = malloc(g * 8), b->value = malloc(g * 4), b->unc = malloc(g * 4);
    b->rewards = malloc(g * (size_t)K * 4), b->stats = malloc(g * sizeof *b->stats);
    b->gold = gold ? malloc(g * 4) : NULL;
    double *d = malloc((size_t)K * sizeof *d);
    rmens_status st = b->pid && b->index && b->cand && b->size && b->offsets && b->plen && b->value && b->unc &&
                              b->rewards && b->stats && d && (b->gold || !gold)
                          ? RMENS_OK
                          : rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld prompts", (long long)G);
    int64_t T = 0;
    for (int64_t q = 0; st == RMENS_OK && q < G; q++) {
        const int64_t n = start[q + 1] - start[q], *rs = rows + start[q];
        int64_t runner, j = rmens_bon_pick(R, K, rs, n, o, &runner), i = rs[j];
        const float *r = R + (size_t)i * K;
        b->pid[q] = q, b->index[q] = i, b->cand[q] = j, b->size[q] = n;
        b->value[q] = (float)rmens_bon_value(r, K, o);
        b->stats[q] = stats_of(r, K, o->lambda);
        memcpy(b->rewards + (size_t)q * K, r, (size_t)K * sizeof *r);
        /* the pick's uncertainty: of the decision between it and the runner-up */
        if (runner >= 0) {
            rmens_pair_margins(d, r, R + (size_t)rs[runner] * K, K, o->normalize ? ei->rstd : NULL, ei->tau);
            b->unc[q] = (float)rmens_uncertainty(d, K);
        } else {
            b->unc[q] = NAN;
        }
        b->plen[q] = rmens_dataset_prompt_len(ds, i);
        T += rmens_dataset_len(ds, RMENS_SIDE_RESPONSE, i);
        b->offsets[q + 1] = T;
        res->mean_value += b->value[q] / (double)G;
        if (gold) {
            double mg = 0;
            for (int64_t k = 0; k < n; k++)
                mg += gold[rs[k]] / (double)n;
            b->gold[q] = gold[i];
            res->gold_picked += gold[i] / (double)G, res->gold_random += mg / (double)G;
        }
        res->picked_first += j == 0;
    }
    if (st == RMENS_OK && !(b->tokens = malloc((size_t)T * sizeof *b->tokens + 1)))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld tokens", (long long)T);
    for (int64_t q = 0; st == RMENS_OK && q < G; q++) {
        int64_t len;
        const int32_t *t = rmens_dataset_seq(ds, RMENS_SIDE_RESPONSE, b->index[q], &len);
        if (!t)
            st = rmens_fail_context(RMENS_ERR_HDF5, "%s: candidate %lld: ", o->candidates, (long long)b->index[q]);
        else
            memcpy(b->tokens + b->offsets[q], t, (size_t)len * sizeof *t);
    }
    free(d);
    free(start);
    free(rows);
    res->prompts = G;
    res->has_gold = gold != NULL;
    res->mean_group = G ? (double)rmens_dataset_count(ds) / (double)G : NAN;
    *out = (rmens_picks){.G = G, .prompt_id = b->pid, .index = b->index, .candidate = b->cand, .group_size = b->size,
                         .value = b->value, .uncertainty = b->unc, .gold = b->gold, .stats = b->stats, .rewards = b->rewards,
                         .tokens = b->tokens, .offsets = b->offsets, .prompt_len = b->plen};
    return st;
}

rmens_status rmens_bon(const rmens_bon_options *o, MPI_Comm comm, rmens_bon_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = rmens_rule_check_lambda(o->lambda);
    if (st == RMENS_OK && rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"`ckpt`", o->ckpt, 0}, {"`candidates`", o->candidates, 0}}, 2,
                                (rmens_file_use[]){{"`out`", o->out, o->force}, {"`curve`", o->curve, o->force}},
                                o->curve ? 2 : 1);
    RMENS_TRY(rmens_verdict(comm, st));
    rmens_dataset *ds = NULL;
    rmens_ensemble *e = NULL;
    float *R = NULL;
    int K = 0, none = 0;  /* none: members counted again, unused */
    int64_t n_cut = 0, budget;
    picks_buf b = {0};
    float *gold = NULL;
    /* A process reward model picks among a steps file's solutions by their aggregate. */
    const int prm = rmens_prm_wanted(o->ckpt, o->candidates);
    if ((st = rmens_data_budget(comm, o->data_budget, &budget)) != RMENS_OK ||
        (st = rmens_dataset_read_comm(&ds, o->candidates, comm, prm ? -1 : budget)) != RMENS_OK)
        goto exit;
    if (prm && rmens_dataset_kind(ds) != RMENS_DATA_STEPS)
        st = rmens_fail(RMENS_ERR_ARG, "%s is a process reward model: it picks among the solutions of a steps file "
                        "grouped by prompt (rmens synth --steps-file --candidates N, rmens prep --steps), and %s is a "
                        "%s file", o->ckpt, o->candidates,
                        rmens_dataset_kind(ds) == RMENS_DATA_PAIRS ? "pairs" : "responses");
    else if (prm && o->normalize)
        st = rmens_fail(RMENS_ERR_ARG, "`normalize` member: a process reward model's solution scores are "
                        "probabilities, not standardised");
    else if (!prm && rmens_dataset_kind(ds) != RMENS_DATA_RESPONSES)
        st = rmens_fail(RMENS_ERR_ARG, "%s is a pairs file; bon needs candidates: a responses file grouped by prompt "
                        "(rmens prep --responses)", o->candidates);
    else if (!(ds->has & RMENS_HAS_GROUP))
        st = rmens_fail(RMENS_ERR_ARG, "%s has no /prompt_id: candidates must be grouped by prompt (rmens prep "
                        "--responses writes it)", o->candidates);
    else if (rmens_dataset_count(ds) == 0)
        st = rmens_fail(RMENS_ERR_ARG, "%s has no candidates", o->candidates);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK)
        goto exit;
    if ((st = prm ? rmens_prm_solution_scores(o->ckpt, o->candidates, ds, o->aggregate, comm, &R, &K, &n_cut)
                  : rmens_score_gather(o->ckpt, o->candidates, ds, o->normalize, comm, &R, &K, &n_cut)) != RMENS_OK)
        goto exit;
    /* gold: the candidates' own (synthetic responses), or whether a solution is right */
    const int64_t n = rmens_dataset_count(ds);
    if (rank == 0 && prm && (ds->has & RMENS_HAS_STEPS) && (gold = malloc((size_t)n * sizeof *gold + 1)))
        for (int64_t i = 0; i < n; i++)
            gold[i] = (float)rmens_prm_solution_right(ds, i);
    else if (rank == 0 && prm && (ds->has & RMENS_HAS_STEPS))
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for %lld candidates", (long long)n);
    const float *g = prm ? gold : ds->has & RMENS_HAS_GOLD ? ds->side[0].gold : NULL;
    if (o->member >= K)
        st = rmens_fail(RMENS_ERR_ARG, "`by` member:%d: %s has %d member%s (0..%d)", o->member, o->ckpt, K,
                        K > 1 ? "s" : "", K - 1);
    int64_t step = 0;
    if (st == RMENS_OK && rank == 0 && (st = rmens_score_count_members(o->ckpt, &none, &step)) == RMENS_OK)
        /* statistics and temperatures: of an ensemble without its weights; a model file
         * (step -1) is its one member */
        st = step < 0 ? rmens_ensemble_open(&e, o->ckpt) : rmens_ensemble_open_subset(&e, o->ckpt, (int[]){0}, 0);
    if (st == RMENS_OK && rank == 0 && o->curve)
        st = curve_compute(o, ds, R, K, g, res);
    if (st == RMENS_OK && rank == 0 && o->out) {
        rmens_picks p;
        char by[32];
        if (o->member >= 0)
            snprintf(by, sizeof by, "member:%d", o->member);
        else
            snprintf(by, sizeof by, "%s", rmens_rule_names[o->rule]);
        st = select_all(o, ds, R, K, g, e, &p, &b, res);
        p.ckpt = o->ckpt, p.candidates = o->candidates, p.command = o->command, p.by = by;
        p.aggregate = prm ? rmens_aggregate_names[o->aggregate] : NULL;
        p.tokenizer = ds->tokenizer, p.ckpt_crc32 = rmens_score_file_crc32(o->ckpt);
        p.members = K, p.normalize = o->normalize, p.calibrated = e->has_temperature, p.lambda = o->lambda;
        if (st == RMENS_OK)
            st = rmens_picks_write(o->out, o->force, &p);
    }
    res->candidates = rmens_dataset_count(ds);
    res->members = K;
exit:
    st = rmens_verdict(comm, st);
    picks_free(&b);
    rmens_ensemble_close(e);
    rmens_dataset_free(ds);
    free(R);
    free(gold);
    return st;
}
