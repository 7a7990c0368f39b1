#include "ensemble/evaluator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/logistic.h"
#include "comm/placement.h"
#include "comm/verdict.h"
#include "ensemble/metrics.h"
#include "ensemble/ensemble.h"
#include "ensemble/scorer.h"
#include "ensemble/temperature.h"
#include "io/calibration.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/output.h"

const double rmens_eval_coverage[RMENS_EVAL_NCOVERAGE] = {0.5, 0.8, 1.0};

/* Per pair, what the measures after the members' share: filled by decide(). */
typedef struct {
    double *pe;          /* [n] ensemble's mean probability of the human label */
    double *u;           /* [n][RMENS_SIGNAL_N] every error signal of the pair */
    double *mw, *ml;     /* [n] mean reward of the chosen / rejected response */
    int *right, *wrong;  /* [n] the ensemble deciding by mean is right / wrong */
    double *p;           /* [max(n, K)] scratch: one member's probabilities; one pair's margins */
} pairs_scratch;

static void scratch_free(pairs_scratch *s)
{
    free(s->pe), free(s->u), free(s->mw), free(s->ml), free(s->right), free(s->wrong), free(s->p);
}

static rmens_status scratch_alloc(pairs_scratch *s, int64_t n, int K)
{
    const size_t d = (size_t)n * sizeof(double), i = (size_t)n * sizeof(int);
    s->pe = calloc((size_t)n + 1, sizeof *s->pe);
    s->u = malloc(d * RMENS_SIGNAL_N + 1), s->mw = malloc(d + 1), s->ml = malloc(d + 1);
    s->p = malloc((size_t)(n > K ? n : K) * sizeof(double) + 1);
    s->right = malloc(i + 1), s->wrong = malloc(i + 1);
    if (s->pe && s->u && s->mw && s->ml && s->p && s->right && s->wrong)
        return RMENS_OK;
    return rmens_fail(RMENS_ERR_NOMEM, "out of memory for the evaluation of %lld pairs", (long long)n);
}

static void calibration(rmens_eval_calib *c, const double *p, int64_t n)
{
    c->ece = rmens_ece(p, n, RMENS_EVAL_ECE_BINS);
    c->brier = rmens_brier(p, n);
    c->nll = rmens_nll(p, n);
}

/* Each member alone; the ensemble's mean probability accumulates into s->pe. Accuracy
 * and margin are means weighted by the pairs' /weight (docs/TRAINING.md, "Pair weights"). */
static void measure_members(rmens_eval_result *res, pairs_scratch *s, const rmens_dataset *ds, const float *W,
                            const float *L, int64_t n, int K)
{
    for (int k = 0; k < K; k++) {
        rmens_eval_calib *c = &res->member[k];
        double acc = 0, margin = 0, wsum = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)W[i * K + k] - L[i * K + k], w = rmens_dataset_weight(ds, i);
            s->p[i] = rmens_sigmoid(d);
            s->pe[i] += s->p[i] / K;
            acc += w * (d > 0);
            margin += w * d;
            wsum += w;
        }
        c->accuracy = acc / wsum, c->margin = margin / wsum;
        c->temperature = c->ece_calibrated = c->nll_calibrated = NAN;
        calibration(c, s->p, n);
    }
}

/* The ensemble's decisions by each rule (ensemble.h), and per pair its mean rewards,
 * whether deciding by mean is right, and the members' disagreement. */
static void decide(rmens_eval_result *res, pairs_scratch *s, const rmens_dataset *ds, const float *W, const float *L,
                   int64_t n, int K, double lambda)
{
    double wins[RMENS_RULE_N] = {0}, wsum = 0;
    for (int64_t i = 0; i < n; i++) {
        double sw = 0, sl = 0, vw = 0, vl = 0, nw = INFINITY, nl = INFINITY, *d = s->p;
        for (int k = 0; k < K; k++) {
            sw += W[i * K + k] / (double)K, sl += L[i * K + k] / (double)K;
            nw = fmin(nw, W[i * K + k]), nl = fmin(nl, L[i * K + k]);
        }
        for (int k = 0; k < K; k++) {
            vw += (W[i * K + k] - sw) * (W[i * K + k] - sw) / K;
            vl += (L[i * K + k] - sl) * (L[i * K + k] - sl) / K;
            d[k] = (double)W[i * K + k] - L[i * K + k];
        }
        s->mw[i] = sw, s->ml[i] = sl;
        s->right[i] = sw > sl;
        s->wrong[i] = !s->right[i];
        rmens_signals(s->u + (size_t)i * RMENS_SIGNAL_N, d, K);
        double one[RMENS_RULE_N] = {0}, w = rmens_dataset_weight(ds, i);
        rmens_rule_decide(one, (const double[3]){sw, nw, vw}, (const double[3]){sl, nl, vl}, lambda);
        for (int r = 0; r < RMENS_RULE_N; r++)
            wins[r] += w * one[r];
        wsum += w;
    }
    for (int r = 0; r < RMENS_RULE_N; r++)
        res->accuracy[r] = wins[r] / wsum;
    res->ensemble.accuracy = res->accuracy[RMENS_RULE_MEAN];
    res->ensemble.margin = res->ensemble.temperature = NAN;
    res->ensemble.ece_calibrated = res->ensemble.nll_calibrated = NAN;
    calibration(&res->ensemble, s->pe, n);
}

/* Which signal spots the errors? A disagreement signal is undefined with one member (it
 * is 0 everywhere: the AUROC would be 0.5 and "the least disputed half" the first half of
 * the file); accuracy at 100% coverage is the accuracy, whatever the signal. */
static rmens_status measure_signals(rmens_eval_result *res, const pairs_scratch *s, int64_t n, int K)
{
    double *u = malloc((size_t)n * sizeof *u + 1);
    if (!u)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for the error signals (%lld pairs)", (long long)n);
    for (int g = 0; g < RMENS_SIGNAL_N; g++) {
        rmens_eval_signal *e = &res->signal[g];
        const int none = K == 1 && rmens_signal_needs_members((rmens_signal)g);
        for (int64_t i = 0; i < n; i++)
            u[i] = s->u[(size_t)i * RMENS_SIGNAL_N + g];
        for (int c = 0; c < RMENS_EVAL_NCOVERAGE; c++)
            e->accuracy_at_coverage[c] = !none || rmens_eval_coverage[c] == 1.0
                                             ? rmens_selective_accuracy(u, s->right, n, rmens_eval_coverage[c])
                                             : NAN;
        e->auroc = none ? NAN : rmens_auroc(u, s->wrong, n);
        e->aurc = none ? NAN : rmens_aurc(u, s->right, n);
    }
    free(u);
    return RMENS_OK;
}

/* Response length of sequence i of a side: tokens after the prompt. */
static double response_len(const rmens_dataset *ds, int side, int64_t i)
{
    return (double)(rmens_dataset_len(ds, (rmens_side)side, i) - rmens_dataset_prompt_len(ds, i));
}

/* Reward-hacking probe: does the reward follow length? */
static rmens_status measure_length(rmens_eval_result *res, const pairs_scratch *s, const rmens_dataset *ds, int64_t n)
{
    double *rv = malloc((size_t)2 * n * sizeof *rv + 1), *lv = malloc((size_t)2 * n * sizeof *lv + 1);
    rmens_status st = rv && lv ? RMENS_OK
                               : rmens_fail(RMENS_ERR_NOMEM, "out of memory for the length probe (%lld pairs)", (long long)n);
    double sh = 0, lo = 0, nsh = 0, nlo = 0;
    for (int64_t i = 0; st == RMENS_OK && i < n; i++) {
        rv[i] = s->mw[i], rv[n + i] = s->ml[i];
        lv[i] = response_len(ds, 0, i), lv[n + i] = response_len(ds, 1, i);
        if (lv[i] < lv[n + i])
            sh += s->right[i], nsh++;
        else if (lv[i] > lv[n + i])
            lo += s->right[i], nlo++;
    }
    if (st == RMENS_OK) {
        res->spearman_length = rmens_spearman(rv, lv, 2 * n);
        res->accuracy_chosen_shorter = nsh ? sh / nsh : NAN;
        res->accuracy_chosen_longer = nlo ? lo / nlo : NAN;
        res->pairs_chosen_shorter = (int64_t)nsh;
        res->pairs_chosen_longer = (int64_t)nlo;
    }
    free(rv);
    free(lv);
    return st;
}

/* Synthetic data marks its traps: accuracy (deciding by mean) on each kind. */
static void measure_traps(rmens_eval_result *res, const pairs_scratch *s, const rmens_dataset *ds, int64_t n)
{
    double ok[RMENS_NTRAPS] = {0};
    res->has_traps = ds->trap != NULL;
    for (int64_t i = 0; res->has_traps && i < n; i++)
        ok[ds->trap[i]] += s->right[i], res->trap_pairs[ds->trap[i]]++;
    for (int t = 0; t < RMENS_NTRAPS; t++)
        res->trap_accuracy[t] = res->trap_pairs[t] ? ok[t] / (double)res->trap_pairs[t] : NAN;
}

/* Per-sequence disagreement: population std of the members' rewards. */
static void seq_std(const float *R, int64_t S, int K, double *out)
{
    for (int64_t i = 0; i < S; i++) {
        double m = 0, v = 0;
        for (int k = 0; k < K; k++)
            m += R[i * K + k] / (float)K;
        for (int k = 0; k < K; k++)
            v += (R[i * K + k] - m) * (R[i * K + k] - m) / K;
        out[i] = sqrt(v);
    }
}

/* In- versus out-of-distribution: per-sequence disagreement (none with one member). */
static rmens_status measure_ood(rmens_eval_result *res, const float *R, int64_t n, int K, const float *Rood,
                                int64_t Sood)
{
    res->has_ood = 1;
    res->ood_disagreement = res->id_disagreement = res->ood_auroc = NAN;
    if (K == 1)
        return RMENS_OK;
    const int64_t S = 2 * n + Sood;
    double *a = malloc((size_t)S * sizeof *a + 1);
    int *lab = malloc((size_t)S * sizeof *lab + 1);
    rmens_status st = a && lab ? RMENS_OK
                               : rmens_fail(RMENS_ERR_NOMEM, "out of memory for the out-of-distribution comparison "
                                            "(%lld sequences)", (long long)S);
    if (st == RMENS_OK) {
        seq_std(R, 2 * n, K, a);
        seq_std(Rood, Sood, K, a + 2 * n);
        double mi = 0, mo = 0;
        for (int64_t i = 0; i < S; i++) {
            lab[i] = i >= 2 * n;
            if (lab[i])
                mo += a[i] / (double)Sood;
            else
                mi += a[i] / (double)(2 * n);
        }
        res->ood_disagreement = mo, res->id_disagreement = mi;
        res->ood_auroc = rmens_auroc(a, lab, S);
    }
    free(a);
    free(lab);
    return st;
}

rmens_status rmens_eval_compute(const rmens_dataset *ds, const float *R, int K, const float *Rood, int64_t Sood,
                                double lambda, rmens_eval_result *res)
{
    const int64_t n = rmens_dataset_count(ds);
    const float *W = R, *L = R + (size_t)n * K;  /* chosen rows, then rejected rows */
    pairs_scratch s = {0};
    memset(res, 0, sizeof *res);
    res->pairs = n;
    res->members = K;
    res->member = calloc((size_t)K, sizeof *res->member);
    rmens_status st = res->member ? scratch_alloc(&s, n, K) : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (st == RMENS_OK) {
        measure_members(res, &s, ds, W, L, n, K);
        decide(res, &s, ds, W, L, n, K, lambda);
        st = measure_signals(res, &s, n, K);
    }
    if (st == RMENS_OK)
        st = measure_length(res, &s, ds, n);
    if (st == RMENS_OK)
        measure_traps(res, &s, ds, n);
    if (st == RMENS_OK && Rood)
        st = measure_ood(res, R, n, K, Rood, Sood);
    scratch_free(&s);
    if (st != RMENS_OK)
        rmens_eval_result_free(res);
    return st;
}

/* ECE and NLL of probabilities mean_k sigmoid(d_k / T_k) of n pairs' margins d [n][K]. */
static void calibrated(rmens_eval_calib *c, const double *d, int64_t n, int K, const double *T, double *p)
{
    for (int64_t i = 0; i < n; i++) {
        p[i] = 0;
        for (int k = 0; k < K; k++)
            p[i] += rmens_sigmoid(d[i * K + k] / T[k]) / K;
    }
    c->temperature = K == 1 ? T[0] : NAN;
    c->ece_calibrated = rmens_ece(p, n, RMENS_EVAL_ECE_BINS);
    c->nll_calibrated = rmens_nll(p, n);
}

rmens_status rmens_eval_fit_temperature(const float *R, int64_t n, int K, rmens_eval_result *res)
{
    const float *W = R, *L = R + (size_t)n * K;
    double *d = malloc((size_t)n * K * sizeof *d + 1), *dk = malloc((size_t)n * sizeof *dk + 1),
           *p = malloc((size_t)n * sizeof *p + 1), *T = malloc((size_t)K * sizeof *T), one = 1;
    rmens_status st = d && dk && p && T ? RMENS_OK
                                        : rmens_fail(RMENS_ERR_NOMEM, "out of memory to fit temperatures (%lld "
                                                     "pairs)", (long long)n);
    for (int64_t i = 0; st == RMENS_OK && i < n * K; i++)
        d[i] = (double)W[i] - L[i];
    for (int k = 0; st == RMENS_OK && k < K; k++) {
        for (int64_t i = 0; i < n; i++)
            dk[i] = d[i * K + k];
        T[k] = rmens_temperature_fit(dk, n, 1);
        calibrated(&res->member[k], dk, n, 1, &T[k], p);
    }
    if (st == RMENS_OK) {
        calibrated(&res->ensemble, d, n, K, T, p);
        /* the mean margin's own temperature */
        rmens_eval_calib *c = &res->mean_margin;
        for (int64_t i = 0; i < n; i++) {
            dk[i] = 0;
            for (int k = 0; k < K; k++)
                dk[i] += d[i * K + k] / K;
        }
        *c = res->ensemble;
        c->margin = NAN;
        calibrated(c, dk, n, 1, &one, p);
        c->ece = c->ece_calibrated, c->nll = c->nll_calibrated, c->brier = NAN;
        double t = rmens_temperature_fit(dk, n, 1);
        calibrated(c, dk, n, 1, &t, p);
        res->has_temperature = 1;
    }
    free(d);
    free(dk);
    free(p);
    free(T);
    return st;
}

void rmens_eval_result_free(rmens_eval_result *res)
{
    free(res->member);
    memset(res, 0, sizeof *res);
}

static rmens_status record_temperatures(const rmens_eval_options *o, const rmens_eval_result *res)
{
    double *T = malloc((size_t)res->members * sizeof *T);
    if (!T)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < res->members; k++)
        T[k] = res->member[k].temperature;
    rmens_calibration c = {res->mean_margin.temperature, T, res->members, o->normalize, o->data, res->pairs};
    rmens_status st = rmens_calibration_write(o->ckpt, &c);
    free(T);
    return st;
}

rmens_status rmens_eval(const rmens_eval_options *o, MPI_Comm comm, rmens_eval_result *res)
{
    int rank;
    memset(res, 0, sizeof *res);
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = rmens_rule_check_lambda(o->lambda);
    if (st == RMENS_OK && rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"`ckpt`", o->ckpt, 0}, {"`data`", o->data, 0}, {"`ood`", o->ood, 0}},
                                3, &(rmens_file_use){"`json`", o->json, o->force}, 1);
    /* Recording temperatures writes the checkpoint: it must be an ensemble, and no other
     * rmens may be writing it from before it is scored until the new one is in place. */
    rmens_output_lock lock = {.fd = -1};
    rmens_ckpt_header h;
    if (st == RMENS_OK && rank == 0 && o->write_temperature &&
        (st = rmens_checkpoint_read_header(o->ckpt, &h)) != RMENS_OK)
        rmens_fail_context(st, "`write_temperature` needs an ensemble checkpoint: ");
    if (st == RMENS_OK && rank == 0 && o->write_temperature)
        st = rmens_output_lock_take(&lock, o->ckpt);
    if ((st = rmens_verdict(comm, st)) != RMENS_OK) {
        rmens_output_lock_release(&lock);
        return st;
    }
    rmens_dataset *ds = NULL, *ood = NULL;
    float *R = NULL, *Rood = NULL;
    int K = 0, Kood = 0;
    int64_t n_cut = 0, c2 = 0, budget;
    if ((st = rmens_data_budget(comm, o->data_budget, &budget)) != RMENS_OK)
        goto exit;
    if ((st = rmens_dataset_read_comm(&ds, o->data, comm, budget)) != RMENS_OK)
        goto exit;
    if (rmens_dataset_kind(ds) != RMENS_DATA_PAIRS) {
        st = rmens_fail(RMENS_ERR_ARG, "%s is a responses file; eval needs pairs", o->data);
        goto exit;
    }
    if ((st = rmens_score_gather(o->ckpt, o->data, ds, o->normalize, comm, &R, &K, &n_cut)) != RMENS_OK)
        goto exit;
    if (o->ood) {
        if ((st = rmens_dataset_read_comm(&ood, o->ood, comm, budget)) != RMENS_OK)
            goto exit;
        if ((st = rmens_score_gather(o->ckpt, o->ood, ood, o->normalize, comm, &Rood, &Kood, &c2)) != RMENS_OK)
            goto exit;
    }
    if (rank == 0) {
        int64_t Sood = ood ? rmens_dataset_count(ood) * (rmens_dataset_kind(ood) == RMENS_DATA_PAIRS ? 2 : 1) : 0;
        if ((st = rmens_eval_compute(ds, R, K, Rood, Sood, o->lambda, res)) == RMENS_OK)
            res->sequences_cut = n_cut;
        if (st == RMENS_OK && (o->fit_temperature || o->write_temperature))
            st = rmens_eval_fit_temperature(R, rmens_dataset_count(ds), K, res);
        if (st == RMENS_OK && o->write_temperature)
            st = record_temperatures(o, res);
    }
exit:
    st = rmens_verdict(comm, st);
    rmens_output_lock_release(&lock);
    if (st != RMENS_OK)
        rmens_eval_result_free(res);
    rmens_dataset_free(ds);
    rmens_dataset_free(ood);
    free(R);
    free(Rood);
    return st;
}
