#include "model/objective.h"

#include <stddef.h>

#include "base/logistic.h"
#include "rmens.h"

double rmens_bt_loss(float *drewards, const float *rewards, const float *margin, int B, float center,
                     int *correct)
{
    return rmens_bt_loss_part(drewards, rewards, margin, B, B, center, correct);
}

double rmens_bt_loss_part(float *drewards, const float *rewards, const float *margin, int B, int norm, float center,
                          int *correct)
{
    return rmens_bt_loss_weighted(drewards, rewards, margin, NULL, B, norm, center, correct);
}

double rmens_bt_loss_weighted(float *drewards, const float *rewards, const float *margin, const float *weight, int B,
                              double norm, float center, int *correct)
{
    double loss = 0;
    int ok = 0;
    for (int i = 0; i < B; i++) {
        double rw = rewards[2 * i], rl = rewards[2 * i + 1], w = weight ? weight[i] : 1.0;
        double d = rw - rl - (margin ? margin[i] : 0.0);
        double li = rmens_softplus(-d);  /* -log sigmoid(d) */
        double sig = rmens_sigmoid(d);
        double gd = w * (sig - 1.0) / norm;
        double gc = center != 0 ? w * 2.0 * center * (rw + rl) / norm : 0.0;
        double lc = center != 0 ? center * (rw + rl) * (rw + rl) : 0.0;
        if (weight)
            loss += w * (li + lc);
        else  /* the unweighted sum, added as it always was */
            loss = loss + li + lc;
        drewards[2 * i] = (float)(gd + gc);
        drewards[2 * i + 1] = (float)(-gd + gc);
        ok += rw > rl;
    }
    if (correct)
        *correct = ok;
    return loss / norm;
}

double rmens_prm_loss(float *dlogits, const float *logits, const float *labels, int S, double norm, int *correct)
{
    double loss = 0;
    int ok = 0;
    for (int k = 0; k < S; k++) {
        double r = logits[k], y = labels[k];
        if (labels[k] == RMENS_STEP_UNLABELLED) {  /* no loss, no gradient */
            dlogits[k] = 0;
            continue;
        }
        /* -[y log p + (1 - y) log(1 - p)] with p = sigmoid(r), in softplus form for large |r| */
        loss += y * rmens_softplus(-r) + (1 - y) * rmens_softplus(r);
        dlogits[k] = (float)((rmens_sigmoid(r) - y) / norm);
        ok += (r > 0) == (y >= 0.5);
    }
    if (correct)
        *correct = ok;
    return loss / norm;
}
