/* The Llama family (Hugging Face modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py):
 * descriptors of Llama (2, 3, 3.1, 3.2; SmolLM2, TinyLlama), Qwen2 and Qwen3, and the
 * passes they share. RMSNorm before attention and MLP, RoPE (rotate-half; partial rotary;
 * rope_type llama3), grouped-query attention with head_dim from the config, SwiGLU MLP,
 * nn.Linear weights [out, in], final RMSNorm; Qwen2 adds q/k/v biases, Qwen3 a per-head
 * RMSNorm of q and k before RoPE. lm_head is not part of a reward model: tied or not, it
 * is ignored on load. */
#include <stddef.h>
#include <string.h>

#include "model/layers.h"
#include "model/model.h"

#define K(f) offsetof(rmens_model_config, f)
#define L_(x) "model.layers.%d." x

static const rmens_tensor_desc tensors[] = {
    {RMENS_T_WTE, "model.embed_tokens.weight", {RMENS_D_V, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_LN1W, L_("input_layernorm.weight"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_QW, L_("self_attn.q_proj.weight"), {RMENS_D_Q, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_QB, L_("self_attn.q_proj.bias"), {RMENS_D_Q}, RMENS_IF_QKV_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_KW, L_("self_attn.k_proj.weight"), {RMENS_D_KV, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_KB, L_("self_attn.k_proj.bias"), {RMENS_D_KV}, RMENS_IF_QKV_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_VW, L_("self_attn.v_proj.weight"), {RMENS_D_KV, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_VB, L_("self_attn.v_proj.bias"), {RMENS_D_KV}, RMENS_IF_QKV_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_QNORM, L_("self_attn.q_norm.weight"), {RMENS_D_HD}, RMENS_IF_QK_NORM, 0, RMENS_INIT_ONE},
    {RMENS_T_KNORM, L_("self_attn.k_norm.weight"), {RMENS_D_HD}, RMENS_IF_QK_NORM, 0, RMENS_INIT_ONE},
    {RMENS_T_ATTPROJW, L_("self_attn.o_proj.weight"), {RMENS_D_C, RMENS_D_Q}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_ATTPROJB, L_("self_attn.o_proj.bias"), {RMENS_D_C}, RMENS_IF_O_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_LN2W, L_("post_attention_layernorm.weight"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_FCW, L_("mlp.gate_proj.weight"), {RMENS_D_I, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_UPW, L_("mlp.up_proj.weight"), {RMENS_D_I, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_FCPROJW, L_("mlp.down_proj.weight"), {RMENS_D_C, RMENS_D_I}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_LNFW, "model.norm.weight", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_SCOREW, "score.weight", {RMENS_D_1, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
};
#define NT (sizeof tensors / sizeof *tensors)

/* The keys the three share; each architecture adds its bias/norm keys. */
#define COMMON_KEYS(eps_default)                                                                          \
    {"vocab_size", K(vocab_size), 'i', 1, 0, NULL},                                                       \
    {"max_position_embeddings", K(n_ctx), 'i', 1, 0, NULL},                                               \
    {"num_hidden_layers", K(n_layer), 'i', 1, 0, NULL},                                                   \
    {"num_attention_heads", K(n_head), 'i', 1, 0, NULL},                                                  \
    {"hidden_size", K(n_embd), 'i', 1, 0, NULL},                                                          \
    {"num_key_value_heads", K(n_kv_head), 'i', 0, 0, NULL},                                               \
    {"head_dim", K(head_dim), 'i', 0, 0, NULL},                                                           \
    {"intermediate_size", K(n_inner), 'i', 1, 0, NULL},                                                   \
    {"rms_norm_eps", K(norm_eps), 'f', 0, eps_default, NULL},                                             \
    {"rope_theta", K(rope_theta), 'f', 0, 10000, NULL},                                                   \
    {"partial_rotary_factor", K(partial_rotary), 'f', 0, 1, NULL},                                        \
    {"tie_word_embeddings", K(tie_embeddings), 'b', 0, 0, NULL},                                          \
    {"hidden_act", RMENS_NO_FIELD, 's', 0, 0, "silu"},                                                    \
    {"rope_scaling.type", K(rope_type), 's', 0, 0, "default|llama3"},                                     \
    {"rope_scaling.rope_type", K(rope_type), 's', 0, 0, "default|llama3"},                                \
    {"rope_scaling.factor", K(rope_factor), 'f', 0, 0, NULL},                                             \
    {"rope_scaling.low_freq_factor", K(rope_low_freq), 'f', 0, 0, NULL},                                  \
    {"rope_scaling.high_freq_factor", K(rope_high_freq), 'f', 0, 0, NULL},                                \
    {"rope_scaling.original_max_position_embeddings", K(rope_original_ctx), 'i', 0, 0, NULL},             \
    {"mlp_bias", RMENS_NO_FIELD, 'z', 0, 0, "MLP biases"},                                                \
    {"use_sliding_window", RMENS_NO_FIELD, 'z', 0, 0, "sliding-window attention"}

static const rmens_config_key llama_keys[] = {
    COMMON_KEYS(1e-6),
    {"attention_bias", K(qkv_bias), 'b', 0, 0, NULL},
    {"attention_bias", K(o_bias), 'b', 0, 0, NULL},
};
static const rmens_config_key qwen2_keys[] = {
    COMMON_KEYS(1e-6),
    {"(q/k/v biases)", K(qkv_bias), 'c', 0, 1, NULL},
};
static const rmens_config_key qwen3_keys[] = {
    COMMON_KEYS(1e-6),
    {"attention_bias", K(qkv_bias), 'b', 0, 0, NULL},
    {"attention_bias", K(o_bias), 'b', 0, 0, NULL},
    {"(q/k norms)", K(qk_norm), 'c', 0, 1, NULL},
};

static const char *const ignored[] = {"lm_head.weight", ".rotary_emb.inv_freq", NULL};

#define ARCH(id, type, prefix, keys)                                                                     \
    {id, RMENS_FAMILY_LLAMA, type, prefix, "model.", tensors, NT, keys, sizeof keys / sizeof *keys, ignored}
const rmens_arch rmens_arch_llama = ARCH(RMENS_ARCH_LLAMA, "llama", "Llama", llama_keys);
const rmens_arch rmens_arch_qwen2 = ARCH(RMENS_ARCH_QWEN2, "qwen2", "Qwen2", qwen2_keys);
const rmens_arch rmens_arch_qwen3 = ARCH(RMENS_ARCH_QWEN3, "qwen3", "Qwen3", qwen3_keys);

/* ------------------------------------------------------------ passes */


typedef struct {
    int L, C, NH, NKV, HD, Q, KV, QKV, FF, rot, half, qkn;
    float eps, theta;
} shape;

/* Layer l of an optional tensor (NULL when the config has none). */
static float *opt(float *base, int l, size_t n) { return base ? base + (size_t)l * n : NULL; }

static shape shape_of(const rmens_model *m)
{
    rmens_dims d;
    rmens_dims_of(&m->cfg, &d);
    return (shape){(int)d.L, (int)d.C, (int)d.NH, (int)d.NKV, (int)d.HD, (int)d.Q, (int)d.KV, (int)d.QKV, (int)d.FF,
                   (int)d.rot, (int)d.rot / 2, m->cfg.qk_norm != 0, d.eps, d.theta};
}

/* q (nq heads at column 0) or k of rows [0, n) of a [n, ld] block: the per-head norm
 * (Qwen3; pre-norm values in pre [n, ldp], rstd [n, NH + NKV] at column r0) and RoPE. */
static void qk_forward(const shape *s, float *x, int ld, const float *pre, int ldp, float *rstd, int r0,
                       const float *nw, int nh, const float *cos_, const float *sin_, int n)
{
    if (s->qkn)
        for (int i = 0; i < n; i++)
            rmsnorm_forward(x + (size_t)i * ld, s->HD, rstd + (size_t)i * (s->NH + s->NKV) + r0, pre + (size_t)i * ldp,
                            s->HD, nw, nh, s->HD, s->eps);
    rope_forward(x, ld, cos_, sin_, n, nh, s->HD, s->rot);
}

/* Its backward: dx (gradient after RoPE) is rotated back in place, then (Qwen3) taken
 * through the norm into dpre (zeroed here). */
static void qk_backward(const shape *s, float *dx, int ld, float *dpre, int lddp, const float *pre, int ldp,
                        const float *rstd, int r0, const float *nw, float *dnw, int nh, const float *cos_,
                        const float *sin_, int n)
{
    rope_backward(dx, ld, cos_, sin_, n, nh, s->HD, s->rot);
    if (!s->qkn)
        return;
    for (int i = 0; i < n; i++) {
        memset(dpre + (size_t)i * lddp, 0, (size_t)nh * s->HD * sizeof(float));
        rmsnorm_backward(dpre + (size_t)i * lddp, s->HD, dnw, dx + (size_t)i * ld, s->HD, pre + (size_t)i * ldp, s->HD,
                         nw, rstd + (size_t)i * (s->NH + s->NKV) + r0, nh, s->HD);
    }
}

/* Layer l's forward (rmens_layer_forward_fn): the forward pass's and the recomputation's. */
static void layer_forward(rmens_model *m, const rmens_batch *b, int l, int again)
{
    const shape s = shape_of(m);
    const int L = s.L, C = s.C, Q = s.Q, KV = s.KV, QKV = s.QKV, FF = s.FF, N = b->N, S = b->S;
    const int QK = Q + KV, NHK = s.NH + s.NKV;
    const size_t cap = (size_t)m->cap_rows;
    rmens_acts *a = &m->a;
    float **t = m->t;
    const int ls = rmens_act_slot(m, l);
    const float *x = rmens_layer_input(m, l);
    float *ln1 = LAYER(a->ln1, ls, cap * C), *qkv = LAYER(a->qkv, ls, cap * QKV), *atty = LAYER(a->atty, ls, cap * Q);
    float *qkvn = LAYER(a->qkvn, ls, cap * QK), *qkr = LAYER(a->qk_rstd, ls, cap * NHK);
    float *res2 = LAYER(a->res2, ls, cap * C), *ln2 = LAYER(a->ln2, ls, cap * C);
    float *fch = LAYER(a->fch, ls, cap * FF), *fcu = LAYER(a->fcu, ls, cap * FF), *fchg = LAYER(a->fchg, ls, cap * FF);
    float *res3 = LAYER(a->res3, rmens_res_slot(m, l), cap * C);
    const float *qn = opt(t[RMENS_T_QNORM], l, s.HD), *kn = opt(t[RMENS_T_KNORM], l, s.HD);
    rmsnorm_forward(ln1, C, LAYER(a->ln1_rstd, ls, cap), x, C, LAYER(t[RMENS_T_LN1W], l, C), N, C, s.eps);
    /* With the per-head norm the projections land in qkvn and the norm writes qkv. */
    float *kdst = s.qkn ? qkvn + Q : qkv + Q;
    const int kld = s.qkn ? QK : QKV;
    linear_forward(kdst, kld, ln1, C, LAYER(t[RMENS_T_KW], l, (size_t)KV * C), opt(t[RMENS_T_KB], l, KV), N, C, KV);
    linear_forward(qkv + Q + KV, QKV, ln1, C, LAYER(t[RMENS_T_VW], l, (size_t)KV * C), opt(t[RMENS_T_VB], l, KV),
                   N, C, KV);
    qk_forward(&s, qkv + Q, QKV, qkvn + Q, QK, qkr, s.NH, kn, s.NKV, a->rope_cos, a->rope_sin, N);
    int rows = N;
    const float *xin;
    const float *qw = LAYER(t[RMENS_T_QW], l, (size_t)Q * C), *qb = opt(t[RMENS_T_QB], l, Q);
    if (l == L - 1 && m->compact_last) {
        /* Keys and values at every row, the query only where the reward is read. */
        for (int i = 0; i < S; i++)
            memcpy(a->lastln1 + (size_t)i * C, ln1 + (size_t)b->last[i] * C, C * sizeof(float));
        linear_forward(s.qkn ? a->lastqn : a->lastq, Q, a->lastln1, C, qw, qb, S, C, Q);
        for (int i = 0; i < S; i++) {
            const size_t r = (size_t)b->last[i] * s.half;
            qk_forward(&s, a->lastq + (size_t)i * Q, Q, a->lastqn + (size_t)i * Q, Q, a->lastq_rstd + (size_t)i * s.NH,
                       0, qn, s.NH, a->rope_cos + r, a->rope_sin + r, 1);
        }
        attention_last_forward(a->lastatty, a->lastprobs, a->lastq, qkv, b->lq, S, s.NH, s.NKV, s.HD);
        for (int i = 0; i < S; i++)
            memcpy(a->lastx + (size_t)i * C, x + (size_t)b->last[i] * C, C * sizeof(float));
        atty = a->lastatty;
        xin = a->lastx;
        rows = S;
    } else {
        linear_forward(s.qkn ? qkvn : qkv, s.qkn ? QK : QKV, ln1, C, qw, qb, N, C, Q);
        qk_forward(&s, qkv, QKV, qkvn, QK, qkr, 0, qn, s.NH, a->rope_cos, a->rope_sin, N);
        attention_forward(atty, LAYER(a->probs, ls, m->cap_probs), qkv, b->segs, b->nsegs, s.NH, s.NKV, s.HD);
        xin = x;
    }
    const size_t RC = (size_t)rows * C;
    linear_forward(res2, C, atty, Q, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * Q), opt(t[RMENS_T_ATTPROJB], l, C),
                   rows, Q, C);
    residual_forward(res2, res2, xin, RC);
    rmsnorm_forward(ln2, C, LAYER(a->ln2_rstd, ls, cap), res2, C, LAYER(t[RMENS_T_LN2W], l, C), rows, C, s.eps);
    linear_forward(fch, FF, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)FF * C), NULL, rows, C, FF);
    linear_forward(fcu, FF, ln2, C, LAYER(t[RMENS_T_UPW], l, (size_t)FF * C), NULL, rows, C, FF);
    swiglu_forward(fchg, fch, fcu, (size_t)rows * FF);
    if (again)
        return;
    linear_forward(res3, C, fchg, FF, LAYER(t[RMENS_T_FCPROJW], l, (size_t)C * FF), NULL, rows, FF, C);
    residual_forward(res3, res3, res2, RC);
}

void rmens_llama_forward(rmens_model *m, const rmens_batch *b)
{
    const shape s = shape_of(m);
    const int C = s.C, S = b->S;
    rmens_acts *a = &m->a;
    float **t = m->t;
    rmens_rotary_layers_forward(m, b, layer_forward);
    rmsnorm_forward(a->lnf, C, a->lnf_rstd, a->lastx, C, t[RMENS_T_LNFW], S, C, s.eps);
    rmens_head_forward(m, S);
}

/* Backward through the MLP and o_proj of layer l over `rows` rows: dres holds d(res3) on
 * entry and d(res2) on exit; datty receives d(atty) [rows, Q]. */
static void tail_backward(rmens_model *m, const shape *s, int l, int rows, float *dres, float *datty, const float *atty)
{
    const int C = s->C, Q = s->Q, FF = s->FF;
    const size_t cap = (size_t)m->cap_rows;
    rmens_acts *a = &m->a;
    float **t = m->t, **g = m->g;
    const int ls = rmens_act_slot(m, l);
    const float *ln2 = LAYER(a->ln2, ls, cap * C), *res2 = LAYER(a->res2, ls, cap * C);
    const float *fch = LAYER(a->fch, ls, cap * FF), *fcu = LAYER(a->fcu, ls, cap * FF), *fchg = LAYER(a->fchg, ls, cap * FF);
    const size_t RF = (size_t)rows * FF;
    memset(a->dbuf4a, 0, RF * sizeof(float));
    linear_backward(a->dbuf4a, FF, LAYER(g[RMENS_T_FCPROJW], l, (size_t)C * FF), NULL, dres, C, fchg, FF,
                    LAYER(t[RMENS_T_FCPROJW], l, (size_t)C * FF), rows, FF, C);
    memset(a->dbuf4b, 0, RF * sizeof(float));
    memset(a->dbuf4c, 0, RF * sizeof(float));
    swiglu_backward(a->dbuf4b, a->dbuf4c, a->dbuf4a, fch, fcu, RF);
    memset(a->dbufC, 0, (size_t)rows * C * sizeof(float));
    linear_backward(a->dbufC, C, LAYER(g[RMENS_T_FCW], l, (size_t)FF * C), NULL, a->dbuf4b, FF, ln2, C,
                    LAYER(t[RMENS_T_FCW], l, (size_t)FF * C), rows, C, FF);
    linear_backward(a->dbufC, C, LAYER(g[RMENS_T_UPW], l, (size_t)FF * C), NULL, a->dbuf4c, FF, ln2, C,
                    LAYER(t[RMENS_T_UPW], l, (size_t)FF * C), rows, C, FF);
    rmsnorm_backward(dres, C, LAYER(g[RMENS_T_LN2W], l, C), a->dbufC, C, res2, C, LAYER(t[RMENS_T_LN2W], l, C),
                     LAYER(a->ln2_rstd, ls, cap), rows, C);
    memset(datty, 0, (size_t)rows * Q * sizeof(float));
    linear_backward(datty, Q, LAYER(g[RMENS_T_ATTPROJW], l, (size_t)C * Q), opt(g[RMENS_T_ATTPROJB], l, C), dres, C,
                    atty, Q, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * Q), rows, Q, C);
}

/* d(ln1) [n, C] += the k and v projections' input gradients from dqkv (k, v columns; k
 * possibly through the per-head norm into dkn [n, Q + KV] at column Q). */
static void kv_backward(rmens_model *m, const shape *s, int l, int n, float *dln1, const float *dqkv, const float *dkpre,
                        int lddk)
{
    const int C = s->C, Q = s->Q, KV = s->KV, QKV = s->QKV;
    const float *ln1 = LAYER(m->a.ln1, rmens_act_slot(m, l), (size_t)m->cap_rows * C);
    float **t = m->t, **g = m->g;
    linear_backward(dln1, C, LAYER(g[RMENS_T_KW], l, (size_t)KV * C), opt(g[RMENS_T_KB], l, KV), dkpre, lddk, ln1, C,
                    LAYER(t[RMENS_T_KW], l, (size_t)KV * C), n, C, KV);
    linear_backward(dln1, C, LAYER(g[RMENS_T_VW], l, (size_t)KV * C), opt(g[RMENS_T_VB], l, KV), dqkv + Q + KV, QKV,
                    ln1, C, LAYER(t[RMENS_T_VW], l, (size_t)KV * C), n, C, KV);
}

void rmens_llama_backward(rmens_model *m, const rmens_batch *b, const float *drewards)
{
    const shape s = shape_of(m);
    const int L = s.L, C = s.C, Q = s.Q, QKV = s.QKV, N = b->N, S = b->S, QK = Q + s.KV, NHK = s.NH + s.NKV;
    const size_t cap = (size_t)m->cap_rows, NC = (size_t)N * C;
    rmens_acts *a = &m->a;
    float **t = m->t, **g = m->g;

    /* score head and final RMSNorm at the S reward rows */
    memset(a->dlastC, 0, (size_t)S * C * sizeof(float));
    float *dlnf = a->dlastq;  /* free until the last layer's backward */
    rmens_head_backward(m, S, drewards, dlnf);
    rmsnorm_backward(a->dlastC, C, g[RMENS_T_LNFW], dlnf, C, a->lastx, C, t[RMENS_T_LNFW], a->lnf_rstd, S, C);

    memset(a->dres, 0, NC * sizeof(float));
    int l = L - 1;
    if (m->compact_last) {  /* its activations are the forward pass's last: never recomputed */
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        const float *qkv = LAYER(a->qkv, ls, cap * QKV), *qkvn = LAYER(a->qkvn, ls, cap * QK);
        const float *qkr = LAYER(a->qk_rstd, ls, cap * NHK);
        memcpy(a->dlastres, a->dlastC, (size_t)S * C * sizeof(float));
        float *datty = a->dlastC;  /* [S, Q] */
        tail_backward(m, &s, l, S, a->dlastres, datty, a->lastatty);
        memset(a->dlastq, 0, (size_t)S * Q * sizeof(float));
        memset(a->dbuf3C, 0, (size_t)N * QKV * sizeof(float));
        attention_last_backward(a->dlastq, a->dbuf3C, a->dscratch, datty, a->lastq, qkv, a->lastprobs, b->lq, S, s.NH,
                                s.NKV, s.HD);
        /* q at the reward rows: RoPE (and norm) back, then q_proj */
        for (int i = 0; i < S; i++) {
            const size_t r = (size_t)b->last[i] * s.half;
            qk_backward(&s, a->dlastq + (size_t)i * Q, Q, a->dqkvn + (size_t)i * Q, Q, a->lastqn + (size_t)i * Q, Q,
                        a->lastq_rstd + (size_t)i * s.NH, 0, opt(t[RMENS_T_QNORM], l, s.HD),
                        opt(g[RMENS_T_QNORM], l, s.HD), s.NH, a->rope_cos + r, a->rope_sin + r, 1);
        }
        memset(a->dlastln1, 0, (size_t)S * C * sizeof(float));
        linear_backward(a->dlastln1, C, LAYER(g[RMENS_T_QW], l, (size_t)Q * C), opt(g[RMENS_T_QB], l, Q),
                        s.qkn ? a->dqkvn : a->dlastq, Q, a->lastln1, C, LAYER(t[RMENS_T_QW], l, (size_t)Q * C), S, C, Q);
        /* k and v at every row */
        qk_backward(&s, a->dbuf3C + Q, QKV, a->dqkvn + Q, QK, qkvn + Q, QK, qkr, s.NH, opt(t[RMENS_T_KNORM], l, s.HD),
                    opt(g[RMENS_T_KNORM], l, s.HD), s.NKV, a->rope_cos, a->rope_sin, N);
        memset(a->dbufC, 0, NC * sizeof(float));
        kv_backward(m, &s, l, N, a->dbufC, a->dbuf3C, s.qkn ? a->dqkvn + Q : a->dbuf3C + Q, s.qkn ? QK : QKV);
        for (int i = 0; i < S; i++) {
            float *dl = a->dbufC + (size_t)b->last[i] * C, *dr = a->dres + (size_t)b->last[i] * C;
            const float *q = a->dlastln1 + (size_t)i * C, *r = a->dlastres + (size_t)i * C;
            for (int c = 0; c < C; c++) {
                dl[c] += q[c];
                dr[c] += r[c];
            }
        }
        rmsnorm_backward(a->dres, C, LAYER(g[RMENS_T_LN1W], l, C), a->dbufC, C, x, C, LAYER(t[RMENS_T_LN1W], l, C),
                         LAYER(a->ln1_rstd, ls, cap), N, C);
        l--;
    } else {
        rmens_rows_add(a->dres, a->dlastC, b->last, S, C);
    }
    for (; l >= 0; l--) {
        if (rmens_needs_recompute(m, l))
            layer_forward(m, b, l, 1);
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        const float *ln1 = LAYER(a->ln1, ls, cap * C), *qkv = LAYER(a->qkv, ls, cap * QKV);
        const float *qkvn = LAYER(a->qkvn, ls, cap * QK), *qkr = LAYER(a->qk_rstd, ls, cap * NHK);
        float *datty = a->dbufC;  /* [N, Q] */
        tail_backward(m, &s, l, N, a->dres, datty, LAYER(a->atty, ls, cap * Q));
        memset(a->dbuf3C, 0, (size_t)N * QKV * sizeof(float));
        attention_backward(a->dbuf3C, a->dscratch, datty, qkv, LAYER(a->probs, ls, m->cap_probs), b->segs, b->nsegs,
                           s.NH, s.NKV, s.HD);
        qk_backward(&s, a->dbuf3C, QKV, a->dqkvn, QK, qkvn, QK, qkr, 0, opt(t[RMENS_T_QNORM], l, s.HD),
                    opt(g[RMENS_T_QNORM], l, s.HD), s.NH, a->rope_cos, a->rope_sin, N);
        qk_backward(&s, a->dbuf3C + Q, QKV, a->dqkvn + Q, QK, qkvn + Q, QK, qkr, s.NH, opt(t[RMENS_T_KNORM], l, s.HD),
                    opt(g[RMENS_T_KNORM], l, s.HD), s.NKV, a->rope_cos, a->rope_sin, N);
        memset(a->dbufC, 0, NC * sizeof(float));
        linear_backward(a->dbufC, C, LAYER(g[RMENS_T_QW], l, (size_t)Q * C), opt(g[RMENS_T_QB], l, Q),
                        s.qkn ? a->dqkvn : a->dbuf3C, s.qkn ? QK : QKV, ln1, C, LAYER(t[RMENS_T_QW], l, (size_t)Q * C), N,
                        C, Q);
        kv_backward(m, &s, l, N, a->dbufC, a->dbuf3C, s.qkn ? a->dqkvn + Q : a->dbuf3C + Q, s.qkn ? QK : QKV);
        rmsnorm_backward(a->dres, C, LAYER(g[RMENS_T_LN1W], l, C), a->dbufC, C, x, C, LAYER(t[RMENS_T_LN1W], l, C),
                         LAYER(a->ln1_rstd, ls, cap), N, C);
    }
    embedding_backward(g[RMENS_T_WTE], a->dres, b->tokens, N, C);
}
