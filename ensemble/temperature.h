/* Temperature scaling (Guo et al. 2017) of Bradley-Terry probabilities: p = sigmoid(d / T)
 * for a member's margin d, and for the ensemble p = mean_k sigmoid(d_k / T) with one T
 * shared by its members (the ensemble's probability of ensemble/uncertainty.h). T is
 * fitted on validation pairs, oriented chosen-first, by minimising the mean negative
 * log-likelihood of the human label. */
#ifndef RMENS_ENSEMBLE_TEMPERATURE_H
#define RMENS_ENSEMBLE_TEMPERATURE_H

#include <stdint.h>

/* The search interval of T, relative to the margins' root mean square s (T in [1e-3 s,
 * 1e3 s]: scale-free), and the golden-section iterations: the bracket in log T, ln(1e6) =
 * 13.8 wide, shrinks by 0.618 per step, to under 1e-12 after 72. */
#define RMENS_TEMPERATURE_MIN 1e-3
#define RMENS_TEMPERATURE_MAX 1e3
#define RMENS_TEMPERATURE_STEPS 72

/* Mean -log p of n pairs' margins d[i * K + k] at temperature T (p clamped as rmens_nll). */
double rmens_temperature_nll(const double *d, int64_t n, int K, double T);
/* The T in [RMENS_TEMPERATURE_MIN s, RMENS_TEMPERATURE_MAX s] minimising it (1 when every
 * margin is 0: nothing to scale): golden-section
 * search on log T. The NLL is convex in 1/T for one member (a logistic regression through
 * the origin) and so unimodal in log T; for the ensemble's mixture it is unimodal in
 * practice, and the search returns a local minimum otherwise. Separable pairs (every
 * margin on the right side) make the NLL fall towards T = 0: the fit ends at the lower
 * bound. NaN when n = 0. */
double rmens_temperature_fit(const double *d, int64_t n, int K);

#endif
