/* rmens eval: accuracy, calibration, whether the ensemble's disagreement means anything,
 * and reward-hacking probes, from every member's rewards gathered on rank 0. The library
 * computes a result; cli/eval.c prints it as a table and writes it as JSON. */
#ifndef RMENS_ENSEMBLE_EVALUATOR_H
#define RMENS_ENSEMBLE_EVALUATOR_H

#include "ensemble/ensemble.h"
#include "ensemble/uncertainty.h"
#include "io/dataset.h"
#include "rmens_mpi.h"

typedef struct {
    const char *ckpt, *data, *ood;
    const char *json;     /* the caller writes the report there: checked before any work */
    double lambda;
    int normalize, force;
    int fit_temperature;    /* fit temperatures on the pairs (ensemble/temperature.h) */
    int write_temperature;  /* and record them in ckpt (io/calibration.h; implies fit) */
    int64_t data_budget;  /* bytes of tokens held in memory per file (rmens_data_budget); 0: auto */
} rmens_eval_options;

/* Pairwise accuracy, calibration of sigmoid(r_w - r_l) (ECE over RMENS_EVAL_ECE_BINS
 * bins, Brier, NLL) and mean margin r_w - r_l: of one member, or of the ensemble's mean
 * probability (its margin NaN). */
typedef struct {
    double accuracy, ece, brier, nll, margin;
    /* with fit_temperature: the fitted T and ECE/NLL of sigmoid(d / T); for the ensemble's
     * mean probability, of mean_k sigmoid(d_k / T_k) with each member's own T_k (its T
     * NaN); NaN otherwise */
    double temperature, ece_calibrated, nll_calibrated;
} rmens_eval_calib;
#define RMENS_EVAL_ECE_BINS 15

/* Selective accuracy is reported at these coverages (the least disputed fraction kept). */
#define RMENS_EVAL_NCOVERAGE 3
extern const double rmens_eval_coverage[RMENS_EVAL_NCOVERAGE];  /* 0.5, 0.8, 1.0 */

/* How well one signal (ensemble/uncertainty.h) spots the ensemble's wrong decisions
 * (deciding by mean; a tie is wrong): AUROC of the signal for the errors, area under the
 * risk-coverage curve, accuracy on the 50/80/100% least uncertain pairs (ties: metrics.h).
 * NaN where undefined (a disagreement signal with one member). */
typedef struct {
    double auroc, aurc, accuracy_at_coverage[RMENS_EVAL_NCOVERAGE];
} rmens_eval_signal;

/* What eval measures; NaN where a measure is undefined (one member has no disagreement;
 * no pair has a shorter chosen response). */
typedef struct {
    int64_t pairs, sequences_cut;
    int members;
    rmens_eval_calib *member;            /* [members] */
    rmens_eval_calib ensemble;           /* of the mean probability over members */
    double accuracy[RMENS_RULE_N];       /* deciding by each rule (mean, min, uwo) */
    /* each error signal of ensemble/uncertainty.h against the ensemble's (mean's) errors */
    rmens_eval_signal signal[RMENS_SIGNAL_N];
    /* length: reward against response length, accuracy by which response is shorter */
    double spearman_length, accuracy_chosen_shorter, accuracy_chosen_longer;
    int64_t pairs_chosen_shorter, pairs_chosen_longer;
    int has_traps;                       /* the data marks trap pairs (synthetic data) */
    double trap_accuracy[RMENS_NTRAPS];             /* by rmens_trap, deciding by mean */
    int64_t trap_pairs[RMENS_NTRAPS];
    int has_temperature;                 /* temperatures were fitted (and written, if asked) */
    rmens_eval_calib mean_margin;        /* with it: sigmoid(mean_k d_k / T), one T (before: T = 1) */
    int has_ood;                         /* options' ood was given */
    double ood_disagreement, id_disagreement, ood_auroc;  /* per-sequence std over members */
} rmens_eval_result;

/* Collective over comm; *res is filled on rank 0 (zeroed elsewhere) and owns memory
 * (rmens_eval_result_free). On failure nothing is filled: never a partial report. */
rmens_status rmens_eval(const rmens_eval_options *o, MPI_Comm comm, rmens_eval_result *res);
void rmens_eval_result_free(rmens_eval_result *res);

/* Fits every member's temperature and the ensemble's on the n pairs' rewards R (as
 * rmens_eval_compute reads them) into res's calibration records. Serial. */
rmens_status rmens_eval_fit_temperature(const float *R, int64_t n, int K, rmens_eval_result *res);

/* The measures of rewards R ([2n][K]: chosen rows 0..n-1, then rejected rows) of the n
 * pairs of ds, and of Rood ([Sood][K], or NULL) from another distribution. Serial. */
rmens_status rmens_eval_compute(const rmens_dataset *ds, const float *R, int K, const float *Rood, int64_t Sood,
                                double lambda, rmens_eval_result *res);

#endif
