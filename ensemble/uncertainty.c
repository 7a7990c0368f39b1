#include "ensemble/uncertainty.h"

#include <math.h>

#include "base/logistic.h"

const char *const rmens_signal_names[RMENS_SIGNAL_N] = {"std", "votes", "bald", "entropy", "spread"};

int rmens_signal_needs_members(rmens_signal s) { return s != RMENS_SIGNAL_ENTROPY; }

/* Binary entropy in nats, 0 log 0 = 0. */
static double entropy(double p)
{
    double h = 0;
    if (p > 0)
        h -= p * log(p);
    if (p < 1)
        h -= (1 - p) * log1p(-p);
    return h;
}

void rmens_pair_margins(double *d, const float *rw, const float *rl, int K, const double *scale, const double *temp)
{
    for (int k = 0; k < K; k++)
        d[k] = ((double)rw[k] - rl[k]) * (scale ? scale[k] : 1) / (temp ? temp[k] : 1);
}

double rmens_pair_probability(const double *d, int K)
{
    double p = 0;
    for (int k = 0; k < K; k++)
        p += rmens_sigmoid(d[k]);
    return p / K;
}

void rmens_signals(double out[RMENS_SIGNAL_N], const double *d, int K)
{
    double m = 0, v = 0, pro = 0, hk = 0;
    for (int k = 0; k < K; k++) {
        m += d[k] / K;
        pro += d[k] > 0 ? 1 : d[k] == 0 ? 0.5 : 0;
        hk += entropy(rmens_sigmoid(d[k])) / K;
    }
    for (int k = 0; k < K; k++)
        v += (d[k] - m) * (d[k] - m) / K;
    const double s = sqrt(v), h = entropy(rmens_pair_probability(d, K));
    out[RMENS_SIGNAL_STD] = s;
    out[RMENS_SIGNAL_VOTES] = fmin(pro, K - pro) / K;
    out[RMENS_SIGNAL_BALD] = h - hk;  /* >= 0 by Jensen, up to rounding (not clamped: no false ties) */
    out[RMENS_SIGNAL_ENTROPY] = h;
    out[RMENS_SIGNAL_SPREAD] = m == 0 ? INFINITY : s / fabs(m);
}

double rmens_uncertainty(const double *d, int K)
{
    double out[RMENS_SIGNAL_N];
    rmens_signals(out, d, K);
    return out[RMENS_UNCERTAINTY];
}
