#include "ensemble/temperature.h"

#include <math.h>

#include "base/logistic.h"

double rmens_temperature_nll(const double *d, int64_t n, int K, double T)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double p = 0;
        for (int k = 0; k < K; k++)
            p += rmens_sigmoid(d[i * K + k] / T) / K;
        s -= log(p < 1e-12 ? 1e-12 : p);
    }
    return n ? s / (double)n : NAN;
}

double rmens_temperature_fit(const double *d, int64_t n, int K)
{
    if (n == 0)
        return NAN;
    double rms = 0;
    for (int64_t i = 0; i < n * K; i++)
        rms += d[i] * d[i] / (double)(n * K);
    rms = sqrt(rms);
    if (!(rms > 0))
        return 1;
    const double g = (sqrt(5.0) - 1) / 2;  /* 0.618... */
    double a = log(RMENS_TEMPERATURE_MIN * rms), b = log(RMENS_TEMPERATURE_MAX * rms);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = rmens_temperature_nll(d, n, K, exp(x1)), f2 = rmens_temperature_nll(d, n, K, exp(x2));
    for (int it = 0; it < RMENS_TEMPERATURE_STEPS; it++) {
        if (f1 <= f2) {  /* the minimum is in [a, x2] */
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a);
            f1 = rmens_temperature_nll(d, n, K, exp(x1));
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a);
            f2 = rmens_temperature_nll(d, n, K, exp(x2));
        }
    }
    /* the bracket's ends are candidates too: a minimum at a bound */
    double best = exp((a + b) / 2), fb = rmens_temperature_nll(d, n, K, best);
    const double ends[2] = {RMENS_TEMPERATURE_MIN * rms, RMENS_TEMPERATURE_MAX * rms};
    for (int e = 0; e < 2; e++) {
        double f = rmens_temperature_nll(d, n, K, ends[e]);
        if (f < fb)
            best = ends[e], fb = f;
    }
    return best;
}
