/* The objective on top of the rewards: what a batch's rewards cost, and the gradient
 * dLoss/dreward the model's backward pass takes. Pairs today (Bradley-Terry); a per-step
 * head (process rewards) adds its loss here. */
#ifndef RMENS_MODEL_OBJECTIVE_H
#define RMENS_MODEL_OBJECTIVE_H

/* Bradley-Terry loss over the batch: mean of -log sigmoid(r_w - r_l - margin) plus
 * center * mean((r_w + r_l)^2); writes drewards[S] and returns the loss. correct
 * (optional) receives how many pairs have r_w > r_l. */
double rmens_bt_loss(float *drewards, const float *rewards, const float *margin, int B, float center,
                     int *correct);
/* The same for B of the norm pairs of a batch split over ranks: losses and gradients are
 * divided by norm, so the shards' sums make the whole batch's mean. */
double rmens_bt_loss_part(float *drewards, const float *rewards, const float *margin, int B, int norm, float center,
                          int *correct);
/* The weighted mean: pair i's loss (and its centering term) times weight[i] (NULL: all 1),
 * summed and divided by norm, the sum of the weights of the whole batch (of every shard),
 * so the shards' sums make sum(w_i l_i) / sum(w_i). With weights 1 and norm B it is
 * rmens_bt_loss_part, bit for bit. */
double rmens_bt_loss_weighted(float *drewards, const float *rewards, const float *margin, const float *weight, int B,
                              double norm, float center, int *correct);

/* Process rewards (a per-step head): logits[S] are the scalar head read at each step's
 * closing token, p = sigmoid(logit); labels[S] in [0, 1] (soft allowed) or
 * RMENS_STEP_UNLABELLED (rmens.h). The loss is binary cross-entropy summed over labelled steps and
 * divided by norm (the labelled steps of the whole batch, over every shard), its gradient
 * dlogit = (p - y) / norm; unlabelled steps get 0. correct (optional): labelled steps with
 * (logit > 0) == (y >= 0.5). */
double rmens_prm_loss(float *dlogits, const float *logits, const float *labels, int S, double norm, int *correct);

#endif
