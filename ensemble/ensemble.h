/* An opened ensemble for scoring (declared in rmens.h): every member's weights, their
 * reward normalisation statistics, and one activation buffer they share. */
#ifndef RMENS_ENSEMBLE_ENSEMBLE_H
#define RMENS_ENSEMBLE_ENSEMBLE_H

#include <pthread.h>

#include "model/model.h"

struct rmens_ensemble {
    rmens_model_config cfg;
    int K;                   /* members in the file */
    int nloc;                /* members loaded here (all, unless opened as a subset) */
    int *idx;                /* [nloc] their indices */
    rmens_model **m;         /* [nloc]; m[0] owns the activations the others borrow */
    double *rmean, *rstd;    /* [K] reward statistics over training data (0 / 1 for a model file) */
    int has_stats;
    double *tau;             /* [K] temperatures of raw margins (io/calibration.h); 1 when none */
    int has_temperature;
    rmens_tokenizer *tk;     /* score_text's tokenizer (not owned), or NULL */
    char no_stats[160];      /* why has_stats is 0: ends "has no reward statistics (...)" */
    rmens_batch batch;
    int cap;                 /* sequences per forward pass (even) */
    float *buf;              /* [batch capacity * K] rewards of one batch */
    pthread_mutex_t lock;    /* one scoring call at a time: the activations are shared */
    char path[1024];
    char tokenizer[128];     /* the checkpoint's tokenizer attribute, "" if it has none */
    char template_name[32];  /* the checkpoint's template attribute, "" if it has none (hh) */
    int eot;                 /* the checkpoint's end-of-text token, -1 if not recorded */
};

/* Opens only members idx[0..n) (all when idx is NULL): ranks of rmens score each load
 * their own. Scoring then fills rewards[i * nloc + j] for loaded member j. */
rmens_status rmens_ensemble_open_subset(rmens_ensemble **out, const char *path, const int *idx, int n);
/* Whether path is an ensemble checkpoint with every member's reward statistics (what
 * standardising needs), read without loading any weights. */
rmens_status rmens_ensemble_has_stats(const char *path, int *has);

/* Scores pairs [lo, hi) of a pairs file, laying out each shared prompt once: out gets
 * rewards[((i - lo) * 2 + side) * nloc + j] (side 0 chosen, 1 rejected). */
rmens_status rmens_ensemble_score_pairs(rmens_ensemble *e, const rmens_dataset *ds, int64_t lo, int64_t hi,
                                        int normalize, float *out);

/* Sets the sequences per forward pass (rounded up to even, at least 2). */
rmens_status rmens_ensemble_set_batch(rmens_ensemble *e, int seqs);
/* The same when no sequence to be scored is longer than max_len tokens (0: n_ctx):
 * activations are sized by it (rmens score sizes them by its data's longest). */
rmens_status rmens_ensemble_set_batch_len(rmens_ensemble *e, int seqs, int max_len);

/* The ensemble's decision rules: what it optimises for one sequence, given its members'
 * rewards' mean, minimum and population variance. The one definition train's and eval's
 * accuracies, score's uwo and serve's rewards read. */
typedef enum { RMENS_RULE_MEAN, RMENS_RULE_MIN, RMENS_RULE_UWO, RMENS_RULE_N } rmens_rule;
extern const char *const rmens_rule_names[RMENS_RULE_N];  /* "mean", "min", "uwo" */
double rmens_rule_value(rmens_rule r, double mean, double min, double var, double lambda);
/* uwo's lambda must be a finite non-negative number (score, eval and bon check it so). */
rmens_status rmens_rule_check_lambda(double lambda);
/* Adds to wins[r], for every rule, 1 if it prefers the chosen response (w) to the rejected
 * one (l), from each side's mean, minimum and variance over the members. */
void rmens_rule_decide(double wins[RMENS_RULE_N], const double w[3], const double l[3], double lambda);

/* Sequences scored per forward pass by default. */
#define RMENS_SCORE_BATCH 64

#endif
