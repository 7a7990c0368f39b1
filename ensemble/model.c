#include "ensemble/model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/logistic.h"
#include "base/rng.h"
#include "ensemble/layers.h"

/* ------------------------------------------------------------- tensors */

void rmens_tensor_shape_of(const rmens_model_config *cfg, int t, rmens_tensor_shape *sh)
{
    const int64_t V = cfg->vocab_size, T = cfg->n_ctx, C = cfg->n_embd;
    memset(sh, 0, sizeof *sh);
    sh->per_layer = t >= RMENS_T_LN1W && t <= RMENS_T_FCPROJB;
    sh->rank = 1;
    switch (t) {
    case RMENS_T_WTE: sh->rank = 2; sh->dims[0] = V; sh->dims[1] = C; sh->decay = 1; break;
    case RMENS_T_WPE: sh->rank = 2; sh->dims[0] = T; sh->dims[1] = C; sh->decay = 1; break;
    case RMENS_T_QKVW: sh->rank = 2; sh->dims[0] = C; sh->dims[1] = 3 * C; sh->decay = 1; break;
    case RMENS_T_QKVB: sh->dims[0] = 3 * C; break;
    case RMENS_T_ATTPROJW: sh->rank = 2; sh->dims[0] = C; sh->dims[1] = C; sh->decay = 1; break;
    case RMENS_T_FCW: sh->rank = 2; sh->dims[0] = C; sh->dims[1] = 4 * C; sh->decay = 1; break;
    case RMENS_T_FCB: sh->dims[0] = 4 * C; break;
    case RMENS_T_FCPROJW: sh->rank = 2; sh->dims[0] = 4 * C; sh->dims[1] = C; sh->decay = 1; break;
    case RMENS_T_SCOREW: sh->rank = 2; sh->dims[0] = 1; sh->dims[1] = C; sh->decay = 1; break;
    default: sh->dims[0] = C; break;  /* LayerNorm gains and biases, other biases */
    }
}

int64_t rmens_tensor_numel(const rmens_model_config *cfg, int t)
{
    rmens_tensor_shape sh;
    rmens_tensor_shape_of(cfg, t, &sh);
    int64_t n = sh.dims[0] * (sh.rank == 2 ? sh.dims[1] : 1);
    return sh.per_layer ? n * cfg->n_layer : n;
}

void rmens_tensor_name(int t, int l, char *buf, size_t size)
{
    static const char *const names[RMENS_NTENSORS] = {
        "transformer.wte.weight", "transformer.wpe.weight",
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
        "transformer.ln_f.weight", "transformer.ln_f.bias", "score.weight"};
    if (t >= RMENS_T_LN1W && t <= RMENS_T_FCPROJB)
        snprintf(buf, size, "transformer.h.%d.%s", l, names[t]);
    else
        snprintf(buf, size, "%s", names[t]);
}

rmens_status rmens_model_config_check(const rmens_model_config *c)
{
    if (c->vocab_size < 1 || c->n_ctx < 1 || c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1)
        return rmens_fail(RMENS_ERR_ARG, "model config: vocab_size %d, n_ctx %d, n_layer %d, n_head %d, n_embd %d "
                          "must all be positive", c->vocab_size, c->n_ctx, c->n_layer, c->n_head, c->n_embd);
    if (c->n_embd % c->n_head)
        return rmens_fail(RMENS_ERR_ARG, "model config: n_embd %d is not a multiple of n_head %d", c->n_embd,
                          c->n_head);
    /* Bounds far beyond any real model that keep every tensor size within int64 (a
     * damaged file's config reaches here: found by tests/fuzz). */
    if ((int64_t)c->n_ctx * c->n_embd > (int64_t)1 << 31 || (int64_t)c->vocab_size * c->n_embd > (int64_t)1 << 34 ||
        c->n_embd > 65536 || c->n_layer > 4096)
        return rmens_fail(RMENS_ERR_ARG, "model config too large: vocab_size %d, n_ctx %d, n_layer %d, n_embd %d",
                          c->vocab_size, c->n_ctx, c->n_layer, c->n_embd);
    return RMENS_OK;
}

rmens_status rmens_model_alloc(rmens_model **out, const rmens_model_config *cfg)
{
    *out = NULL;
    RMENS_TRY(rmens_model_config_check(cfg));
    rmens_model *m = calloc(1, sizeof *m);
    if (!m)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    m->compact_last = 1;
    size_t n = 0;
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        m->off[t] = n;
        n += (size_t)rmens_tensor_numel(cfg, t);
    }
    m->nparams = n;
    m->params = calloc(n, sizeof(float));
    m->grads = calloc(n, sizeof(float));
    if (!m->params || !m->grads) {
        rmens_model_free(m);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        m->t[t] = m->params + m->off[t];
        m->g[t] = m->grads + m->off[t];
    }
    *out = m;
    return RMENS_OK;
}

void rmens_model_free(rmens_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    if (!m->acts_borrowed)
        free(m->acts);
    free(m);
}

const rmens_model_config *rmens_model_get_config(const rmens_model *m) { return &m->cfg; }
size_t rmens_model_num_params(const rmens_model *m) { return m->nparams; }

/* Standard normal by Box-Muller from two uniform draws. */
static float normal(rmens_rng *g)
{
    double u1 = rmens_rng_unit(g), u2 = rmens_rng_unit(g);
    return (float)(sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
}

static void init_tensor(rmens_model *m, int t, uint64_t seed, uint64_t stream)
{
    rmens_tensor_shape sh;
    rmens_tensor_shape_of(&m->cfg, t, &sh);
    int64_t n = rmens_tensor_numel(&m->cfg, t);
    float *p = m->t[t];
    if (sh.rank == 1) {
        float v = (t == RMENS_T_LN1W || t == RMENS_T_LN2W || t == RMENS_T_LNFW) ? 1.0f : 0.0f;
        for (int64_t i = 0; i < n; i++)
            p[i] = v;
        return;
    }
    float std = 0.02f;
    if (t == RMENS_T_ATTPROJW || t == RMENS_T_FCPROJW)
        std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    /* One generator stream per tensor: changing one tensor's size leaves the others. */
    rmens_rng g;
    rmens_rng_init(&g, seed, stream * 64 + (uint64_t)t);
    for (int64_t i = 0; i < n; i++)
        p[i] = std * normal(&g);
}

void rmens_model_init_params(rmens_model *m, uint64_t seed, uint64_t stream)
{
    for (int t = 0; t < RMENS_NTENSORS; t++)
        init_tensor(m, t, seed, stream);
}

void rmens_model_init_head(rmens_model *m, uint64_t seed, uint64_t stream)
{
    init_tensor(m, RMENS_T_SCOREW, seed, stream);
}

rmens_status rmens_model_new(rmens_model **out, const rmens_model_config *cfg, uint64_t seed)
{
    RMENS_TRY(rmens_model_alloc(out, cfg));
    rmens_model_init_params(*out, seed, 0);
    return RMENS_OK;
}

void rmens_model_zero_grad(rmens_model *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }

/* --------------------------------------------------------- activations */

rmens_status rmens_model_reserve(rmens_model *m, int max_pairs) { return rmens_model_reserve_len(m, max_pairs, m->cfg.n_ctx); }

/* dry: only the size, in floats (rmens_model_acts_bytes). */
static rmens_status reserve(rmens_model *m, int max_pairs, int max_len, int fwd_only, size_t *dry)
{
    /* Forward-only: the per-layer activations are overwritten layer after layer (L = 1),
     * except the residual stream, whose previous layer's copy is the next one's input. */
    const size_t L = fwd_only ? 1 : (size_t)m->cfg.n_layer, C = (size_t)m->cfg.n_embd;
    const size_t LR = fwd_only ? (m->cfg.n_layer > 1 ? 2 : 1) : L;
    const size_t B = fwd_only ? 0 : 1;  /* backward buffers */
    const size_t T = (size_t)(max_len > 0 && max_len < m->cfg.n_ctx ? max_len : m->cfg.n_ctx);
    const size_t NH = (size_t)m->cfg.n_head;
    const size_t N = (size_t)2 * max_pairs * T, S = (size_t)2 * max_pairs;
    /* Worst cases: every sequence its own causal segment of T rows, or a prompt of T-1
     * rows with two one-token responses; both stay within 2 * NH * T * T per pair. */
    const size_t probs = (size_t)max_pairs * 2 * NH * T * T, lqp = S * NH * T;
    const size_t qb = RMENS_ATT_QB < T ? RMENS_ATT_QB : T;
    struct {
        float **p;
        size_t n;
    } parts[] = {
        {&m->encoded, N * C}, {&m->ln1, L * N * C}, {&m->ln1_mean, L * N}, {&m->ln1_rstd, L * N},
        {&m->qkv, L * N * 3 * C}, {&m->atty, L * N * C}, {&m->probs, L * probs}, {&m->res2, L * N * C},
        {&m->ln2, L * N * C}, {&m->ln2_mean, L * N}, {&m->ln2_rstd, L * N}, {&m->fch, L * N * 4 * C},
        {&m->fchg, L * N * 4 * C}, {&m->res3, LR * N * C},
        {&m->lastln1, S * C}, {&m->lastq, S * C}, {&m->lastatty, S * C}, {&m->lastprobs, lqp},
        {&m->lastx, S * C}, {&m->lnf, S * C}, {&m->lnf_mean, S}, {&m->lnf_rstd, S}, {&m->rewards, S},
        {&m->dres, B * N * C}, {&m->dbufC, B * N * C}, {&m->dbuf3C, B * N * 3 * C}, {&m->dbuf4a, B * N * 4 * C},
        {&m->dbuf4b, B * N * 4 * C}, {&m->dlastC, B * S * C}, {&m->dlastq, B * S * C}, {&m->dlastln1, B * S * C},
        {&m->dlastres, B * S * C}, {&m->dscratch, B * (qb * 2 * T + 2 * T)},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        total += parts[i].n;
    if (dry) {
        *dry = total;
        return RMENS_OK;
    }
    if (!m->acts_borrowed)
        free(m->acts);
    m->acts_borrowed = 0;
    m->acts = malloc(total * sizeof(float));
    if (!m->acts) {
        m->cap_pairs = 0;
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for activations (%.1f GiB for %d pairs of %zu tokens)",
                          (double)total * 4 / (1 << 30), max_pairs, T);
    }
    float *p = m->acts;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        *parts[i].p = p;
        p += parts[i].n;
    }
    m->cap_pairs = max_pairs;
    m->acts_floats = total;
    m->cap_rows = (int)N;
    m->cap_probs = probs;
    m->cap_lq_probs = lqp;
    m->fwd_only = fwd_only;
    return RMENS_OK;
}

rmens_status rmens_model_reserve_len(rmens_model *m, int max_pairs, int max_len)
{
    return reserve(m, max_pairs, max_len, 0, NULL);
}

rmens_status rmens_model_reserve_forward(rmens_model *m, int max_pairs, int max_len)
{
    return reserve(m, max_pairs, max_len, 1, NULL);
}

double rmens_model_acts_bytes(const rmens_model_config *cfg, int max_pairs, int max_len, int fwd_only)
{
    rmens_model m = {.cfg = *cfg};
    size_t n = 0;
    reserve(&m, max_pairs, max_len, fwd_only, &n);
    return 4.0 * (double)n;
}

void rmens_model_borrow_acts(rmens_model *dst, const rmens_model *src)
{
    if (!dst->acts_borrowed)
        free(dst->acts);
    /* Everything from cap_pairs to fwd_only is about the activations. */
    size_t from = offsetof(rmens_model, cap_pairs), to = offsetof(rmens_model, compact_last);
    memcpy((char *)dst + from, (const char *)src + from, to - from);
    dst->acts_borrowed = 1;
}

/* ------------------------------------------------------------ forward */

#define LAYER(base, l, n) ((base) + (size_t)(l) * (n))

rmens_status rmens_model_forward(rmens_model *m, const rmens_batch *b)
{
    const int L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, N = b->N, S = b->S;
    const int cap = m->cap_rows;
    const size_t NC = (size_t)cap * C;  /* per-layer stride of the activation buffers */
    if (b->B > m->cap_pairs || N > m->cap_rows || b->probs_size > m->cap_probs ||
        b->lq_probs_size > m->cap_lq_probs)
        return rmens_fail(RMENS_ERR_INTERNAL, "batch larger than the reserved activations");
    if (b->n_head != NH || b->n_ctx != m->cfg.n_ctx)
        return rmens_fail(RMENS_ERR_INTERNAL, "batch laid out for another model shape");
    float **t = m->t;
    encoder_forward(m->encoded, b->tokens, b->pos, t[RMENS_T_WTE], t[RMENS_T_WPE], N, C);
    /* Where layer l keeps its activations: its own slot when training (backward reads
     * them), slot 0 for scoring, with the residual stream alternating between two. */
#define SLOT(l) (m->fwd_only ? 0 : (l))
#define RSLOT(l) (m->fwd_only ? (l) & 1 : (l))
    for (int l = 0; l < L; l++) {
        const int ls = SLOT(l);
        const float *x = l == 0 ? m->encoded : LAYER(m->res3, RSLOT(l - 1), NC);
        float *ln1 = LAYER(m->ln1, ls, NC), *qkv = LAYER(m->qkv, ls, 3 * NC), *atty = LAYER(m->atty, ls, NC);
        float *res2 = LAYER(m->res2, ls, NC), *ln2 = LAYER(m->ln2, ls, NC), *fch = LAYER(m->fch, ls, 4 * NC);
        float *fchg = LAYER(m->fchg, ls, 4 * NC), *res3 = LAYER(m->res3, RSLOT(l), NC);
        const float *qkvw = LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C), *qkvb = LAYER(t[RMENS_T_QKVB], l, 3 * C);
        layernorm_forward(ln1, LAYER(m->ln1_mean, ls, cap), LAYER(m->ln1_rstd, ls, cap), x, LAYER(t[RMENS_T_LN1W], l, C),
                          LAYER(t[RMENS_T_LN1B], l, C), N, C);
        int rows = N;
        const float *xin;  /* the residual entering the attention block, row for row with atty */
        if (l == L - 1 && m->compact_last) {
            /* Keys and values at every row, the query only where the reward is read. */
            matmul_forward(qkv + C, 3 * C, ln1, C, qkvw + C, 3 * C, qkvb + C, N, C, 2 * C);
            for (int s = 0; s < S; s++)
                memcpy(m->lastln1 + (size_t)s * C, ln1 + (size_t)b->last[s] * C, C * sizeof(float));
            matmul_forward(m->lastq, C, m->lastln1, C, qkvw, 3 * C, qkvb, S, C, C);
            attention_last_forward(m->lastatty, m->lastprobs, m->lastq, qkv, b->lq, S, NH, C);
            for (int s = 0; s < S; s++)
                memcpy(m->lastx + (size_t)s * C, x + (size_t)b->last[s] * C, C * sizeof(float));
            atty = m->lastatty;
            xin = m->lastx;
            rows = S;
        } else {
            matmul_forward(qkv, 3 * C, ln1, C, qkvw, 3 * C, qkvb, N, C, 3 * C);
            attention_forward(atty, LAYER(m->probs, ls, m->cap_probs), qkv, b->segs, b->nsegs, NH, C);
            xin = x;
        }
        const size_t RC = (size_t)rows * C;
        matmul_forward(res2, C, atty, C, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * C), C,
                       LAYER(t[RMENS_T_ATTPROJB], l, C), rows, C, C);
        residual_forward(res2, res2, xin, RC);
        layernorm_forward(ln2, LAYER(m->ln2_mean, ls, cap), LAYER(m->ln2_rstd, ls, cap), res2, LAYER(t[RMENS_T_LN2W], l, C),
                          LAYER(t[RMENS_T_LN2B], l, C), rows, C);
        matmul_forward(fch, 4 * C, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C,
                       LAYER(t[RMENS_T_FCB], l, 4 * C), rows, C, 4 * C);
        gelu_forward(fchg, fch, 4 * RC);
        matmul_forward(res3, C, fchg, 4 * C, LAYER(t[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C,
                       LAYER(t[RMENS_T_FCPROJB], l, C), rows, 4 * C, C);
        residual_forward(res3, res3, res2, RC);
    }
    /* Final LayerNorm and the score head, only at each sequence's last token. */
    const float *top = LAYER(m->res3, RSLOT(L - 1), NC);
#undef SLOT
#undef RSLOT
    if (m->compact_last)
        memcpy(m->lastx, top, (size_t)S * C * sizeof(float));
    else
        for (int s = 0; s < S; s++)
            memcpy(m->lastx + (size_t)s * C, top + (size_t)b->last[s] * C, C * sizeof(float));
    layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, m->lastx, t[RMENS_T_LNFW], t[RMENS_T_LNFB], S, C);
    for (int s = 0; s < S; s++) {
        const float *h = m->lnf + (size_t)s * C;
        float r = 0;
        for (int c = 0; c < C; c++)
            r += h[c] * t[RMENS_T_SCOREW][c];
        m->rewards[s] = r;
    }
    return RMENS_OK;
}

const float *rmens_model_rewards(const rmens_model *m) { return m->rewards; }

/* ----------------------------------------------------------- backward */

/* Backward through the MLP and attention projection of layer l over `rows` rows:
 * dres holds d(res3) on entry and d(res2) on exit; dout_att receives d(atty). */
static void block_tail_backward(rmens_model *m, int l, int rows, float *dres, float *dout_att, const float *atty)
{
    const int C = m->cfg.n_embd;
    const size_t RC = (size_t)rows * C;
    float **t = m->t, **g = m->g;
    const size_t nc = (size_t)m->cap_rows * C;
    float *ln2 = LAYER(m->ln2, l, nc), *fch = LAYER(m->fch, l, 4 * nc), *fchg = LAYER(m->fchg, l, 4 * nc);
    float *res2 = LAYER(m->res2, l, nc);
    memset(m->dbuf4a, 0, 4 * RC * sizeof(float));
    matmul_backward(m->dbuf4a, 4 * C, LAYER(g[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C, LAYER(g[RMENS_T_FCPROJB], l, C),
                    dres, C, fchg, 4 * C, LAYER(t[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C, rows, 4 * C, C);
    memset(m->dbuf4b, 0, 4 * RC * sizeof(float));
    gelu_backward(m->dbuf4b, fch, m->dbuf4a, 4 * RC);
    memset(m->dbufC, 0, RC * sizeof(float));
    matmul_backward(m->dbufC, C, LAYER(g[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C, LAYER(g[RMENS_T_FCB], l, 4 * C),
                    m->dbuf4b, 4 * C, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C, rows, C, 4 * C);
    layernorm_backward(dres, LAYER(g[RMENS_T_LN2W], l, C), LAYER(g[RMENS_T_LN2B], l, C), m->dbufC, res2,
                       LAYER(t[RMENS_T_LN2W], l, C), LAYER(m->ln2_mean, l, m->cap_rows),
                       LAYER(m->ln2_rstd, l, m->cap_rows), rows, C);
    memset(dout_att, 0, RC * sizeof(float));
    matmul_backward(dout_att, C, LAYER(g[RMENS_T_ATTPROJW], l, (size_t)C * C), C, LAYER(g[RMENS_T_ATTPROJB], l, C),
                    dres, C, atty, C, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * C), C, rows, C, C);
}

rmens_status rmens_model_backward(rmens_model *m, const rmens_batch *b, const float *drewards)
{
    const int L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, N = b->N, S = b->S;
    const size_t nc = (size_t)m->cap_rows * C, NC = (size_t)N * C;
    float **t = m->t, **g = m->g;
    if (m->fwd_only)  /* a scoring reservation kept no activations to go back through */
        return rmens_fail(RMENS_ERR_INTERNAL, "backward pass after a forward-only (scoring) reservation");

    /* score head and final LayerNorm at the S reward rows */
    memset(m->dlastC, 0, (size_t)S * C * sizeof(float));
    float *dlnf = m->dlastq;  /* free until the last layer's backward */
    for (int s = 0; s < S; s++) {
        const float *h = m->lnf + (size_t)s * C;
        float *d = dlnf + (size_t)s * C;
        for (int c = 0; c < C; c++) {
            g[RMENS_T_SCOREW][c] += drewards[s] * h[c];
            d[c] = drewards[s] * t[RMENS_T_SCOREW][c];
        }
    }
    layernorm_backward(m->dlastC, g[RMENS_T_LNFW], g[RMENS_T_LNFB], dlnf, m->lastx, t[RMENS_T_LNFW],
                       m->lnf_mean, m->lnf_rstd, S, C);

    memset(m->dres, 0, NC * sizeof(float));
    int l = L - 1;
    if (m->compact_last) {
        const float *x = l == 0 ? m->encoded : LAYER(m->res3, l - 1, nc);
        const float *ln1 = LAYER(m->ln1, l, nc), *qkv = LAYER(m->qkv, l, 3 * nc);
        const float *qkvw = LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C);
        float *dqkvw = LAYER(g[RMENS_T_QKVW], l, (size_t)3 * C * C), *dqkvb = LAYER(g[RMENS_T_QKVB], l, 3 * C);
        float *dlastres = m->dlastres;
        memcpy(dlastres, m->dlastC, (size_t)S * C * sizeof(float));
        block_tail_backward(m, l, S, dlastres, m->dlastC, m->lastatty);
        /* attention with one query per sequence */
        memset(m->dlastq, 0, (size_t)S * C * sizeof(float));
        memset(m->dbuf3C, 0, 3 * NC * sizeof(float));
        attention_last_backward(m->dlastq, m->dbuf3C, m->dscratch, m->dlastC, m->lastq, qkv, m->lastprobs, b->lq, S,
                                NH, C);
        memset(m->dbufC, 0, NC * sizeof(float));
        matmul_backward(m->dbufC, C, dqkvw + C, 3 * C, dqkvb + C, m->dbuf3C + C, 3 * C, ln1, C, qkvw + C, 3 * C, N, C,
                        2 * C);
        memset(m->dlastln1, 0, (size_t)S * C * sizeof(float));
        matmul_backward(m->dlastln1, C, dqkvw, 3 * C, dqkvb, m->dlastq, C, m->lastln1, C, qkvw, 3 * C, S, C, C);
        for (int s = 0; s < S; s++) {
            float *dl = m->dbufC + (size_t)b->last[s] * C, *dr = m->dres + (size_t)b->last[s] * C;
            const float *a = m->dlastln1 + (size_t)s * C, *r = dlastres + (size_t)s * C;
            for (int c = 0; c < C; c++) {
                dl[c] += a[c];
                dr[c] += r[c];
            }
        }
        layernorm_backward(m->dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), m->dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(m->ln1_mean, l, m->cap_rows),
                           LAYER(m->ln1_rstd, l, m->cap_rows), N, C);
        l--;
    } else {
        for (int s = 0; s < S; s++) {
            float *dr = m->dres + (size_t)b->last[s] * C;
            const float *a = m->dlastC + (size_t)s * C;
            for (int c = 0; c < C; c++)
                dr[c] += a[c];
        }
    }
    for (; l >= 0; l--) {
        const float *x = l == 0 ? m->encoded : LAYER(m->res3, l - 1, nc);
        const float *ln1 = LAYER(m->ln1, l, nc), *qkv = LAYER(m->qkv, l, 3 * nc), *atty = LAYER(m->atty, l, nc);
        float *datty = m->dbufC;
        block_tail_backward(m, l, N, m->dres, datty, atty);
        memset(m->dbuf3C, 0, 3 * NC * sizeof(float));
        attention_backward(m->dbuf3C, m->dscratch, datty, qkv, LAYER(m->probs, l, m->cap_probs), b->segs, b->nsegs,
                           NH, C);
        memset(m->dbufC, 0, NC * sizeof(float));
        matmul_backward(m->dbufC, C, LAYER(g[RMENS_T_QKVW], l, (size_t)3 * C * C), 3 * C,
                        LAYER(g[RMENS_T_QKVB], l, 3 * C), m->dbuf3C, 3 * C, ln1, C,
                        LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C), 3 * C, N, C, 3 * C);
        layernorm_backward(m->dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), m->dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(m->ln1_mean, l, m->cap_rows),
                           LAYER(m->ln1_rstd, l, m->cap_rows), N, C);
    }
    encoder_backward(g[RMENS_T_WTE], g[RMENS_T_WPE], m->dres, b->tokens, b->pos, N, C);
    return RMENS_OK;
}

/* ---------------------------------------------------------------- loss */

double rmens_bt_loss(float *drewards, const float *rewards, const float *margin, int B, float center,
                     int *correct)
{
    return rmens_bt_loss_part(drewards, rewards, margin, B, B, center, correct);
}

double rmens_bt_loss_part(float *drewards, const float *rewards, const float *margin, int B, int norm, float center,
                          int *correct)
{
    double loss = 0;
    int ok = 0;
    for (int i = 0; i < B; i++) {
        double rw = rewards[2 * i], rl = rewards[2 * i + 1];
        double d = rw - rl - (margin ? margin[i] : 0.0);
        loss += rmens_softplus(-d);  /* -log sigmoid(d) */
        double sig = rmens_sigmoid(d);
        double gd = (sig - 1.0) / norm;
        double gc = center != 0 ? 2.0 * center * (rw + rl) / norm : 0.0;
        if (center != 0)
            loss += center * (rw + rl) * (rw + rl);
        drewards[2 * i] = (float)(gd + gc);
        drewards[2 * i + 1] = (float)(-gd + gc);
        ok += rw > rl;
    }
    if (correct)
        *correct = ok;
    return loss / norm;
}
