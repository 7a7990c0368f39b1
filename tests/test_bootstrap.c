/* Bootstrap samples against reference draws computed independently in Python from the
 * algorithm in docs/TRAINING.md, and the data order's properties. */
#include "tests/check_util.h"
#include "ensemble/bootstrap.h"

START_TEST(reference_draws)
{
    /* seed 1234, N = 1000: the first 8 draws of members 0, 1, 2 (docs/TRAINING.md). */
    const int64_t want[3][8] = {{864, 857, 674, 911, 805, 209, 313, 708},
                                {765, 714, 487, 136, 714, 474, 761, 111},
                                {531, 430, 62, 490, 221, 730, 103, 431}};
    for (int k = 0; k < 3; k++) {
        rmens_bootstrap b;
        /* fraction 0.008 of 1000 = 8 draws: the counts are exactly those draws */
        ck_assert_int_eq(rmens_bootstrap_init(&b, 1000, 0.008, 1234, k), RMENS_OK);
        ck_assert_int_eq(b.n_sample, 8);
        int32_t counts[1000] = {0};
        for (int j = 0; j < 8; j++)
            counts[want[k][j]]++;
        ck_assert_mem_eq(b.counts, counts, sizeof counts);
        ck_assert_int_eq(rmens_bootstrap_oob(&b, NULL), 1000 - (k == 1 ? 7 : 8));
        rmens_bootstrap_free(&b);
    }
}
END_TEST

START_TEST(sample_properties)
{
    rmens_bootstrap b;
    ck_assert_int_eq(rmens_bootstrap_init(&b, 5000, 1.0, 7, 3), RMENS_OK);
    int64_t sum = 0;
    for (int64_t i = 0; i < 5000; i++)
        sum += b.counts[i];
    ck_assert_int_eq(sum, 5000);
    /* out of bag: (1 - 1/N)^N ~ e^-1 = 36.8% of pairs, +- 4 sigma */
    int64_t oob = rmens_bootstrap_oob(&b, NULL);
    ck_assert_int_gt(oob, 1840 - 4 * 34);
    ck_assert_int_lt(oob, 1840 + 4 * 34);
    /* every epoch is a permutation of the sample */
    int64_t idx[5000];
    for (int e = 0; e < 3; e++) {
        int32_t seen[5000] = {0};
        for (int s = 0; s < 50; s++) {
            rmens_bootstrap_batch(&b, e * 50 + s, 100, idx);
            for (int i = 0; i < 100; i++)
                seen[idx[i]]++;
        }
        ck_assert_mem_eq(seen, b.counts, sizeof seen);
    }
    /* the order depends on the step alone: asking again, or out of sequence, agrees */
    int64_t a[100], c[100];
    rmens_bootstrap_batch(&b, 120, 100, a);
    rmens_bootstrap_batch(&b, 3, 100, c);
    rmens_bootstrap_batch(&b, 120, 100, c);
    ck_assert_mem_eq(a, c, sizeof a);
    rmens_bootstrap_free(&b);

    /* no resampling: every pair once, none out of bag */
    ck_assert_int_eq(rmens_bootstrap_init(&b, 10, -1, 7, 0), RMENS_OK);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(b.counts[i], 1);
    ck_assert_int_eq(rmens_bootstrap_oob(&b, NULL), 0);
    rmens_bootstrap_free(&b);
    ck_assert_int_eq(rmens_bootstrap_init(&b, 10, 0.01, 7, 0), RMENS_ERR_ARG);
}
END_TEST

Suite *bootstrap_suite(void)
{
    Suite *s = suite_create("bootstrap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reference_draws);
    tcase_add_test(tc, sample_properties);
    suite_add_tcase(s, tc);
    return s;
}
