/* How sure the ensemble is of one pairwise decision, from its members' margins
 * d_k = r_w - r_l: the signals eval compares (docs/EVALUATION.md) and the one of them,
 * `uncertainty`, that score, serve and bon report. Every signal is oriented so that
 * higher means less sure of the ensemble's decision. Member k's probability of the first
 * response is p_k = sigmoid(d_k) (Bradley-Terry); the ensemble's is their mean p. */
#ifndef RMENS_ENSEMBLE_UNCERTAINTY_H
#define RMENS_ENSEMBLE_UNCERTAINTY_H

typedef enum {
    RMENS_SIGNAL_STD,      /* population std of the d_k (the members' disagreement) */
    RMENS_SIGNAL_VOTES,    /* vote split: min(#d_k > 0, #d_k < 0) / K, a d_k = 0 half a vote each way */
    RMENS_SIGNAL_BALD,     /* mutual information of decision and member: H(p) - mean_k H(p_k) */
    RMENS_SIGNAL_ENTROPY,  /* the ensemble's predictive entropy H(p), in nats */
    RMENS_SIGNAL_SPREAD,   /* std / |mean d|: the inverse of |mean margin| / std; +inf at mean 0 */
    RMENS_SIGNAL_N
} rmens_signal;
extern const char *const rmens_signal_names[RMENS_SIGNAL_N];  /* "std", "votes", "bald", "entropy", "spread" */
/* Whether a signal measures disagreement, so that one member has none (NaN). */
int rmens_signal_needs_members(rmens_signal s);

/* The default, chosen by measurement (docs/EVALUATION.md): the predictive entropy. */
#define RMENS_UNCERTAINTY RMENS_SIGNAL_ENTROPY

/* The margins the probability reads: each member's in its own reward scale, as it was
 * trained (d_k = (rw_k - rl_k) * scale_k, scale NULL: 1; score and serve pass the members'
 * reward_std when their rewards are standardised), divided by temp_k (NULL: 1). rw and rl
 * are the K members' rewards of the first and the second response. */
void rmens_pair_margins(double *d, const float *rw, const float *rl, int K, const double *scale, const double *temp);

/* Every signal of one pair from d[0..K). */
void rmens_signals(double out[RMENS_SIGNAL_N], const double *d, int K);
/* The ensemble's probability p = mean_k sigmoid(d_k), and the uncertainty of the
 * decision: signal RMENS_UNCERTAINTY. The one rule score, serve and bon read. */
double rmens_pair_probability(const double *d, int K);
double rmens_uncertainty(const double *d, int K);

#endif
