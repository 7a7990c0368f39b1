/* The logistic function and its log, written once (Bradley-Terry loss, evaluation). */
#ifndef RMENS_BASE_LOGISTIC_H
#define RMENS_BASE_LOGISTIC_H

#include <math.h>

/* 1 / (1 + exp(-x)) without overflow for large |x|. */
static inline double rmens_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* log(1 + exp(x)) without overflow; -log sigmoid(d) = rmens_softplus(-d). */
static inline double rmens_softplus(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }

#endif
