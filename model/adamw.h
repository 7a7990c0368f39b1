/* AdamW with linear warmup, cosine decay and global-norm gradient clipping, written to
 * match torch.optim.AdamW + torch.nn.utils.clip_grad_norm_ step for step. Weight decay
 * applies to matrices and embeddings only (not to biases or LayerNorm gains). */
#ifndef RMENS_MODEL_ADAMW_H
#define RMENS_MODEL_ADAMW_H

#include "model/model.h"

typedef struct {
    float lr;             /* peak learning rate */
    float min_lr_frac;    /* cosine decays to lr * min_lr_frac */
    int warmup;           /* steps of linear warmup from lr / warmup */
    int total_steps;      /* length of the schedule */
    float beta1, beta2, eps;
    float weight_decay;
    float clip;           /* max global gradient norm; <= 0: no clipping */
} rmens_adamw_config;

typedef struct {
    rmens_adamw_config cfg;
    float *m, *v;          /* [nparams] moments */
    unsigned char *decay;  /* [RMENS_NTENSORS] */
    int64_t step;          /* steps taken */
} rmens_adamw;

void rmens_adamw_config_init(rmens_adamw_config *c);
rmens_status rmens_adamw_init(rmens_adamw *o, const rmens_model *m, const rmens_adamw_config *c);
void rmens_adamw_free(rmens_adamw *o);
/* Learning rate for step index t (0-based). */
float rmens_adamw_lr(const rmens_adamw_config *c, int64_t t);
/* One update of m->params from m->grads; returns the global gradient norm before clipping. */
double rmens_adamw_step(rmens_adamw *o, rmens_model *m);

#endif
