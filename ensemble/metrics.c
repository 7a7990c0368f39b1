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

/* 1-based ranks of v with ties averaged, into rank[]; returns 0, or -1 out of memory. */
static int average_ranks(const double *v, int64_t n, double *rank)
{
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k)
        return -1;
    for (int64_t i = 0; i < n; i++)
        k[i] = (keyed){v[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
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

double rmens_selective_accuracy(const double *uncertainty, const int *correct, int64_t n, double coverage)
{
    int64_t keep = (int64_t)ceil(coverage * (double)n - 1e-9);
    if (keep <= 0 || n == 0)
        return NAN;
    keep = keep > n ? n : keep;
    keyed *k = malloc((size_t)n * sizeof *k);
    if (!k)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        k[i] = (keyed){uncertainty[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    double ok = 0;
    for (int64_t j = 0; j < keep; j++)
        ok += correct[k[j].i] != 0;
    free(k);
    return ok / (double)keep;
}
