/* The error signals of ensemble/uncertainty.h and the selective-prediction figures of
 * ensemble/metrics.h, on cases worked by hand. */
#include <math.h>

#include "ensemble/bon.h"
#include "ensemble/metrics.h"
#include "ensemble/uncertainty.h"
#include "tests/check_util.h"

/* Binary entropy, written out for the hand-worked values. */
static double H(double p) { return -(p * log(p) + (1 - p) * log(1 - p)); }

START_TEST(signals_two_members)
{
    /* d = (ln 3, -ln 3): p_k = 3/4 and 1/4, mean 1/2; one vote each way; mean margin 0. */
    const double d[] = {log(3), -log(3)};
    double s[RMENS_SIGNAL_N];
    rmens_signals(s, d, 2);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_STD], log(3), 1e-15);
    ck_assert_double_eq(s[RMENS_SIGNAL_VOTES], 0.5);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_ENTROPY], log(2), 1e-15);
    /* H(1/2) - (H(3/4) + H(1/4)) / 2 = ln 2 - (ln 4 - 3/4 ln 3) = 3/4 ln 3 - ln 2 */
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_BALD], 0.75 * log(3) - log(2), 1e-15);
    ck_assert(isinf(s[RMENS_SIGNAL_SPREAD]) && s[RMENS_SIGNAL_SPREAD] > 0);
    ck_assert_double_eq_tol(rmens_pair_probability(d, 2), 0.5, 1e-15);
}
END_TEST

START_TEST(signals_four_members)
{
    /* d = ln 3 (1, 1, 0, -1): p = 3/4, 3/4, 1/2, 1/4, mean 9/16. Votes: 2 for, 1 against,
     * the tie half each way: 2.5 vs 1.5, split 1.5 / 4. Mean margin ln 3 / 4, deviations
     * ln 3 (3, 3, -1, -5) / 4: variance 44/64 (ln 3)^2, std / |mean| = sqrt(44) / 2. */
    const double l3 = log(3), d[] = {l3, l3, 0, -l3};
    double s[RMENS_SIGNAL_N];
    rmens_signals(s, d, 4);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_VOTES], 0.375, 1e-15);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_STD], l3 * sqrt(44) / 8, 1e-15);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_SPREAD], sqrt(11), 1e-14);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_ENTROPY], H(9.0 / 16), 1e-15);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_BALD], H(9.0 / 16) - (3 * H(0.75) + log(2)) / 4, 1e-15);
    ck_assert_double_eq_tol(rmens_uncertainty(d, 4), H(9.0 / 16), 1e-15);  /* the default: entropy */
    ck_assert_str_eq(rmens_signal_names[RMENS_UNCERTAINTY], "entropy");
    /* unanimous members: no split, no information between member and decision */
    const double u[] = {2, 2, 2};
    rmens_signals(s, u, 3);
    ck_assert_double_eq(s[RMENS_SIGNAL_VOTES], 0);
    ck_assert_double_eq(s[RMENS_SIGNAL_STD], 0);
    ck_assert_double_eq(s[RMENS_SIGNAL_SPREAD], 0);
    ck_assert_double_eq_tol(s[RMENS_SIGNAL_BALD], 0, 1e-15);
    /* one member: only the entropy is defined (the disagreement signals need two) */
    ck_assert(!rmens_signal_needs_members(RMENS_SIGNAL_ENTROPY));
    ck_assert(rmens_signal_needs_members(RMENS_SIGNAL_BALD) && rmens_signal_needs_members(RMENS_SIGNAL_VOTES));
}
END_TEST

START_TEST(risk_coverage_ties)
{
    /* u = .1, .5, .5, .9, right = 1, 0, 1, 0: the tie at .5 is kept in either order, so the
     * expected errors among the first two are 1/2. Risks 0, 1/4, 1/3, 1/2. */
    const double u[] = {0.1, 0.5, 0.5, 0.9};
    const int c[] = {1, 0, 1, 0};
    ck_assert_double_eq_tol(rmens_aurc(u, c, 4), (0 + 0.25 + 1.0 / 3 + 0.5) / 4, 1e-15);
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 0.5), 0.75, 1e-15);
    ck_assert_double_eq_tol(rmens_selective_accuracy(u, c, 4, 0.75), 2.0 / 3, 1e-15);
    /* the file's order does not matter */
    const double v[] = {0.5, 0.9, 0.1, 0.5};
    const int e[] = {1, 0, 1, 0};
    ck_assert_double_eq_tol(rmens_aurc(v, e, 4), (0 + 0.25 + 1.0 / 3 + 0.5) / 4, 1e-15);
    /* a perfect signal: errors last; AURC = (0 + 0 + 1/3 + 2/4) / 4 */
    const double w[] = {1, 2, 3, 4};
    const int f[] = {1, 1, 0, 0};
    ck_assert_double_eq_tol(rmens_aurc(w, f, 4), (1.0 / 3 + 0.5) / 4, 1e-15);
    ck_assert(isnan(rmens_aurc(w, f, 0)));
}
END_TEST

START_TEST(bon_pick_by_hand)
{
    /* 4 candidates x 2 members: means 1, 2, 2, 0; minima 0, 1, -2, 0; uwo (lambda 1) 1-1,
     * 2-1, 2-16, 0 = 0, 1, -14, 0. Candidates 1 and 2 tie on the mean: the lower wins. */
    const float R[] = {0, 2, 1, 3, -2, 6, 0, 0};
    const int64_t rows[] = {0, 1, 2, 3};
    rmens_bon_options o = {.rule = RMENS_RULE_MEAN, .member = -1, .lambda = 1};
    int64_t runner;
    ck_assert_int_eq(rmens_bon_pick(R, 2, rows, 4, &o, &runner), 1);
    ck_assert_int_eq(runner, 2);  /* the tied one is the runner-up */
    o.rule = RMENS_RULE_MIN;
    ck_assert_int_eq(rmens_bon_pick(R, 2, rows, 4, &o, &runner), 1);
    ck_assert_int_eq(runner, 0);  /* 0 and 3 tie at 0: the first */
    o.rule = RMENS_RULE_UWO;
    ck_assert_int_eq(rmens_bon_pick(R, 2, rows, 4, &o, &runner), 1);
    ck_assert_double_eq(rmens_bon_value(R + 2, 2, &o), 1);
    o.member = 1;  /* member 1's rewards 2, 3, 6, 0 */
    ck_assert_int_eq(rmens_bon_pick(R, 2, rows, 4, &o, &runner), 2);
    ck_assert_int_eq(runner, 1);
    /* a group of one has no runner-up; a subset of rows in the order given */
    const int64_t one[] = {3}, sub[] = {0, 3};
    ck_assert_int_eq(rmens_bon_pick(R, 2, one, 1, &o, &runner), 0);
    ck_assert_int_eq(runner, -1);
    o.member = -1, o.rule = RMENS_RULE_MIN;
    ck_assert_int_eq(rmens_bon_pick(R, 2, sub, 2, &o, &runner), 0);  /* a tie at 0: the first */
    ck_assert_int_eq(runner, 1);
}
END_TEST

/* Brute force: every n-subset of N (bit masks), the proxy's pick by rmens_bon_pick's rule
 * (highest proxy, ties to the lowest index), its gold reward averaged. */
static double brute_bon(const double *proxy, const double *gold, int N, int n)
{
    double sum = 0;
    int count = 0;
    for (unsigned mask = 0; mask < 1u << N; mask++) {
        if (__builtin_popcount(mask) != n)
            continue;
        int best = -1;
        for (int i = 0; i < N; i++)
            if ((mask >> i & 1) && (best < 0 || proxy[i] > proxy[best]))
                best = i;
        sum += gold[best];
        count++;
    }
    return sum / count;
}

START_TEST(bon_estimator_brute_force)
{
    /* 9 candidates, proxy with ties (0.5 three times, 2 twice), gold unrelated */
    const double proxy[] = {0.5, 2, -1, 0.5, 3, 2, 0.5, -4, 1}, gold[] = {1, -2, 0.5, 4, -1, 3, 2, 0, -3};
    for (int n = 1; n <= 9; n++) {
        double e;
        ck_assert_int_eq(rmens_bon_expected(proxy, gold, 9, n, &e), RMENS_OK);
        ck_assert_double_eq_tol(e, brute_bon(proxy, gold, 9, n), 1e-12);
    }
    double e;
    rmens_bon_expected(proxy, gold, 9, 1, &e);  /* n = 1: the mean gold reward */
    ck_assert_double_eq_tol(e, 4.5 / 9, 1e-12);  /* 1 - 2 + .5 + 4 - 1 + 3 + 2 + 0 - 3 */
    rmens_bon_expected(proxy, gold, 9, 9, &e);  /* n = N: the gold of the proxy's best */
    ck_assert_double_eq_tol(e, -1, 1e-12);
    rmens_bon_expected(proxy, gold, 9, 0, &e);
    ck_assert(isnan(e));
    rmens_bon_expected(proxy, gold, 9, 10, &e);
    ck_assert(isnan(e));
}
END_TEST

Suite *uncertainty_suite(void)
{
    Suite *s = suite_create("uncertainty");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, signals_two_members);
    tcase_add_test(tc, signals_four_members);
    tcase_add_test(tc, risk_coverage_ties);
    tcase_add_test(tc, bon_pick_by_hand);
    tcase_add_test(tc, bon_estimator_brute_force);
    suite_add_tcase(s, tc);
    return s;
}
