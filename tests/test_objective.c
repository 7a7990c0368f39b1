/* The weighted Bradley-Terry loss (model/objective.h, docs/TRAINING.md "Pair weights"):
 * hand-worked values, finite differences of its gradient, integer weights equal to
 * repeated pairs, shards that add up to the batch, and weights of 1 equal to the
 * unweighted loss bit for bit. */
#include <math.h>
#include <string.h>

#include "model/objective.h"
#include "tests/check_util.h"

START_TEST(weighted_by_hand)
{
    float r[4] = {1.0f, 0.0f, -0.5f, 0.5f}, dr[4], margin[2] = {0.0f, -1.0f}, w[2] = {3.0f, 1.0f};
    int ok;
    /* pair 0: d = 1, loss log(1 + e^-1), weight 3; pair 1: d = -1 - (-1) = 0, loss log 2,
     * weight 1; the weighted mean divides by 3 + 1 */
    double loss = rmens_bt_loss_weighted(dr, r, margin, w, 2, 4.0, 0.0f, &ok);
    ck_assert_double_eq_tol(loss, (3 * log1p(exp(-1.0)) + log(2.0)) / 4, 1e-12);
    ck_assert_int_eq(ok, 1);
    double s1 = 1 / (1 + exp(-1.0));
    ck_assert_double_eq_tol(dr[0], 3 * (s1 - 1) / 4, 1e-7);
    ck_assert_double_eq_tol(dr[1], -3 * (s1 - 1) / 4, 1e-7);
    ck_assert_double_eq_tol(dr[2], (0.5 - 1) / 4, 1e-7);
    ck_assert_double_eq_tol(dr[3], -(0.5 - 1) / 4, 1e-7);
    /* centering 0.5 is weighted too: + (3 * 0.5 * 1^2 + 1 * 0.5 * 0^2) / 4 = 0.375;
     * d/dr_w of pair 0 += 3 * 2 * 0.5 * 1 / 4 */
    double lc = rmens_bt_loss_weighted(dr, r, margin, w, 2, 4.0, 0.5f, NULL);
    ck_assert_double_eq_tol(lc - loss, 0.375, 1e-12);
    ck_assert_double_eq_tol(dr[0], 3 * (s1 - 1) / 4 + 0.75, 1e-7);
    ck_assert_double_eq_tol(dr[1], -3 * (s1 - 1) / 4 + 0.75, 1e-7);
}
END_TEST

/* The per-step head's loss (process rewards): binary cross-entropy of sigmoid(logit)
 * against soft labels, unlabelled steps free, by hand. */
START_TEST(prm_by_hand)
{
    const float r[3] = {0.0f, (float)log(3.0), -2.0f}, y[3] = {1.0f, 0.75f, RMENS_STEP_UNLABELLED};
    float d[3] = {9, 9, 9};
    int ok = -1;
    /* step 0: p = 1/2, y = 1: log 2; step 1: p = 3/4, y = 3/4:
     * -(3/4 log 3/4 + 1/4 log 1/4) = 3/4 log(4/3) + 1/4 log 4; step 2 unlabelled; over norm 2 */
    double want = (log(2.0) + 0.75 * log(4.0 / 3.0) + 0.25 * log(4.0)) / 2;
    double loss = rmens_prm_loss(d, r, y, 3, 2.0, &ok);
    ck_assert_double_eq_tol(loss, want, 1e-7);
    ck_assert_double_eq_tol(d[0], (0.5 - 1.0) / 2, 1e-7);  /* (p - y) / norm */
    ck_assert_double_eq_tol(d[1], 0.0, 1e-7);
    ck_assert_float_eq(d[2], 0.0f);
    ck_assert_int_eq(ok, 1);  /* step 0: logit 0 is not > 0 though y = 1; step 1 right */
    /* Large logits stay finite (softplus form): y = 0 at logit 100 costs 100. */
    const float big[1] = {100.0f}, zero[1] = {0.0f};
    ck_assert_double_eq_tol(rmens_prm_loss(d, big, zero, 1, 1.0, NULL), 100.0, 1e-9);
    ck_assert_double_eq_tol(d[0], 1.0, 1e-7);
}
END_TEST

/* Reproducible inputs: a small linear congruential generator. */
static double lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffff) / 65536.0;
}

START_TEST(weighted_finite_differences)
{
    enum { B = 6 };
    float r[2 * B], dr[2 * B], margin[B], w[B];
    unsigned seed = 7;
    double W = 0;
    for (int i = 0; i < B; i++) {
        r[2 * i] = (float)(4 * lcg(&seed) - 2), r[2 * i + 1] = (float)(4 * lcg(&seed) - 2);
        margin[i] = (float)(lcg(&seed) - 0.5);
        w[i] = (float)(0.1 + 2 * lcg(&seed));
        W += w[i];
    }
    for (int c = 0; c < 2; c++) {
        const float center = c ? 0.3f : 0.0f;
        rmens_bt_loss_weighted(dr, r, margin, w, B, W, center, NULL);
        double worst = 0;
        for (int j = 0; j < 2 * B; j++) {
            const float h = 1e-2f, keep = r[j];
            float scratch[2 * B];
            r[j] = keep + h;
            double up = rmens_bt_loss_weighted(scratch, r, margin, w, B, W, center, NULL);
            r[j] = keep - h;
            double down = rmens_bt_loss_weighted(scratch, r, margin, w, B, W, center, NULL);
            r[j] = keep;
            double fd = (up - down) / (2.0 * ((double)(keep + h) - keep));
            double err = fabs(fd - dr[j]) / (1e-3 + fabs(fd));
            worst = err > worst ? err : worst;
        }
        printf("weighted BT loss, centering %g: finite differences of %d rewards, worst relative error %.2g\n",
               (double)center, 2 * B, worst);
        ck_assert(worst < 1e-3);
    }
}
END_TEST

START_TEST(prm_finite_differences)
{
    enum { S = 9 };
    float r[S], d[S], y[S], scratch[S];
    unsigned seed = 11;
    for (int k = 0; k < S; k++) {
        r[k] = (float)(6 * lcg(&seed) - 3);
        y[k] = k % 4 == 3 ? RMENS_STEP_UNLABELLED : k % 2 ? (float)lcg(&seed) : (float)(k % 3 == 0);
    }
    rmens_prm_loss(d, r, y, S, 7.0, NULL);
    for (int k = 0; k < S; k++) {
        const float h = 1e-2f, keep = r[k];
        r[k] = keep + h;
        double up = rmens_prm_loss(scratch, r, y, S, 7.0, NULL);
        r[k] = keep - h;
        double dn = rmens_prm_loss(scratch, r, y, S, 7.0, NULL);
        r[k] = keep;
        double fd = (up - dn) / (2.0 * h);
        ck_assert_msg(fabs(fd - d[k]) <= 1e-4 + 1e-3 * fabs(fd), "step %d: analytic %.8g, finite difference %.8g", k,
                      d[k], fd);
    }
}
END_TEST

START_TEST(weights_as_repeats)
{
    /* weights (2, 1) are the unweighted loss of (pair 0, pair 0, pair 1) */
    float r[4] = {0.3f, -0.2f, 1.5f, 2.0f}, m[2] = {0.1f, 0.0f}, w[2] = {2.0f, 1.0f}, dr[4];
    float r3[6] = {0.3f, -0.2f, 0.3f, -0.2f, 1.5f, 2.0f}, m3[3] = {0.1f, 0.1f, 0.0f}, dr3[6];
    double a = rmens_bt_loss_weighted(dr, r, m, w, 2, 3.0, 0.2f, NULL);
    double b = rmens_bt_loss(dr3, r3, m3, 3, 0.2f, NULL);
    ck_assert_double_eq_tol(a, b, 1e-12);
    ck_assert_float_eq_tol(dr[0], dr3[0] + dr3[2], 1e-7f);
    ck_assert_float_eq_tol(dr[1], dr3[1] + dr3[3], 1e-7f);
    ck_assert_float_eq_tol(dr[2], dr3[4], 1e-7f);
    ck_assert_float_eq_tol(dr[3], dr3[5], 1e-7f);
}
END_TEST

START_TEST(shards_and_unit_weights)
{
    enum { B = 5 };
    float r[2 * B], m[B], w[B], one[B], dr[2 * B], dra[2 * B], drb[2 * B];
    unsigned seed = 3;
    double W = 0;
    for (int i = 0; i < B; i++) {
        r[2 * i] = (float)lcg(&seed), r[2 * i + 1] = (float)lcg(&seed), m[i] = (float)lcg(&seed);
        w[i] = (float)(0.5 + lcg(&seed)), one[i] = 1.0f;
        W += w[i];
    }
    /* two shards of the batch, each divided by the whole batch's weight, add up */
    double whole = rmens_bt_loss_weighted(dr, r, m, w, B, W, 0.1f, NULL);
    double a = rmens_bt_loss_weighted(dra, r, m, w, 2, W, 0.1f, NULL);
    double b = rmens_bt_loss_weighted(drb, r + 4, m + 2, w + 2, B - 2, W, 0.1f, NULL);
    ck_assert_double_eq_tol(a + b, whole, 1e-12);
    ck_assert_mem_eq(dra, dr, 4 * sizeof *dr);
    ck_assert_mem_eq(drb, dr + 4, (2 * B - 4) * sizeof *dr);
    /* weights of 1 with norm B: the unweighted loss, bit for bit (older files train as before) */
    double u = rmens_bt_loss(dra, r, m, B, 0.1f, NULL);
    double v = rmens_bt_loss_weighted(drb, r, m, one, B, B, 0.1f, NULL);
    ck_assert_double_eq_tol(u, v, 1e-15);
    ck_assert_mem_eq(dra, drb, sizeof dra);
}
END_TEST

Suite *objective_suite(void)
{
    Suite *s = suite_create("objective");
    TCase *tc = tcase_create("weighted");
    tcase_add_test(tc, weighted_by_hand);
    tcase_add_test(tc, prm_by_hand);
    tcase_add_test(tc, prm_finite_differences);
    tcase_add_test(tc, weighted_finite_differences);
    tcase_add_test(tc, weights_as_repeats);
    tcase_add_test(tc, shards_and_unit_weights);
    suite_add_tcase(s, tc);
    return s;
}
