/* Process reward model ensembles at use: every member's probability for every step of a
 * steps file (rmens score), a solution's score aggregated over its steps, and the
 * evaluation of the per-step probabilities against the labels (rmens eval): step accuracy,
 * AUROC, ECE and ProcessBench's first-error F1. */
#ifndef RMENS_ENSEMBLE_PRM_H
#define RMENS_ENSEMBLE_PRM_H

#include "model/batch.h"
#include "rmens_mpi.h"

/* How a solution's score comes from its steps' probabilities: the least (Math-Shepherd),
 * the product (Lightman et al.) or the last step's. */
typedef enum { RMENS_AGG_MIN, RMENS_AGG_PROD, RMENS_AGG_LAST, RMENS_AGG_N } rmens_aggregate;
extern const char *const rmens_aggregate_names[RMENS_AGG_N];  /* "min", "prod", "last" */
/* The score of n step probabilities p (NaN ones, cut from the context, left out; NaN
 * when none is left). */
double rmens_aggregate_steps(rmens_aggregate a, const float *p, int64_t n, int64_t stride);

/* Probabilities prob[s] = sigmoid(logit[s]) of n logits (NaN, a step cut away, stays
 * NaN); one step's K members' probabilities' mean, population std and min: the one
 * definition score, eval and serve report. */
void rmens_prm_probs(const float *logit, int64_t n, float *prob);
void rmens_prm_step_stats(const float *prob, int K, float *mean, float *sd, float *mn);

/* Every loaded member's logit for every step of n solutions given as token arrays (as
 * rmens_batch_build_step_seqs takes them), in as many passes as b's room needs:
 * out[s * e->nloc + j], the solutions' steps in order, NaN for a step whose closing token
 * the context cut away. b, and the members' activations, must have room for any one of
 * the solutions. rmens score's and rmens serve's forward passes. */
rmens_status rmens_prm_logits(rmens_ensemble *e, rmens_batch *b, const int32_t *const *seqs,
                              const int64_t *lens, const int32_t *const *ends, const int64_t *nsteps, int64_t n,
                              float *out);

/* Whether ckpt holds process reward members (objective prm) or data is a steps file:
 * score and eval take the process path, which refuses a mismatch of the two. */
int rmens_prm_wanted(const char *ckpt, const char *data);

typedef struct {
    const char *ckpt, *data, *out, *command;
    rmens_aggregate aggregate;
    int force;
    int batch;  /* solutions per forward pass; 0: 16 */
} rmens_prm_score_options;

typedef struct {
    int64_t n, steps;  /* solutions and steps scored */
    int members, n_ctx;
    int64_t n_cut;     /* solutions cut to n_ctx from the front */
    int64_t steps_cut; /* steps whose closing token was cut away (probability NaN) */
    double seconds;
} rmens_prm_score_result;

/* Collective: every member's probability for every step of o->data, written by rank 0 as
 * a "scores" file with input "steps" (docs/FORMAT.md). */
rmens_status rmens_prm_score(const rmens_prm_score_options *o, MPI_Comm comm, rmens_prm_score_result *res);

/* Whether solution i of a steps file is right: 1 when every labelled step is (label >=
 * 1/2), 0 when one is not, NaN when none is labelled. Best-of-n's gold on steps files:
 * with errors carried forward (the synthetic tasks, Math-Shepherd) this is final-answer
 * correctness. */
double rmens_prm_solution_right(const rmens_dataset *ds, int64_t i);

/* Collective: every member's score of every solution of ds (read from data), its steps'
 * probabilities aggregated by a, into *R on rank 0 ([n][K], NaN for a solution whose
 * steps were all cut; NULL elsewhere; the caller frees); *K and *n_cut on every rank. */
rmens_status rmens_prm_solution_scores(const char *ckpt, const char *data, const rmens_dataset *ds,
                                       rmens_aggregate a, MPI_Comm comm, float **R, int *K, int64_t *n_cut);

/* rmens eval of a process reward model: over the labelled steps (a label >= 1/2 is a
 * correct step), each member's and the ensemble's (mean and min probability) step
 * accuracy, AUROC of the probability for the label, and ECE (10 bins); and ProcessBench's
 * first-error F1: per solution the first labelled step judged wrong (p < 1/2, by the
 * ensemble's mean) against the first labelled wrong step, -1 for none; F1 is the harmonic
 * mean of the accuracy on solutions with an error and on those without. */
enum { RMENS_PRM_BY_MEAN, RMENS_PRM_BY_MIN, RMENS_PRM_BY_N };
typedef struct {
    int64_t solutions, steps, labelled, positive;
    int members;
    double *member_accuracy;            /* [members] */
    double accuracy[RMENS_PRM_BY_N];    /* ensemble by mean and by min probability */
    double auroc[RMENS_PRM_BY_N], ece[RMENS_PRM_BY_N];
    double member_auroc_mean;           /* the members' AUROC, averaged */
    double std_auroc;                   /* does the members' std spot wrong decisions (by mean)? */
    int64_t with_error, without_error;  /* solutions with and without a labelled wrong step */
    double first_error_acc, no_error_acc, first_error_f1;
} rmens_prm_eval_result;

rmens_status rmens_prm_eval(const char *ckpt, const char *data, MPI_Comm comm, rmens_prm_eval_result *res);
void rmens_prm_eval_result_free(rmens_prm_eval_result *r);

#endif
