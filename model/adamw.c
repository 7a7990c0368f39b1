#include "model/adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/layers.h"

void rmens_adamw_config_init(rmens_adamw_config *c)
{
    c->lr = 3e-4f;
    c->min_lr_frac = 0.1f;
    c->warmup = 20;
    c->total_steps = 1000;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = 0.01f;
    c->clip = 1.0f;
}

rmens_status rmens_adamw_init(rmens_adamw *o, const rmens_model *m, const rmens_adamw_config *c)
{
    memset(o, 0, sizeof *o);
    o->cfg = *c;
    o->m = calloc(m->nparams, sizeof(float));
    o->v = calloc(m->nparams, sizeof(float));
    o->decay = calloc(RMENS_NTENSORS, 1);
    if (!o->m || !o->v || !o->decay) {
        rmens_adamw_free(o);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for optimizer state");
    }
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        rmens_tensor_shape sh;
        rmens_tensor_shape_of(&m->cfg, t, &sh);  /* the table's decay flag; absent: none */
        o->decay[t] = (unsigned char)sh.decay;
    }
    return RMENS_OK;
}

void rmens_adamw_free(rmens_adamw *o)
{
    free(o->m);
    free(o->v);
    free(o->decay);
    memset(o, 0, sizeof *o);
}

float rmens_adamw_lr(const rmens_adamw_config *c, int64_t t)
{
    if (c->warmup > 0 && t < c->warmup)
        return c->lr * (float)(t + 1) / (float)c->warmup;
    double span = c->total_steps - c->warmup;
    double progress = span > 0 ? (double)(t - c->warmup) / span : 1.0;
    if (progress > 1)
        progress = 1;
    double lo = c->lr * c->min_lr_frac;
    return (float)(lo + 0.5 * (c->lr - lo) * (1.0 + cos(M_PI * progress)));
}

/* The update of one tensor's elements [a, e). */
RMENS_HOT static void update(float *restrict p, float *restrict mom, float *restrict vel, const float *restrict g,
                             size_t n, float gscale, float shrink, float b1, float b2, float step_size, float bc2_sqrt,
                             float eps)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        float mi = mom[i] = b1 * mom[i] + (1.0f - b1) * gi;
        float vi = vel[i] = b2 * vel[i] + (1.0f - b2) * gi * gi;
        p[i] = p[i] * shrink - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

double rmens_adamw_step(rmens_adamw *o, rmens_model *m)
{
    const rmens_adamw_config *c = &o->cfg;
    double sq = 0;
    for (size_t i = 0; i < m->nparams; i++)
        sq += (double)m->grads[i] * m->grads[i];
    double norm = sqrt(sq);
    float gscale = 1.0f;
    if (c->clip > 0) {
        /* torch: clip_coef = max_norm / (total_norm + 1e-6), applied when below 1 */
        double coef = c->clip / (norm + 1e-6);
        if (coef < 1.0)
            gscale = (float)coef;
    }
    float lr = rmens_adamw_lr(c, o->step);
    o->step++;
    const float b1 = c->beta1, b2 = c->beta2;
    const float bc1 = 1.0f - powf(b1, (float)o->step), bc2 = 1.0f - powf(b2, (float)o->step);
    const float step_size = lr / bc1, bc2_sqrt = sqrtf(bc2);
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        if (!m->t[t])
            continue;
        size_t a = m->off[t], e = a + (size_t)rmens_tensor_numel(&m->cfg, t);
        const float shrink = o->decay[t] ? 1.0f - lr * c->weight_decay : 1.0f;
        update(m->params + a, o->m + a, o->v + a, m->grads + a, e - a, gscale, shrink, b1, b2, step_size, bc2_sqrt,
               c->eps);
    }
    return norm;
}
