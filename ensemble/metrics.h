/* Evaluation metrics over plain arrays, each unit-tested on hand-worked cases. Pairs are
 * oriented chosen-first, so p = sigmoid(r_chosen - r_rejected) is the probability given
 * to the human label. */
#ifndef RMENS_ENSEMBLE_METRICS_H
#define RMENS_ENSEMBLE_METRICS_H

#include <stdint.h>

/* Area under the ROC curve of score for label (1 positive, 0 negative): the probability
 * that a random positive scores above a random negative, ties counting one half. NaN
 * when either class is empty. */
double rmens_auroc(const double *score, const int *label, int64_t n);

/* Expected calibration error of binary predictions p (probability of the true label),
 * Guo et al.'s form: confidence c = max(p, 1 - p), correct = p > 1/2 (p = 1/2 counts as
 * wrong), bins of equal width over [0, 1], sum over bins of (n_b / n) |acc_b - conf_b|. */
double rmens_ece(const double *p, int64_t n, int bins);
double rmens_brier(const double *p, int64_t n);  /* mean (1 - p)^2 */
double rmens_nll(const double *p, int64_t n);    /* mean -log p, p clamped to [1e-12, 1] */

/* Spearman's rank correlation (ties get their average rank); NaN if a side is constant. */
double rmens_spearman(const double *x, const double *y, int64_t n);

/* Selective prediction: items are kept in order of increasing uncertainty; items of
 * equal uncertainty (a tie group) are kept in random order, and the figures are their
 * expected values over those orders (exact, and independent of the file's order): a
 * group cut at the coverage contributes its mean correctness times the share kept.
 * Accuracy over the ceil(coverage * n) items kept; NaN when that is no item. */
double rmens_selective_accuracy(const double *uncertainty, const int *correct, int64_t n, double coverage);
/* Area under the risk-coverage curve: the mean over k = 1..n of the (expected) error
 * rate among the k least uncertain items. Lower is better; NaN when n = 0. */
double rmens_aurc(const double *uncertainty, const int *correct, int64_t n);

#endif
