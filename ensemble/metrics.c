#include "ensemble/metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double v;
    int64_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);  /* stable: index order breaks ties */
}

/* v's values with their indices, in increasing order (ties in index order); NULL out of
 * memory. */
static keyed *sorted(const double *v, int64_t n)
{
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    for (int64_t i = 0; k && i < n; i++)
        k[i] = (keyed){v[i], i};
    if (k)
        qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    return k;
}

/* 1-based ranks of v with ties averaged, into rank[]; returns 0, or -1 out of memory. */
static int average_ranks(const double *v, int64_t n, double *rank)
{
    keyed *k = sorted(v, n);
    if (!k)
        return -1;
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && k[b + 1].v == k[a].v)
            b++;
        double r = 0.5 * (double)(a + b) + 1.0;
        for (int64_t j = a; j <= b; j++)
            rank[k[j].i] = r;
        a = b + 1;
    }
    free(k);
    return 0;
}

double rmens_auroc(const double *score, const int *label, int64_t n)
{
    double *rank = malloc((size_t)(n > 0 ? n : 1) * sizeof *rank);
    if (!rank || average_ranks(score, n, rank) != 0) {
        free(rank);
        return NAN;
    }
    double pos = 0, neg = 0, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i]) {
            pos++;
            sum += rank[i];
        } else {
            neg++;
        }
    }
    free(rank);
    if (pos == 0 || neg == 0)
        return NAN;
    return (sum - pos * (pos + 1) / 2) / (pos * neg);  /* Mann-Whitney U / (pos neg) */
}

double rmens_ece(const double *p, int64_t n, int bins)
{
    if (n == 0 || bins < 1)
        return NAN;
    double *cs = calloc((size_t)bins, sizeof *cs), *ac = calloc((size_t)bins, sizeof *ac);
    int64_t *cnt = calloc((size_t)bins, sizeof *cnt);
    double ece = NAN;
    if (cs && ac && cnt) {
        for (int64_t i = 0; i < n; i++) {
            double c = p[i] > 0.5 ? p[i] : 1 - p[i];
            int b = (int)(c * bins);
            b = b >= bins ? bins - 1 : b;  /* confidence 1 goes in the last bin */
            cs[b] += c;
            ac[b] += p[i] > 0.5;
            cnt[b]++;
        }
        ece = 0;
        for (int b = 0; b < bins; b++)
            if (cnt[b])
                ece += fabs(ac[b] / (double)cnt[b] - cs[b] / (double)cnt[b]) * (double)cnt[b] / (double)n;
    }
    free(cs);
    free(ac);
    free(cnt);
    return ece;
}

double rmens_brier(const double *p, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (1 - p[i]) * (1 - p[i]);
    return n ? s / (double)n : NAN;
}

double rmens_nll(const double *p, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s -= log(p[i] < 1e-12 ? 1e-12 : p[i]);
    return n ? s / (double)n : NAN;
}

double rmens_spearman(const double *x, const double *y, int64_t n)
{
    double *rx = malloc((size_t)(n > 0 ? n : 1) * sizeof *rx), *ry = malloc((size_t)(n > 0 ? n : 1) * sizeof *ry);
    double r = NAN;
    if (rx && ry && average_ranks(x, n, rx) == 0 && average_ranks(y, n, ry) == 0 && n > 1) {
        /* Pearson correlation of the ranks (exact with ties). */
        double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
        for (int64_t i = 0; i < n; i++)
            mx += rx[i], my += ry[i];
        mx /= (double)n, my /= (double)n;
        for (int64_t i = 0; i < n; i++) {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        if (sxx > 0 && syy > 0)
            r = sxy / sqrt(sxx * syy);
    }
    free(rx);
    free(ry);
    return r;
}

/* risk[k - 1]: the expected error rate among the k least uncertain items, k = 1..n, ties
 * taken in random order (metrics.h). Returns 0, or -1 out of memory. */
static int expected_risk(const double *u, const int *correct, int64_t n, double *risk)
{
    keyed *k = sorted(u, n);
    if (!k)
        return -1;
    double wrong = 0;  /* errors among the whole groups before this one */
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        double ga = 0;
        while (b + 1 < n && k[b + 1].v == k[a].v)
            b++;
        for (int64_t j = a; j <= b; j++)
            ga += correct[k[j].i] == 0;
        const double g = (double)(b - a + 1);
        for (int64_t j = a; j <= b; j++)
            risk[j] = (wrong + ga * (double)(j - a + 1) / g) / (double)(j + 1);
        wrong += ga;
        a = b + 1;
    }
    free(k);
    return 0;
}

double rmens_selective_accuracy(const double *uncertainty, const int *correct, int64_t n, double coverage)
{
    int64_t keep = (int64_t)ceil(coverage * (double)n - 1e-9);
    if (keep <= 0 || n == 0)
        return NAN;
    keep = keep > n ? n : keep;
    double *risk = malloc((size_t)n * sizeof *risk);
    double acc = risk && expected_risk(uncertainty, correct, n, risk) == 0 ? 1 - risk[keep - 1] : NAN;
    free(risk);
    return acc;
}

double rmens_aurc(const double *uncertainty, const int *correct, int64_t n)
{
    if (n == 0)
        return NAN;
    double *risk = malloc((size_t)n * sizeof *risk), s = 0;
    if (!risk || expected_risk(uncertainty, correct, n, risk) != 0) {
        free(risk);
        return NAN;
    }
    for (int64_t k = 0; k < n; k++)
        s += risk[k];
    free(risk);
    return s / (double)n;
}
