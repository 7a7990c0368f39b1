/* Evaluation metrics on small cases worked by hand (ties included). */
#include <math.h>

#include "tests/check_util.h"
#include "ensemble/metrics.h"

START_TEST(auroc_by_hand)
{
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    const int y[] = {0, 0, 1, 1};
    /* positives {0.35, 0.8} vs negatives {0.1, 0.4}: 3 of 4 orderings right */
    ck_assert_double_eq_tol(rmens_auroc(s, y, 4), 0.75, 1e-15);
    const double t[] = {1, 1, 2, 2};
    const int z[] = {0, 1, 0, 1};
    /* ties count one half: (0.5 + 0 + 1 + 0.5) / 4 */
    ck_assert_double_eq_tol(rmens_auroc(t, z, 4), 0.5, 1e-15);
    const double u[] = {3, 1, 2, 2, 5};
    const int w[] = {1, 0, 1, 0, 1};
    /* pos {3, 2, 5} vs neg {1, 2}: 3>1, 3>2, 2>1, 2=2 (1/2), 5>1, 5>2 -> 5.5 / 6 */
    ck_assert_double_eq_tol(rmens_auroc(u, w, 5), 5.5 / 6, 1e-15);
    const int all1[] = {1, 1, 1, 1};
    ck_assert(isnan(rmens_auroc(s, all1, 4)));
}
END_TEST

START_TEST(calibration_by_hand)
{
    const double p[] = {0.9, 0.9, 0.6, 0.3};
    /* confidences .9 .9 .6 .7 in bins 13, 13, 9, 10 of 15; correct 1 1 1 0:
     * |1 - .9| 2/4 + |1 - .6| 1/4 + |0 - .7| 1/4 = 0.05 + 0.1 + 0.175 */
    ck_assert_double_eq_tol(rmens_ece(p, 4, 15), 0.325, 1e-12);
    ck_assert_double_eq_tol(rmens_brier(p, 4), (0.01 + 0.01 + 0.16 + 0.49) / 4, 1e-12);
    ck_assert_double_eq_tol(rmens_nll(p, 4), -(2 * log(0.9) + log(0.6) + log(0.3)) / 4, 1e-12);
    /* a perfectly calibrated bin: confidence .75, 3 of 4 right */
    const double q[] = {0.75, 0.75, 0.75, 0.25};
    ck_assert_double_eq_tol(rmens_ece(q, 4, 15), 0.0, 1e-12);
    /* p = 1/2 counts as wrong; confidence 1 lands in the last bin */
    const double r[] = {0.5, 1.0};
    ck_assert_double_eq_tol(rmens_ece(r, 2, 15), 0.5 * 0.5 + 0.5 * 0.0, 1e-12);
    const double zero[] = {0.0};
    ck_assert_double_eq_tol(rmens_nll(zero, 1), -log(1e-12), 1e-9);
}
END_TEST

START_TEST(spearman_by_hand)
{
    const double x[] = {1, 2, 3, 4}, up[] = {10, 20, 30, 45}, down[] = {4, 3, 2, 1};
    ck_assert_double_eq_tol(rmens_spearman(x, up, 4), 1.0, 1e-15);
    ck_assert_double_eq_tol(rmens_spearman(x, down, 4), -1.0, 1e-15);
    /* ranks of {1, 2, 2, 3}: 1, 2.5, 2.5, 4 against 1..4: 4.5 / sqrt(4.5 * 5) */
    const double t[] = {1, 2, 2, 3};
    ck_assert_double_eq_tol(rmens_spearman(t, x, 4), 4.5 / sqrt(22.5), 1e-12);
    const double flat[] = {7, 7, 7, 7};
    ck_assert(isnan(rmens_spearman(flat, x, 4)));
}
END_TEST

START_TEST(selective_by_hand)
{
    const double u[] = {0.5, 0.1, 0.9, 0.3};
    const int c[] = {1, 0, 0, 1};
    /* by uncertainty: #1 (wrong), #3 (right), #0 (right), #2 (wrong) */
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 0.5), 0.5, 1e-15);
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 0.75), 2.0 / 3, 1e-15);
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 0.8), 0.5, 1e-15);  /* ceil(3.2) = 4 */
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 1.0), 0.5, 1e-15);
    /* ties in uncertainty are kept in random order: the expected accuracy of two of three */
    const double v[] = {0.2, 0.2, 0.2};
    const int d[] = {0, 1, 1};
    ck_assert_double_eq_tol(rmens_selective_accuracy(v, d, 3, 0.34), 2.0 / 3, 1e-15);
    ck_assert(isnan(rmens_selective_accuracy(u, c, 4, 0.0)));
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, auroc_by_hand);
    tcase_add_test(tc, calibration_by_hand);
    tcase_add_test(tc, spearman_by_hand);
    tcase_add_test(tc, selective_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
