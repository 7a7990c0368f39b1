/* rmens bon: best-of-n selection. Every candidate response of a responses file grouped
 * by prompt (/prompt_id) is scored by every member (as rmens score does: members on
 * ranks), and for each prompt the candidate with the highest aggregate is picked: an
 * ensemble decision rule (rmens_rule_value: mean, min, uwo) or one member's reward. Ties
 * go to the lowest candidate index. The result is written as a "picks" file
 * (docs/FORMAT.md). A process reward model picks among the solutions of a steps file the
 * same way, each member's reward being its solution score (the steps' probabilities
 * aggregated by min, prod or last), and gold being whether a solution is right
 * (rmens_prm_solution_right): best-of-n's final-answer accuracy. */
#ifndef RMENS_ENSEMBLE_BON_H
#define RMENS_ENSEMBLE_BON_H

#include "ensemble/ensemble.h"
#include "ensemble/prm.h"
#include "rmens_mpi.h"

typedef struct {
    const char *ckpt, *candidates, *out, *command;
    const char *curve;   /* or NULL: compute the best-of-n curves of every aggregate (res->curve; the CLI
                          * writes them to this path, checked here first); out may then be NULL */
    rmens_rule rule;     /* when member < 0 */
    int member;          /* >= 0: pick by this member's reward alone */
    double lambda;
    int normalize, force;
    int64_t data_budget;
    rmens_aggregate aggregate;  /* a process reward model: how a solution's steps make its score */
} rmens_bon_options;

/* One point of a best-of-n curve (rmens_bon_options.curve). */
typedef struct {
    char by[32];                /* "member:K", "mean", "min", "uwo" */
    int64_t n;
    double kl, proxy, gold;     /* KL_bon; the pick's expected aggregate and gold reward */
} rmens_bon_point;

typedef struct {
    int64_t candidates, prompts;
    int members;
    double mean_group, mean_value;  /* candidates per prompt; the picks' mean aggregate */
    int64_t picked_first;           /* prompts whose pick is their first candidate */
    int has_gold;                   /* the candidates carry gold rewards (synthetic tasks): */
    double gold_picked, gold_random;  /* mean gold of the picks; of a random candidate */
    rmens_bon_point *curve;         /* with o->curve, on rank 0: [ncurve], every aggregate in turn */
    int ncurve;
} rmens_bon_result;

/* The aggregate of one candidate's K rewards r: the options' rule of their mean, minimum
 * and population variance (rmens_rule_value), or member o->member's reward. */
double rmens_bon_value(const float *r, int K, const rmens_bon_options *o);
/* Among rows[0..n) of R ([S][K]), in increasing order, the position of the best by
 * rmens_bon_value (ties: the first, i.e. the lowest index), and of the runner-up (-1 when
 * n = 1). The one selection rule; serial. */
int64_t rmens_bon_pick(const float *R, int K, const int64_t *rows, int64_t n, const rmens_bon_options *o,
                       int64_t *runner);

/* The unbiased estimator of best-of-n (Nakano et al. 2021; Coste et al. 2023, eq. 6):
 * from one draw of N candidates with proxy rewards proxy[] and gold rewards gold[], the
 * expected gold reward of the candidate a proxy picks among n drawn without replacement
 * (n <= N): with the candidates ranked by proxy, the i-th lowest (1-based) is the pick of
 * a random n-subset with probability C(i-1, n-1) / C(N, n). Ties in proxy follow
 * rmens_bon_pick: the lowest index wins, so it ranks above equal proxies of higher index.
 * Every n = 1..N from one draw, so curves against n are smooth. NaN unless 1 <= n <= N;
 * RMENS_ERR_NOMEM aside, serial and exact up to rounding (log-binomials). */
rmens_status rmens_bon_expected(const double *proxy, const double *gold, int64_t N, int64_t n, double *out);

/* Collective over comm: scores o->candidates and writes o->out (rank 0). */
rmens_status rmens_bon(const rmens_bon_options *o, MPI_Comm comm, rmens_bon_result *res);
void rmens_bon_result_free(rmens_bon_result *res);

#endif
