/* The reductions of comm/: the Chan-merge MPI_Op against a two-pass reference (in long
 * double) on adversarial data: large offsets, one and two members, extreme magnitudes,
 * uneven splits over ranks; the gradient sum against exact integer sums, bit-identical
 * on every rank, in pieces. MPI_Init/Finalize once here; Check without fork; verdict
 * combined over ranks. */
#include <float.h>
#include <math.h>

#include "tests/check_mpi.h"
#include "comm/sum.h"
#include "comm/moments.h"

static int rank, size;

/* Value of member k for sample i in case c: deterministic, so every rank knows all. */
static float value(int c, int i, int k)
{
    double u = sin(1.0 + 12.9898 * i + 78.233 * k) * 43758.5453;
    u -= floor(u);  /* [0, 1) */
    switch (c) {
    case 0: return (float)(1e8 + 64.0 * u);        /* large offset, small spread */
    case 1: return (float)(-3e37 + 1e37 * u);      /* extreme magnitude */
    case 2: return (float)(u < 0.5 ? 1e-30 : -1e-30);
    default: return (float)(k * 1000.0 + i);       /* exact integers */
    }
}

static void two_pass(int c, int i, int K, long double *mean, long double *var, float *mn, float *mx)
{
    long double s = 0, s2 = 0;
    *mn = INFINITY, *mx = -INFINITY;
    for (int k = 0; k < K; k++) {
        float v = value(c, i, k);
        s += v;
        *mn = fminf(*mn, v), *mx = fmaxf(*mx, v);
    }
    *mean = s / K;
    for (int k = 0; k < K; k++) {
        long double d = value(c, i, k) - *mean;
        s2 += d * d;
    }
    *var = s2 / K;
}

/* Members 0..K-1 spread unevenly: rank r holds members k with (k * 7) % size == r. */
static void check_case(int c, int K, int n)
{
    rmens_moments *m = malloc((size_t)n * sizeof *m);
    float *x = malloc((size_t)n * sizeof *x);
    rmens_moments_clear(m, (size_t)n);
    for (int k = 0; k < K; k++) {
        if ((k * 7) % size != rank)
            continue;
        for (int i = 0; i < n; i++)
            x[i] = value(c, i, k);
        rmens_moments_add(m, x, (size_t)n);
    }
    rmens_status st = rmens_moments_reduce(m, (size_t)n, 0, MPI_COMM_WORLD);
    int bad = 0;
    char msg[256] = "";
    if (rank == 0 && st == RMENS_OK) {
        for (int i = 0; i < n && !bad; i++) {
            long double mean, var;
            float mn, mx;
            two_pass(c, i, K, &mean, &var, &mn, &mx);
            double scale = fabsl(mean) > 1 ? (double)fabsl(mean) : 1.0;
            double tol_mean = 4 * FLT_EPSILON * scale;  /* inputs are floats; sums in double */
            /* a naive E[x^2] - E[x]^2 in double is off by ~1e-2 relative in case 0 */
            double tol_var = 1e-7 * (double)var + 1e-12 * scale * scale * DBL_EPSILON;
            if (m[i].count != K || m[i].min != mn || m[i].max != mx ||
                fabs(m[i].mean - (double)mean) > tol_mean || fabs(rmens_moments_var(&m[i]) - (double)var) > tol_var)
                bad = 1, snprintf(msg, sizeof msg, "case %d K %d sample %d: count %g mean %.17g (want %.17Lg) var %.17g "
                                  "(want %.17Lg) min %g max %g", c, K, i, m[i].count, m[i].mean, mean,
                                  rmens_moments_var(&m[i]), var, m[i].min, m[i].max);
        }
    }
    free(m);
    free(x);
    ck_assert_msg(st == RMENS_OK, "%s", rmens_last_error());
    ck_assert_msg(!bad, "%s", msg);
}

START_TEST(chan_merge_matches_two_pass)
{
    const int Ks[] = {1, 2, 3, 7, 64};
    for (int c = 0; c < 4; c++)
        for (size_t j = 0; j < sizeof Ks / sizeof *Ks; j++)
            check_case(c, Ks[j], 257);
}
END_TEST

START_TEST(merge_by_hand)
{
    /* {1, 2, 3} merged with {10}: mean 4, M2 = 2 + (10 - 2)^2 * 3 / 4 = 50 */
    rmens_moments a[1], b[1];
    rmens_moments_clear(a, 1);
    rmens_moments_clear(b, 1);
    const float v[] = {1, 2, 3};
    for (int i = 0; i < 3; i++)
        rmens_moments_add(a, &v[i], 1);
    const float ten = 10;
    rmens_moments_add(b, &ten, 1);
    rmens_moments_merge(a, b, 1);
    ck_assert_double_eq(a->count, 4);
    ck_assert_double_eq_tol(a->mean, 4.0, 1e-15);
    ck_assert_double_eq_tol(a->m2, 50.0, 1e-12);
    ck_assert_double_eq_tol(rmens_moments_var(a), 12.5, 1e-13);
    ck_assert_double_eq(a->min, 1);
    ck_assert_double_eq(a->max, 10);
    /* merging the identity changes nothing, in either order */
    rmens_moments e[1], keep = *a;
    rmens_moments_clear(e, 1);
    rmens_moments_merge(a, e, 1);
    ck_assert_mem_eq(a, &keep, sizeof keep);
    rmens_moments_merge(e, a, 1);
    ck_assert_mem_eq(e, &keep, sizeof keep);
}
END_TEST

/* Sums of 10 floats over the ranks in pieces of 1, 3, 10 and 64 floats: exact for
 * integers (against the formula), and for values that round, the same bits on every
 * rank and within float rounding of the double sum. */
START_TEST(gradient_sum)
{
    const size_t n = 10, pieces[] = {1, 3, 10, 64};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        float g[10], h[10], root[10];
        for (size_t i = 0; i < n; i++) {
            g[i] = (float)((rank + 1) * 1000 + (int)i);
            h[i] = value(0, (int)i, rank) * 1e-8f + 1.0f / (float)(rank + 3);
        }
        ck_assert_int_eq(rmens_sum_pieces(g, n, pieces[p], 1, MPI_COMM_WORLD), RMENS_OK);
        ck_assert_int_eq(rmens_sum_pieces(h, n, pieces[p], 1, MPI_COMM_WORLD), RMENS_OK);
        for (size_t i = 0; i < n; i++) {
            /* sum over r of (r + 1) 1000 + i */
            ck_assert_float_eq(g[i], (float)(500 * size * (size + 1) + size * (int)i));
            double want = 0;
            for (int r = 0; r < size; r++)
                want += (double)(value(0, (int)i, r) * 1e-8f + 1.0f / (float)(r + 3));
            ck_assert_double_eq_tol(h[i], want, 1e-6 * fabs(want));
        }
        memcpy(root, h, sizeof h);
        ck_assert_int_eq(MPI_Bcast(root, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD), MPI_SUCCESS);
        ck_assert_mem_eq(root, h, sizeof h);
        /* To rank 0 only: the same bits there, the others' arrays untouched. */
        for (size_t i = 0; i < n; i++)
            h[i] = value(0, (int)i, rank) * 1e-8f + 1.0f / (float)(rank + 3);
        memcpy(g, h, sizeof h);
        ck_assert_int_eq(rmens_sum_pieces(h, n, pieces[p], 0, MPI_COMM_WORLD), RMENS_OK);
        ck_assert_mem_eq(h, rank == 0 ? root : g, sizeof h);
    }
    float z[1] = {0};
    ck_assert_int_ne(rmens_sum_pieces(z, 1, 0, 1, MPI_COMM_WORLD), RMENS_OK);
}
END_TEST

int main(int argc, char **argv)
{
    check_mpi_init(&argc, &argv, &rank, &size);
    Suite *s = suite_create("moments_mpi");
    TCase *tc = tcase_create("chan");
    tcase_add_test(tc, merge_by_hand);
    tcase_add_test(tc, chan_merge_matches_two_pass);
    suite_add_tcase(s, tc);
    TCase *tg = tcase_create("gradients");
    tcase_add_test(tg, gradient_sum);
    suite_add_tcase(s, tg);
    int total = check_mpi_run(s, rank, size);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
