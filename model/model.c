#include "model/model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/logistic.h"
#include "base/rng.h"
#include "model/layers.h"

/* ------------------------------------------------------------- tensors */

static int64_t dim_value(const rmens_dims *d, int code)
{
    switch (code) {
    case RMENS_D_1: return 1;
    case RMENS_D_V: return d->V;
    case RMENS_D_T: return d->T;
    case RMENS_D_C: return d->C;
    case RMENS_D_3C: return 3 * d->C;
    case RMENS_D_I: return d->FF;
    case RMENS_D_Q: return d->Q;
    case RMENS_D_KV: return d->KV;
    case RMENS_D_HD: return d->HD;
    default: return 0;
    }
}

/* The table entry of role t for cfg, NULL when absent. */
static const rmens_tensor_desc *entry(const rmens_model_config *cfg, int t)
{
    const rmens_arch *a = rmens_arch_of(cfg);
    for (int i = 0; a && i < a->ntensors; i++)
        if (a->tensors[i].role == t)
            return rmens_tensor_present(cfg, &a->tensors[i]) ? &a->tensors[i] : NULL;
    return NULL;
}

static void shape_of_entry(const rmens_model_config *cfg, const rmens_tensor_desc *e, rmens_tensor_shape *sh)
{
    rmens_dims d;
    rmens_dims_of(cfg, &d);
    memset(sh, 0, sizeof *sh);
    sh->per_layer = strchr(e->name, '%') != NULL;
    sh->rank = e->dims[1] == RMENS_D_NONE ? 1 : 2;
    sh->dims[0] = dim_value(&d, e->dims[0]);
    sh->dims[1] = sh->rank == 2 ? dim_value(&d, e->dims[1]) : 0;
    sh->decay = e->decay;
}

void rmens_tensor_shape_of(const rmens_model_config *cfg, int t, rmens_tensor_shape *sh)
{
    const rmens_tensor_desc *e = entry(cfg, t);
    if (e)
        shape_of_entry(cfg, e, sh);
    else
        memset(sh, 0, sizeof *sh);
}

int64_t rmens_tensor_numel(const rmens_model_config *cfg, int t)
{
    rmens_tensor_shape sh;
    rmens_tensor_shape_of(cfg, t, &sh);
    if (sh.rank == 0)
        return 0;
    int64_t n = sh.dims[0] * (sh.rank == 2 ? sh.dims[1] : 1);
    return sh.per_layer ? n * cfg->n_layer : n;
}

void rmens_tensor_name(const rmens_model_config *cfg, int t, int l, char *buf, size_t size)
{
    const rmens_tensor_desc *e = entry(cfg, t);
    const char *pat;
    if (!e)
        snprintf(buf, size, "(no tensor %d)", t);
    else if ((pat = strstr(e->name, "%d")) != NULL) /* per-layer pattern: the layer index in place of %d */
        snprintf(buf, size, "%.*s%d%s", (int)(pat - e->name), e->name, l, pat + 2);
    else
        snprintf(buf, size, "%s", e->name);
}

rmens_status rmens_model_config_check(const rmens_model_config *c)
{
    if (c->vocab_size < 1 || c->n_ctx < 1 || c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1)
        return rmens_fail(RMENS_ERR_ARG, "model config: vocab_size %d, n_ctx %d, n_layer %d, n_head %d, n_embd %d "
                          "must all be positive", c->vocab_size, c->n_ctx, c->n_layer, c->n_head, c->n_embd);
    const rmens_arch *a = rmens_arch_of(c);
    if (!a)
        return rmens_fail(RMENS_ERR_ARG, "model config: architecture %d is not one this rmens runs", c->arch);
    if (c->n_kv_head < 0 || c->head_dim < 0 || c->n_inner < 0 || c->rope_original_ctx < 0 || c->norm_eps < 0 ||
        c->rope_theta < 0 || c->partial_rotary < 0 || c->partial_rotary > 1 || c->rope_type < 0 || c->rope_type > 1 ||
        c->parallel_residual < 0 || c->parallel_residual > 1)
        return rmens_fail(RMENS_ERR_ARG, "model config: a negative or out-of-range field (n_kv_head %d, head_dim %d, "
                          "n_inner %d, partial_rotary %g, rope_type %d)", c->n_kv_head, c->head_dim, c->n_inner,
                          (double)c->partial_rotary, c->rope_type);
    if (a->family == RMENS_FAMILY_GPT2) {
        const rmens_model_config base = {.vocab_size = c->vocab_size, .n_ctx = c->n_ctx, .n_layer = c->n_layer,
                                         .n_head = c->n_head, .n_embd = c->n_embd};
        if (memcmp(&base, c, sizeof base) != 0)
            return rmens_fail(RMENS_ERR_ARG, "model config: GPT-2 takes only vocab_size, n_ctx, n_layer, n_head, "
                              "n_embd");
        if (c->n_embd % c->n_head)
            return rmens_fail(RMENS_ERR_ARG, "model config: n_embd %d is not a multiple of n_head %d", c->n_embd,
                              c->n_head);
    } else {
        rmens_dims d;
        rmens_dims_of(c, &d);
        if (c->head_dim == 0 && c->n_embd % c->n_head)
            return rmens_fail(RMENS_ERR_ARG, "model config: hidden_size %d is not a multiple of num_attention_heads "
                              "%d (and no head_dim)", c->n_embd, c->n_head);
        if (d.NKV > d.NH || d.NH % d.NKV)
            return rmens_fail(RMENS_ERR_ARG, "model config: num_attention_heads %lld is not a multiple of "
                              "num_key_value_heads %lld", (long long)d.NH, (long long)d.NKV);
        if (d.HD > 1024 || d.rot % 2 || d.rot < 2 || d.NH > 1024)
            return rmens_fail(RMENS_ERR_ARG, "model config: head_dim %lld (rotary %lld channels) or %lld heads out "
                              "of range", (long long)d.HD, (long long)d.rot, (long long)d.NH);
        if (c->rope_type == 1 && (!(c->rope_factor > 0) || !(c->rope_low_freq > 0) ||
                                  !(c->rope_high_freq > c->rope_low_freq) || c->rope_original_ctx < 1))
            return rmens_fail(RMENS_ERR_ARG, "model config: rope_scaling llama3 needs factor > 0, 0 < "
                              "low_freq_factor < high_freq_factor and original_max_position_embeddings");
        if (c->parallel_residual && a->family != RMENS_FAMILY_NEOX)
            return rmens_fail(RMENS_ERR_ARG, "model config: a parallel residual is GPT-NeoX's, not %s's", a->model_type);
        if (a->family == RMENS_FAMILY_NEOX && (d.NKV != d.NH || d.HD * d.NH != d.C || c->rope_type != 0))
            return rmens_fail(RMENS_ERR_ARG, "model config: GPT-NeoX has neither grouped-query heads, nor a head_dim "
                              "other than hidden_size / num_attention_heads, nor rope scaling");
        if ((int64_t)c->n_inner > 1 << 20)
            return rmens_fail(RMENS_ERR_ARG, "model config: intermediate_size %d too large", c->n_inner);
    }
    /* Bounds far beyond any real model that keep every tensor size within int64 (a
     * damaged file's config reaches here: found by tests/fuzz). */
    if ((int64_t)c->n_ctx * c->n_embd > (int64_t)1 << 31 || (int64_t)c->vocab_size * c->n_embd > (int64_t)1 << 34 ||
        c->n_embd > 65536 || c->n_layer > 4096)
        return rmens_fail(RMENS_ERR_ARG, "model config too large: vocab_size %d, n_ctx %d, n_layer %d, n_embd %d",
                          c->vocab_size, c->n_ctx, c->n_layer, c->n_embd);
    return RMENS_OK;
}

/* Loops e over the table entries present for cfg, in table (storage) order. */
#define FOR_TENSORS(cfg, e)                                                                       \
    for (const rmens_arch *a_ = rmens_arch_of(cfg); a_; a_ = NULL)                               \
        for (const rmens_tensor_desc *e = a_->tensors; e < a_->tensors + a_->ntensors; e++)         \
            if (rmens_tensor_present(cfg, e))

rmens_status rmens_model_alloc(rmens_model **out, const rmens_model_config *cfg)
{
    *out = NULL;
    RMENS_TRY(rmens_model_config_check(cfg));
    rmens_model *m = calloc(1, sizeof *m);
    if (!m)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    m->arch = rmens_arch_of(cfg);
    m->compact_last = 1;
    size_t n = 0;
    FOR_TENSORS(cfg, e) {
        m->off[e->role] = n;
        n += (size_t)rmens_tensor_numel(cfg, e->role);
    }
    m->nparams = n;
    m->params = calloc(n, sizeof(float));
    m->grads = calloc(n, sizeof(float));
    if (!m->params || !m->grads) {
        rmens_model_free(m);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    FOR_TENSORS(cfg, e) {
        m->t[e->role] = m->params + m->off[e->role];
        m->g[e->role] = m->grads + m->off[e->role];
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
    free(m->source_config);
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

static void init_tensor(rmens_model *m, const rmens_tensor_desc *e, uint64_t seed, uint64_t stream)
{
    const int t = e->role;
    int64_t n = rmens_tensor_numel(&m->cfg, t);
    float *p = m->t[t];
    if (e->init == RMENS_INIT_ZERO || e->init == RMENS_INIT_ONE) {
        float v = e->init == RMENS_INIT_ONE ? 1.0f : 0.0f;
        for (int64_t i = 0; i < n; i++)
            p[i] = v;
        return;
    }
    float std = 0.02f;
    if (e->init == RMENS_INIT_RESID)
        std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    /* One generator stream per tensor: changing one tensor's size leaves the others. */
    rmens_rng g;
    rmens_rng_init(&g, seed, stream * 64 + (uint64_t)t);
    for (int64_t i = 0; i < n; i++)
        p[i] = std * normal(&g);
}

void rmens_model_init_params(rmens_model *m, uint64_t seed, uint64_t stream)
{
    FOR_TENSORS(&m->cfg, e)
        init_tensor(m, e, seed, stream);
}

void rmens_model_init_head(rmens_model *m, uint64_t seed, uint64_t stream)
{
    FOR_TENSORS(&m->cfg, e)
        if (e->role == RMENS_T_SCOREW)
            init_tensor(m, e, seed, stream);
}

/* ------------------------------------------------- tensors by name */

int rmens_model_ndatasets(const rmens_model *m) { return rmens_arch_ndatasets(&m->cfg); }

/* Entry and layer of dataset i. */
static const rmens_tensor_desc *dataset_entry(const rmens_model_config *cfg, int i, int *layer)
{
    FOR_TENSORS(cfg, e) {
        int n = strchr(e->name, '%') ? cfg->n_layer : 1;
        if (i < n) {
            *layer = i;
            return e;
        }
        i -= n;
    }
    return NULL;
}

void rmens_model_dataset(const rmens_model *m, int i, char *name, size_t size, int *rank, int64_t dims[2],
                         float **data)
{
    int l = 0;
    const rmens_tensor_desc *e = dataset_entry(&m->cfg, i, &l);
    rmens_tensor_shape sh;
    shape_of_entry(&m->cfg, e, &sh);
    rmens_tensor_name(&m->cfg, e->role, l, name, size);
    *rank = sh.rank;
    dims[0] = sh.dims[0];
    dims[1] = sh.dims[1];
    *data = m->t[e->role] + (size_t)l * (size_t)(sh.dims[0] * (sh.rank == 2 ? sh.dims[1] : 1));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rmens_model_find(const rmens_model *m, const char *name)
{
    for (const char *const *ig = m->arch->ignored; *ig; ig++)
        if (ends_with(name, *ig))
            return RMENS_TENSOR_IGNORED;
    /* GPT-2's own files say "h.0.ln_1.weight" for "transformer.h.0.ln_1.weight". */
    char full[256];
    snprintf(full, sizeof full, "%s%s", m->arch->base, name);
    const int nd = rmens_model_ndatasets(m);
    for (int i = 0; i < nd; i++) {
        int l = 0;
        char own[256];
        const rmens_tensor_desc *e = dataset_entry(&m->cfg, i, &l);
        rmens_tensor_name(&m->cfg, e->role, l, own, sizeof own);
        if (strcmp(own, name) == 0 || strcmp(own, full) == 0)
            return i;
    }
    return RMENS_TENSOR_UNKNOWN;
}

rmens_status rmens_model_set_tensor(rmens_model *m, const char *name, int rank, const int64_t *dims,
                                    const float *data, int *index)
{
    int i = rmens_model_find(m, name);
    if (index)
        *index = i;
    if (i == RMENS_TENSOR_IGNORED)
        return RMENS_OK;
    if (i == RMENS_TENSOR_UNKNOWN)
        return rmens_fail(RMENS_ERR_FORMAT, "tensor %s is not part of a %s reward model of this config", name,
                          m->arch->model_type);
    char own[256];
    int r;
    int64_t d[2];
    float *dst;
    rmens_model_dataset(m, i, own, sizeof own, &r, d, &dst);
    if (rank != r || dims[0] != d[0] || (r == 2 && dims[1] != d[1]))
        return rmens_fail(RMENS_ERR_FORMAT, "tensor %s has shape [%lld%s%lld], the config makes it [%lld%s%lld]", name,
                          (long long)dims[0], rank == 2 ? ", " : "", rank == 2 ? (long long)dims[1] : 0LL,
                          (long long)d[0], r == 2 ? ", " : "", r == 2 ? (long long)d[1] : 0LL);
    memcpy(dst, data, (size_t)(d[0] * (r == 2 ? d[1] : 1)) * sizeof(float));
    return RMENS_OK;
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
static rmens_status reserve(rmens_model *m, int max_pairs, int max_len, rmens_acts_kind kind, size_t *dry)
{
    /* Forward-only: the per-layer activations are overwritten layer after layer (L = 1),
     * except the residual stream, whose previous layer's copy is the next one's input.
     * Recomputing: the same one layer, but every layer's residual (LR = n_layer) and the
     * backward buffers. */
    const int fwd_only = kind == RMENS_ACTS_FORWARD;
    rmens_dims d;
    rmens_dims_of(&m->cfg, &d);
    const rmens_arch *arch = rmens_arch_of(&m->cfg);
    /* gpt: LayerNorm means; rope: RoPE tables; lla: SwiGLU's second input; neox: its QKV row */
    const size_t gpt = arch->family != RMENS_FAMILY_LLAMA, rope = arch->family != RMENS_FAMILY_GPT2;
    const size_t lla = arch->family == RMENS_FAMILY_LLAMA, neox = arch->family == RMENS_FAMILY_NEOX;
    const size_t qkn = m->cfg.qk_norm != 0;
    const size_t L = kind != RMENS_ACTS_TRAIN ? 1 : (size_t)m->cfg.n_layer, C = (size_t)d.C;
    const size_t Q = (size_t)d.Q, KV = (size_t)d.KV, QKV = (size_t)d.QKV, FF = (size_t)d.FF, CQ = C > Q ? C : Q;
    const size_t NHK = (size_t)(d.NH + d.NKV), ROT = (size_t)d.rot / 2;
    const size_t LR = fwd_only ? (m->cfg.n_layer > 1 ? 2 : 1) : (size_t)m->cfg.n_layer;
    const size_t B = fwd_only ? 0 : 1;  /* backward buffers */
    const size_t T = (size_t)(max_len > 0 && max_len < m->cfg.n_ctx ? max_len : m->cfg.n_ctx);
    const size_t NH = (size_t)m->cfg.n_head;
    const size_t N = (size_t)2 * max_pairs * T, S = (size_t)2 * max_pairs;
    /* Worst cases: every sequence its own causal segment of T rows, or a prompt of T-1
     * rows with two one-token responses; both stay within 2 * NH * T * T per pair. */
    const size_t probs = (size_t)max_pairs * 2 * NH * T * T, lqp = S * NH * T;
    const size_t qb = RMENS_ATT_QB < T ? RMENS_ATT_QB : T;
    rmens_acts *a = &m->a;
    /* A part of size 0 is one the family does not use (GPT-2: LayerNorm means, learned
     * positions; Llama: RMSNorm, RoPE tables, SwiGLU's second input). */
    struct {
        float **p;
        size_t n;
    } parts[] = {
        {&a->encoded, N * C}, {&a->ln1, L * N * C}, {&a->ln1_mean, gpt * L * N}, {&a->ln1_rstd, L * N},
        {&a->qkv, L * N * QKV}, {&a->qkvn, qkn * L * N * (Q + KV)}, {&a->qk_rstd, qkn * L * N * NHK},
        {&a->atty, L * N * Q}, {&a->probs, L * probs}, {&a->res2, L * N * C},
        {&a->ln2, L * N * C}, {&a->ln2_mean, gpt * L * N}, {&a->ln2_rstd, L * N}, {&a->fch, L * N * FF},
        {&a->fcu, lla * L * N * FF}, {&a->fchg, L * N * FF}, {&a->res3, LR * N * C},
        {&a->rope_cos, rope * N * ROT}, {&a->rope_sin, rope * N * ROT},
        {&a->lastln1, S * C}, {&a->lastq, S * Q}, {&a->lastqn, qkn * S * Q}, {&a->lastq_rstd, qkn * S * NH},
        {&a->lastatty, S * Q}, {&a->lastprobs, lqp},
        {&a->lastx, S * C}, {&a->lnf, S * C}, {&a->lnf_mean, gpt * S}, {&a->lnf_rstd, S}, {&a->rewards, S},
        {&a->dres, B * N * C}, {&a->dbufC, B * N * CQ}, {&a->dbuf3C, B * N * QKV}, {&a->dbuf4a, B * N * FF},
        {&a->dbuf4b, B * N * FF}, {&a->dbuf4c, lla * B * N * FF}, {&a->dlastC, B * S * CQ}, {&a->dlastq, B * S * CQ},
        {&a->dlastln1, B * S * C}, {&a->dlastres, B * S * C}, {&a->dscratch, B * (qb * 2 * T + 2 * T)},
        {&a->dqkvn, qkn * B * N * (Q + KV)}, {&a->qkvrow, neox * QKV},
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
    m->recompute = kind == RMENS_ACTS_RECOMPUTE;
    return RMENS_OK;
}

rmens_status rmens_model_reserve_kind(rmens_model *m, int max_pairs, int max_len, rmens_acts_kind kind)
{
    return reserve(m, max_pairs, max_len, kind, NULL);
}

rmens_status rmens_model_reserve_len(rmens_model *m, int max_pairs, int max_len)
{
    return reserve(m, max_pairs, max_len, RMENS_ACTS_TRAIN, NULL);
}

rmens_status rmens_model_reserve_forward(rmens_model *m, int max_pairs, int max_len)
{
    return reserve(m, max_pairs, max_len, RMENS_ACTS_FORWARD, NULL);
}

double rmens_model_acts_bytes(const rmens_model_config *cfg, int max_pairs, int max_len, rmens_acts_kind kind)
{
    rmens_model m = {.cfg = *cfg};
    size_t n = 0;
    reserve(&m, max_pairs, max_len, kind, &n);
    return 4.0 * (double)n;
}

void rmens_model_borrow_acts(rmens_model *dst, const rmens_model *src)
{
    if (!dst->acts_borrowed)
        free(dst->acts);
    /* Everything from cap_pairs to recompute is about the activations (their pointers in
     * the named struct included). */
    size_t from = offsetof(rmens_model, cap_pairs), to = offsetof(rmens_model, compact_last);
    memcpy((char *)dst + from, (const char *)src + from, to - from);
    dst->acts_borrowed = 1;
}


/* ------------------------------------------------------ passes */

void rmens_layers_forward(rmens_model *m, const rmens_batch *b, rmens_layer_forward_fn layer)
{
    for (int l = 0; l < m->cfg.n_layer; l++)
        layer(m, b, l, 0);
    rmens_head_rows(m, b, rmens_layer_input(m, m->cfg.n_layer));
}

void rmens_rotary_layers_forward(rmens_model *m, const rmens_batch *b, rmens_layer_forward_fn layer)
{
    rmens_dims d;
    rmens_dims_of(&m->cfg, &d);
    embedding_forward(m->a.encoded, b->tokens, m->t[RMENS_T_WTE], b->N, (int)d.C);
    rope_tables(m->a.rope_cos, m->a.rope_sin, b->pos, b->N, (int)d.rot, d.theta, &m->cfg);
    rmens_layers_forward(m, b, layer);
}

void rmens_head_rows(rmens_model *m, const rmens_batch *b, const float *top)
{
    const int C = m->cfg.n_embd;
    if (m->compact_last)
        memcpy(m->a.lastx, top, (size_t)b->S * C * sizeof(float));
    else
        for (int i = 0; i < b->S; i++)
            memcpy(m->a.lastx + (size_t)i * C, top + (size_t)b->last[i] * C, C * sizeof(float));
}

void rmens_head_forward(rmens_model *m, int S)
{
    const int C = m->cfg.n_embd;
    const float *w = m->t[RMENS_T_SCOREW];
    for (int i = 0; i < S; i++) {
        const float *h = m->a.lnf + (size_t)i * C;
        float r = 0;
        for (int c = 0; c < C; c++)
            r += h[c] * w[c];
        m->a.rewards[i] = r;
    }
}

void rmens_head_backward(rmens_model *m, int S, const float *drewards, float *dlnf)
{
    const int C = m->cfg.n_embd;
    float *gw = m->g[RMENS_T_SCOREW];
    const float *w = m->t[RMENS_T_SCOREW];
    for (int i = 0; i < S; i++) {
        const float *h = m->a.lnf + (size_t)i * C;
        float *d = dlnf + (size_t)i * C;
        for (int c = 0; c < C; c++) {
            gw[c] += drewards[i] * h[c];
            d[c] = drewards[i] * w[c];
        }
    }
}

void rmens_rows_add(float *dst, const float *src, const int *rows, int S, int C)
{
    for (int i = 0; i < S; i++) {
        float *d = dst + (size_t)rows[i] * C;
        const float *x = src + (size_t)i * C;
        for (int c = 0; c < C; c++)
            d[c] += x[c];
    }
}

/* Each family's passes, by RMENS_FAMILY_*. */
static const struct {
    void (*forward)(rmens_model *m, const rmens_batch *b);
    void (*backward)(rmens_model *m, const rmens_batch *b, const float *drewards);
} passes[] = {
    [RMENS_FAMILY_GPT2] = {rmens_gpt2_forward, rmens_gpt2_backward},
    [RMENS_FAMILY_LLAMA] = {rmens_llama_forward, rmens_llama_backward},
    [RMENS_FAMILY_NEOX] = {rmens_neox_forward, rmens_neox_backward},
};

rmens_status rmens_model_forward(rmens_model *m, const rmens_batch *b)
{
    if (b->B > m->cap_pairs || b->N > m->cap_rows || b->probs_size > m->cap_probs ||
        b->lq_probs_size > m->cap_lq_probs)
        return rmens_fail(RMENS_ERR_INTERNAL, "batch larger than the reserved activations");
    /* a batch may cut sequences shorter than the model's context (bench --ctx), not longer */
    if (b->n_head != m->cfg.n_head || b->n_ctx > m->cfg.n_ctx)
        return rmens_fail(RMENS_ERR_INTERNAL, "batch laid out for another model shape");
    passes[m->arch->family].forward(m, b);
    return RMENS_OK;
}

const float *rmens_model_rewards(const rmens_model *m) { return m->a.rewards; }

rmens_status rmens_model_backward(rmens_model *m, const rmens_batch *b, const float *drewards)
{
    if (m->fwd_only)  /* a scoring reservation kept no activations to go back through */
        return rmens_fail(RMENS_ERR_INTERNAL, "backward pass after a forward-only (scoring) reservation");
    passes[m->arch->family].backward(m, b, drewards);
    return RMENS_OK;
}
