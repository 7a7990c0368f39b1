/* The acquisitions of ensemble/acquisition.h (rmens select) on cases worked by hand: the
 * values, their exact symmetry in the two responses, Thompson's member draws and the
 * ranking with its tie keys. */
#include <math.h>

#include "base/rng.h"
#include "ensemble/acquisition.h"
#include "tests/check_util.h"

static double H(double p) { return -(p * log(p) + (1 - p) * log(1 - p)); }

START_TEST(acquisition_by_hand)
{
    /* d = (ln 3, -ln 3): p_k = 3/4, 1/4; one vote each way; mean p 1/2. */
    const double d2[] = {log(3), -log(3)};
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_STD, d2, 2, 1, 0), log(3), 1e-15);
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_VOTES, d2, 2, 1, 0), 0.5);
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_BALD, d2, 2, 1, 0), 0.75 * log(3) - log(2), 1e-15);
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_ENTROPY, d2, 2, 1, 0), log(2), 1e-15);
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_RANDOM, d2, 2, 1, 0), 0);
    /* two members: Thompson draws both, -d_0 d_1 = (ln 3)^2 whatever the order */
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_THOMPSON, d2, 2, 1, 0), log(3) * log(3), 1e-15);
    /* d = ln 3 (1, 1, 0, -1): split 1.5 / 4; std ln 3 sqrt(44) / 8; mean p 9/16 */
    const double l3 = log(3), d4[] = {l3, l3, 0, -l3};
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_VOTES, d4, 4, 1, 0), 0.375, 1e-15);
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_STD, d4, 4, 1, 0), l3 * sqrt(44) / 8, 1e-15);
    ck_assert_double_eq_tol(rmens_acquisition_value(RMENS_ACQ_BALD, d4, 4, 1, 0),
                            H(9.0 / 16) - (3 * H(0.75) + log(2)) / 4, 1e-15);
    /* unanimous: no split, no disagreement */
    const double u[] = {2, 2, 2};
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_VOTES, u, 3, 1, 0), 0);
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_STD, u, 3, 1, 0), 0);
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_THOMPSON, u, 3, 1, 0), -4);
    rmens_acquisition a;
    ck_assert_int_eq(rmens_acquisition_parse("bald", &a), 0);
    ck_assert_int_eq(a, RMENS_ACQ_BALD);
    ck_assert_int_eq(rmens_acquisition_parse("best", &a), -1);
    ck_assert(!rmens_acquisition_needs_members(RMENS_ACQ_RANDOM) && !rmens_acquisition_needs_members(RMENS_ACQ_ENTROPY));
    ck_assert(rmens_acquisition_needs_members(RMENS_ACQ_THOMPSON) && rmens_acquisition_needs_members(RMENS_ACQ_BALD));
}
END_TEST

START_TEST(acquisition_symmetric)
{
    /* Swapping the two responses negates every margin: every value is equal bit for bit. */
    rmens_rng g;
    rmens_rng_init(&g, 11, 3);
    for (int trial = 0; trial < 2000; trial++) {
        const int K = 2 + trial % 7;
        double d[8], n[8];
        for (int k = 0; k < K; k++) {
            d[k] = (rmens_rng_unit(&g) - 0.5) * (trial % 3 ? 8 : 1e-3);
            n[k] = -d[k];
        }
        for (int a = 0; a < RMENS_ACQ_N; a++) {
            double x = rmens_acquisition_value((rmens_acquisition)a, d, K, 5, trial);
            double y = rmens_acquisition_value((rmens_acquisition)a, n, K, 5, trial);
            ck_assert_msg(x == y, "%s trial %d: %.17g != %.17g", rmens_acquisition_names[a], trial, x, y);
        }
    }
}
END_TEST

START_TEST(thompson_draws)
{
    /* two distinct members, every ordered pair about equally often (12 pairs for K = 4) */
    int count[4][4] = {{0}};
    for (int64_t i = 0; i < 12000; i++) {
        int k1, k2;
        rmens_acquisition_draw_members(3, i, 4, &k1, &k2);
        ck_assert(k1 >= 0 && k1 < 4 && k2 >= 0 && k2 < 4 && k1 != k2);
        count[k1][k2]++;
    }
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            if (a != b)
                ck_assert_msg(count[a][b] > 850 && count[a][b] < 1150, "(%d, %d) drawn %d times", a, b, count[a][b]);
    /* the value is -d_k1 d_k2 of those draws, and the draws are the seed's, not the margins' */
    const double d[] = {0.5, -2, 3, 0.25};
    int k1, k2;
    rmens_acquisition_draw_members(9, 17, 4, &k1, &k2);
    ck_assert_double_eq(rmens_acquisition_value(RMENS_ACQ_THOMPSON, d, 4, 9, 17), -(d[k1] * d[k2]));
    /* the documented generator: salted seed, stream i, draw 1 the key */
    const uint64_t G = 0x9E3779B97F4A7C15ull, seed = rmens_mix64(9 ^ 0x73656c6563740000ull);
    const uint64_t key = rmens_mix64(rmens_mix64(seed) ^ (17 * G + 1));
    ck_assert(rmens_acquisition_key(9, 17) == rmens_mix64(key + G));
}
END_TEST

START_TEST(acquisition_ranking)
{
    /* values decreasing, NaN last; the tie of pairs 1 and 2 goes to the larger key */
    const double v[] = {1, 3, 3, NAN, 2};
    int64_t order[5];
    ck_assert_int_eq(rmens_acquisition_rank(v, 5, 4, order), RMENS_OK);
    const int first = rmens_acquisition_key(4, 1) > rmens_acquisition_key(4, 2) ? 1 : 2;
    ck_assert_int_eq(order[0], first);
    ck_assert_int_eq(order[1], 3 - first);
    ck_assert_int_eq(order[2], 4);
    ck_assert_int_eq(order[3], 0);
    ck_assert_int_eq(order[4], 3);
    /* all tied (random): the order of the keys, a permutation that depends on the seed */
    double z[64] = {0};
    int64_t o1[64], o2[64];
    rmens_acquisition_rank(z, 64, 1, o1);
    rmens_acquisition_rank(z, 64, 2, o2);
    int same = 1;
    for (int i = 0; i < 64; i++) {
        if (i > 0)
            ck_assert(rmens_acquisition_key(1, o1[i - 1]) > rmens_acquisition_key(1, o1[i]));
        same &= o1[i] == o2[i];
    }
    ck_assert(!same);
}
END_TEST

Suite *acquisition_suite(void)
{
    Suite *s = suite_create("acquisition");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, acquisition_by_hand);
    tcase_add_test(tc, acquisition_symmetric);
    tcase_add_test(tc, thompson_draws);
    tcase_add_test(tc, acquisition_ranking);
    suite_add_tcase(s, tc);
    return s;
}
