#include "ensemble/evaluator.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/logistic.h"
#include "comm/placement.h"
#include "comm/verdict.h"
#include "ensemble/metrics.h"
#include "ensemble/scorer.h"
#include "io/dataset.h"
#include "io/output.h"

#define ECE_BINS 15


static json_object *num(double x) { return isfinite(x) ? json_object_new_double(x) : NULL; }

/* Response length of sequence i of a side: tokens after the prompt. */
static double response_len(const rmens_dataset *ds, int side, int64_t i)
{
    return (double)(rmens_dataset_len(ds, (rmens_side)side, i) - rmens_dataset_prompt_len(ds, i));
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

/* The table to out and the JSON report to *json; out of memory, no report at all (never
 * a partial one passed off as complete). */
static rmens_status report(const rmens_eval_options *o, const rmens_dataset *ds, const float *R, int K,
                           const float *Rood, int64_t Sood, int64_t n_cut, FILE *out, json_object **json)
{
    rmens_status st = RMENS_OK;
    const int64_t n = rmens_dataset_count(ds);
    const float *W = R, *L = R + (size_t)n * K;  /* chosen rows, then rejected rows */
    double *p = malloc((size_t)n * sizeof *p), *pe = calloc((size_t)n, sizeof *pe);
    double *u = malloc((size_t)n * sizeof *u), *mw = malloc((size_t)n * sizeof *mw), *ml = malloc((size_t)n * sizeof *ml);
    int *wrong = malloc((size_t)n * sizeof *wrong), *right = malloc((size_t)n * sizeof *right);
    json_object *j = json_object_new_object(), *members = json_object_new_array();
    if (!p || !pe || !u || !mw || !ml || !wrong || !right || !j || !members) {
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for the evaluation of %lld pairs", (long long)n);
        goto exit;
    }
    json_object_object_add(j, "checkpoint", json_object_new_string(o->ckpt));
    json_object_object_add(j, "data", json_object_new_string(o->data));
    json_object_object_add(j, "pairs", json_object_new_int64(n));
    json_object_object_add(j, "members_count", json_object_new_int(K));
    json_object_object_add(j, "normalize", json_object_new_string(o->normalize ? "member" : "none"));
    json_object_object_add(j, "lambda", json_object_new_double(o->lambda));
    json_object_object_add(j, "sequences_cut", json_object_new_int64(n_cut));
    fprintf(out, "eval: %s on %lld pairs of %s (%d member%s, rewards %s)\n", o->ckpt, (long long)n, o->data, K,
            K > 1 ? "s" : "", o->normalize ? "standardised per member" : "raw");
    fprintf(out, "  %-22s %8s %8s %8s %8s %8s\n", "", "accuracy", "ECE", "Brier", "NLL", "margin");
    for (int k = 0; k < K; k++) {
        double acc = 0, margin = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)W[i * K + k] - L[i * K + k];
            p[i] = rmens_sigmoid(d);
            pe[i] += p[i] / K;
            acc += d > 0;
            margin += d;
        }
        acc /= (double)n, margin /= (double)n;
        double ece = rmens_ece(p, n, ECE_BINS), brier = rmens_brier(p, n), nll = rmens_nll(p, n);
        fprintf(out, "  member %-15d %8.4f %8.4f %8.4f %8.4f %8.4f\n", k, acc, ece, brier, nll, margin);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "member", json_object_new_int(k));
        json_object_object_add(m, "accuracy", num(acc));
        json_object_object_add(m, "ece", num(ece));
        json_object_object_add(m, "brier", num(brier));
        json_object_object_add(m, "nll", num(nll));
        json_object_object_add(m, "mean_margin", num(margin));
        json_object_array_add(members, m);
    }
    json_object_object_add(j, "members", members);
    members = NULL;  /* j owns it */
    /* Ensemble decisions: mean, worst case (min), uncertainty-weighted (mean - lambda var). */
    double acc_mean = 0, acc_min = 0, acc_uwo = 0;
    for (int64_t i = 0; i < n; i++) {
        double sw = 0, sl = 0, vw = 0, vl = 0, nw = INFINITY, nl = INFINITY, dm = 0, dv = 0;
        for (int k = 0; k < K; k++) {
            sw += W[i * K + k] / (double)K, sl += L[i * K + k] / (double)K;
            nw = fmin(nw, W[i * K + k]), nl = fmin(nl, L[i * K + k]);
        }
        for (int k = 0; k < K; k++) {
            vw += (W[i * K + k] - sw) * (W[i * K + k] - sw) / K;
            vl += (L[i * K + k] - sl) * (L[i * K + k] - sl) / K;
            dm += ((double)W[i * K + k] - L[i * K + k]) / K;
        }
        for (int k = 0; k < K; k++) {
            double d = (double)W[i * K + k] - L[i * K + k] - dm;
            dv += d * d / K;
        }
        mw[i] = sw, ml[i] = sl;
        right[i] = sw > sl;
        wrong[i] = !right[i];
        u[i] = sqrt(dv);  /* disagreement on the pair: std over members of r_w - r_l */
        acc_mean += sw > sl;
        acc_min += nw > nl;
        acc_uwo += sw - o->lambda * vw > sl - o->lambda * vl;
    }
    acc_mean /= (double)n, acc_min /= (double)n, acc_uwo /= (double)n;
    double e_ece = rmens_ece(pe, n, ECE_BINS), e_brier = rmens_brier(pe, n), e_nll = rmens_nll(pe, n);
    fprintf(out, "  %-22s %8.4f %8.4f %8.4f %8.4f\n", "ensemble (mean prob.)", acc_mean, e_ece, e_brier, e_nll);
    fprintf(out, "  ensemble accuracy deciding by mean %.4f, min (worst case) %.4f, mean - %g var %.4f\n", acc_mean,
            acc_min, o->lambda, acc_uwo);
    json_object *en = json_object_new_object();
    json_object_object_add(en, "accuracy_mean", num(acc_mean));
    json_object_object_add(en, "accuracy_min", num(acc_min));
    json_object_object_add(en, "accuracy_uwo", num(acc_uwo));
    json_object_object_add(en, "ece", num(e_ece));
    json_object_object_add(en, "brier", num(e_brier));
    json_object_object_add(en, "nll", num(e_nll));
    json_object_object_add(j, "ensemble", en);
    /* Is the disagreement informative? One member has none: every u is 0, so the AUROC
     * would be 0.5 and "the least disputed half" the first half of the file. */
    double auroc = NAN;
    double sel[3];
    const double cov[3] = {0.5, 0.8, 1.0};
    for (int c = 0; c < 3; c++)
        sel[c] = K > 1 || cov[c] == 1.0 ? rmens_selective_accuracy(u, right, n, cov[c]) : NAN;
    if (K > 1) {
        auroc = rmens_auroc(u, wrong, n);
        fprintf(out, "  disagreement: AUROC for spotting the ensemble's errors %.4f; accuracy at coverage 50%% %.4f, "
                "80%% %.4f, 100%% %.4f\n", auroc, sel[0], sel[1], sel[2]);
    } else {
        fprintf(out, "  disagreement: none with one member (AUROC and selective accuracy need two or more)\n");
    }
    json_object *un = json_object_new_object();
    json_object_object_add(un, "error_auroc", num(auroc));
    json_object_object_add(un, "accuracy_at_coverage_50", num(sel[0]));
    json_object_object_add(un, "accuracy_at_coverage_80", num(sel[1]));
    json_object_object_add(un, "accuracy_at_coverage_100", num(sel[2]));
    json_object_object_add(j, "uncertainty", un);
    /* Reward-hacking probes: length. */
    {
        double *rv = malloc((size_t)2 * n * sizeof *rv), *lv = malloc((size_t)2 * n * sizeof *lv);
        double sh = 0, lo = 0, nsh = 0, nlo = 0;
        for (int64_t i = 0; rv && lv && i < n; i++) {
            rv[i] = mw[i], rv[n + i] = ml[i];
            lv[i] = response_len(ds, 0, i), lv[n + i] = response_len(ds, 1, i);
            if (lv[i] < lv[n + i])
                sh += right[i], nsh++;
            else if (lv[i] > lv[n + i])
                lo += right[i], nlo++;
        }
        double rho = rv && lv ? rmens_spearman(rv, lv, 2 * n) : NAN;
        double a_sh = nsh ? sh / nsh : NAN, a_lo = nlo ? lo / nlo : NAN;
        fprintf(out, "  length: Spearman(reward, response length) %.4f; accuracy when the chosen response is shorter "
                "%.4f (%lld pairs), longer %.4f (%lld pairs)\n", rho, a_sh, (long long)nsh, a_lo, (long long)nlo);
        json_object *le = json_object_new_object();
        json_object_object_add(le, "spearman_reward_length", num(rho));
        json_object_object_add(le, "accuracy_chosen_shorter", num(a_sh));
        json_object_object_add(le, "accuracy_chosen_longer", num(a_lo));
        json_object_object_add(le, "pairs_chosen_shorter", json_object_new_int64((int64_t)nsh));
        json_object_object_add(le, "pairs_chosen_longer", json_object_new_int64((int64_t)nlo));
        json_object_object_add(j, "length", le);
        free(rv);
        free(lv);
    }
    if (ds->trap) {
        static const char *const kinds[] = {"none", "length", "format", "confidence"};
        double ok[4] = {0}, cnt[4] = {0};
        for (int64_t i = 0; i < n; i++)
            ok[ds->trap[i]] += right[i], cnt[ds->trap[i]]++;
        json_object *tr = json_object_new_object();
        fprintf(out, "  traps (accuracy by mean):");
        for (int t = 0; t < 4; t++) {
            double a = cnt[t] ? ok[t] / cnt[t] : NAN;
            fprintf(out, " %s %.4f (%d)", kinds[t], a, (int)cnt[t]);
            json_object_object_add(tr, kinds[t], num(a));
        }
        fprintf(out, "\n");
        json_object_object_add(j, "traps", tr);
    }
    if (Rood && K == 1) {
        fprintf(out, "  out of distribution (%s): no disagreement with one member\n", o->ood);
        json_object *od = json_object_new_object();
        json_object_object_add(od, "data", json_object_new_string(o->ood));
        json_object_object_add(od, "mean_disagreement_ood", NULL);
        json_object_object_add(od, "mean_disagreement_id", NULL);
        json_object_object_add(od, "auroc", NULL);
        json_object_object_add(j, "ood", od);
    } else if (Rood) {
        /* In- versus out-of-distribution: per-sequence disagreement (std over members). */
        double *a = malloc((size_t)(2 * n + Sood) * sizeof *a);
        int *lab = malloc((size_t)(2 * n + Sood) * sizeof *lab);
        if (a && lab) {
            seq_std(R, 2 * n, K, a);
            seq_std(Rood, Sood, K, a + 2 * n);
            double mi = 0, mo = 0;
            for (int64_t i = 0; i < 2 * n + Sood; i++) {
                lab[i] = i >= 2 * n;
                if (lab[i])
                    mo += a[i] / (double)Sood;
                else
                    mi += a[i] / (double)(2 * n);
            }
            double au = rmens_auroc(a, lab, 2 * n + Sood);
            fprintf(out, "  out of distribution (%s): mean disagreement %.4f vs %.4f in distribution; AUROC %.4f\n",
                    o->ood, mo, mi, au);
            json_object *od = json_object_new_object();
            json_object_object_add(od, "data", json_object_new_string(o->ood));
            json_object_object_add(od, "mean_disagreement_ood", num(mo));
            json_object_object_add(od, "mean_disagreement_id", num(mi));
            json_object_object_add(od, "auroc", num(au));
            json_object_object_add(j, "ood", od);
        }
        if (!a || !lab)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory for the out-of-distribution comparison (%lld sequences)",
                            (long long)(2 * n + Sood));
        free(a);
        free(lab);
    }
exit:
    free(p), free(pe), free(u), free(mw), free(ml), free(wrong), free(right);
    json_object_put(members);
    if (st != RMENS_OK) {
        json_object_put(j);
        j = NULL;
    }
    *json = j;
    return st;
}

rmens_status rmens_eval(const rmens_eval_options *o, MPI_Comm comm)
{
    int rank;
    RMENS_TRY(rmens_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank"));
    rmens_status st = RMENS_OK;
    if (!(o->lambda >= 0) || !isfinite(o->lambda))
        st = rmens_fail(RMENS_ERR_ARG, "`lambda` must be a non-negative number, got %g", o->lambda);
    else if (rank == 0)
        st = rmens_output_check((rmens_file_use[]){{"--ckpt", o->ckpt, 0}, {"--data", o->data, 0}, {"--ood", o->ood, 0}},
                                3, &(rmens_file_use){"--json", o->json, o->force}, 1);
    RMENS_TRY(rmens_verdict(comm, st));
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
        FILE *table = o->quiet ? fopen("/dev/null", "w") : stdout;
        json_object *j = NULL;
        st = report(o, ds, R, K, Rood, Sood, n_cut, table ? table : stdout, &j);
        if (table && table != stdout)
            fclose(table);
        if (st == RMENS_OK && o->json) {
            char tmp[4200];
            snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->json, (long)getpid());
            FILE *f = fopen(tmp, "w");
            if (!f || fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY), f) < 0 || fputc('\n', f) < 0 ||
                fclose(f) != 0 || rename(tmp, o->json) != 0) {
                st = rmens_fail(RMENS_ERR_IO, "cannot write %s", o->json);
                remove(tmp);
            }
        }
        json_object_put(j);
    }
exit:
    st = rmens_verdict(comm, st);
    rmens_dataset_free(ds);
    rmens_dataset_free(ood);
    free(R);
    free(Rood);
    return st;
}
