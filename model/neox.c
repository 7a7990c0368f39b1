/* GPT-NeoX (Hugging Face modeling_gpt_neox.py: Pythia): its descriptor and its passes.
 * LayerNorm (with bias, layer_norm_eps) before attention and MLP; a fused query_key_value
 * nn.Linear [3 C, C] whose output is per head [q | k | v] (head h's q at rows
 * h 3 HD .. h 3 HD + HD); RoPE (rotate-half) on the first int(HD rotary_pct) channels of
 * each q and k head; attention.dense; an MLP dense_h_to_4h, exact GELU, dense_4h_to_h
 * (biases always); the parallel residual x + attn(ln1(x)) + mlp(ln2(x)) or, with
 * use_parallel_residual false, x + attn(ln1(x)) then + mlp(ln2(.)); final_layer_norm.
 * embed_out (the LM head) is not part of a reward model and is ignored on load. */
#include <stddef.h>
#include <string.h>

#include "model/layers.h"
#include "model/model.h"

#define K(f) offsetof(rmens_model_config, f)
#define L_(x) "gpt_neox.layers.%d." x

static const rmens_tensor_desc tensors[] = {
    {RMENS_T_WTE, "gpt_neox.embed_in.weight", {RMENS_D_V, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_LN1W, L_("input_layernorm.weight"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LN1B, L_("input_layernorm.bias"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_LN2W, L_("post_attention_layernorm.weight"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LN2B, L_("post_attention_layernorm.bias"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_QKVW, L_("attention.query_key_value.weight"), {RMENS_D_3C, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_QKVB, L_("attention.query_key_value.bias"), {RMENS_D_3C}, RMENS_IF_QKV_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_ATTPROJW, L_("attention.dense.weight"), {RMENS_D_C, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_ATTPROJB, L_("attention.dense.bias"), {RMENS_D_C}, RMENS_IF_O_BIAS, 0, RMENS_INIT_ZERO},
    {RMENS_T_FCW, L_("mlp.dense_h_to_4h.weight"), {RMENS_D_I, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_FCB, L_("mlp.dense_h_to_4h.bias"), {RMENS_D_I}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_FCPROJW, L_("mlp.dense_4h_to_h.weight"), {RMENS_D_C, RMENS_D_I}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_FCPROJB, L_("mlp.dense_4h_to_h.bias"), {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_LNFW, "gpt_neox.final_layer_norm.weight", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LNFB, "gpt_neox.final_layer_norm.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_SCOREW, "score.weight", {RMENS_D_1, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
};

/* GPTNeoXConfig's keys and defaults; rotary_pct / rotary_emb_base are the old names of
 * partial_rotary_factor / rope_theta (the one present wins). */
static const rmens_config_key keys[] = {
    {"vocab_size", K(vocab_size), 'i', 1, 0, NULL},
    {"max_position_embeddings", K(n_ctx), 'i', 1, 0, NULL},
    {"num_hidden_layers", K(n_layer), 'i', 1, 0, NULL},
    {"num_attention_heads", K(n_head), 'i', 1, 0, NULL},
    {"hidden_size", K(n_embd), 'i', 1, 0, NULL},
    {"intermediate_size", K(n_inner), 'i', 1, 0, NULL},
    {"layer_norm_eps", K(norm_eps), 'f', 0, 1e-5, NULL},
    {"rotary_pct", K(partial_rotary), 'f', 0, 0.25, NULL},
    {"partial_rotary_factor", K(partial_rotary), 'f', 0, 0.25, NULL},
    {"rotary_emb_base", K(rope_theta), 'f', 0, 10000, NULL},
    {"rope_theta", K(rope_theta), 'f', 0, 10000, NULL},
    {"use_parallel_residual", K(parallel_residual), 'b', 0, 1, NULL},
    {"attention_bias", K(qkv_bias), 'b', 0, 1, NULL},
    {"attention_bias", K(o_bias), 'b', 0, 1, NULL},
    {"tie_word_embeddings", K(tie_embeddings), 'b', 0, 0, NULL},
    {"hidden_act", RMENS_NO_FIELD, 's', 0, 0, "gelu"},
    {"rope_scaling.type", RMENS_NO_FIELD, 's', 0, 0, "default"},
    {"rope_scaling.rope_type", RMENS_NO_FIELD, 's', 0, 0, "default"},
};

static const char *const ignored[] = {"embed_out.weight", ".attention.bias", ".attention.masked_bias",
                                      ".rotary_emb.inv_freq", NULL};

const rmens_arch rmens_arch_neox = {
    RMENS_ARCH_NEOX, RMENS_FAMILY_NEOX, "gpt_neox", "GPTNeoX", "gpt_neox.",
    tensors, sizeof tensors / sizeof *tensors, keys, sizeof keys / sizeof *keys, ignored,
};

/* ------------------------------------------------------------ passes */


/* Layer l of an optional tensor (NULL when the config has none). */
static float *opt(float *base, int l, size_t n) { return base ? base + (size_t)l * n : NULL; }

typedef struct {
    int L, C, C3, NH, HD, FF, rot, par;
    float eps, theta;
} shape;

static shape shape_of(const rmens_model *m)
{
    rmens_dims d;
    rmens_dims_of(&m->cfg, &d);
    return (shape){(int)d.L, (int)d.C, (int)(3 * d.C), (int)d.NH, (int)d.HD, (int)d.FF, (int)d.rot,
                   m->cfg.parallel_residual != 0, d.eps, d.theta};
}

/* Rows of query_key_value's output between its per-head layout [NH][3][HD] and the
 * attention kernels' [3][NH][HD] (q | k | v), in place through one row of scratch. */
static void split_heads(float *qkv, float *row, int N, int NH, int HD, int to_kernel)
{
    const size_t C3 = (size_t)3 * NH * HD, C = (size_t)NH * HD;
    for (int i = 0; i < N; i++) {
        float *r = qkv + (size_t)i * C3;
        memcpy(row, r, C3 * sizeof(float));
        for (int h = 0; h < NH; h++)
            for (int j = 0; j < 3; j++) {
                float *fused = (to_kernel ? row : r) + ((size_t)h * 3 + j) * HD;
                float *kern = (to_kernel ? r : row) + j * C + (size_t)h * HD;
                if (to_kernel)
                    memcpy(kern, fused, HD * sizeof(float));
                else
                    memcpy(fused, kern, HD * sizeof(float));
            }
    }
}

/* Layer l's forward (rmens_layer_forward_fn): the forward pass's and the recomputation's. */
static void layer_forward(rmens_model *m, const rmens_batch *b, int l, int again)
{
    const shape s = shape_of(m);
    const int L = s.L, C = s.C, C3 = s.C3, FF = s.FF, N = b->N, S = b->S;
    const size_t cap = (size_t)m->cap_rows;
    rmens_acts *a = &m->a;
    float **t = m->t;
    const int ls = rmens_act_slot(m, l);
    const float *x = rmens_layer_input(m, l);
    float *ln1 = LAYER(a->ln1, ls, cap * C), *qkv = LAYER(a->qkv, ls, cap * C3), *atty = LAYER(a->atty, ls, cap * C);
    float *res2 = LAYER(a->res2, ls, cap * C), *ln2 = LAYER(a->ln2, ls, cap * C);
    float *fch = LAYER(a->fch, ls, cap * FF), *fchg = LAYER(a->fchg, ls, cap * FF);
    float *res3 = LAYER(a->res3, rmens_res_slot(m, l), cap * C);
    layernorm_forward(ln1, LAYER(a->ln1_mean, ls, cap), LAYER(a->ln1_rstd, ls, cap), x, LAYER(t[RMENS_T_LN1W], l, C),
                      LAYER(t[RMENS_T_LN1B], l, C), N, C, s.eps);
    /* q, k, v at every row (in the reduced last layer too: the fused product has no
     * cheaper slice for k and v alone), q and k heads rotated together. */
    linear_forward(qkv, C3, ln1, C, LAYER(t[RMENS_T_QKVW], l, (size_t)C3 * C), opt(t[RMENS_T_QKVB], l, C3), N, C,
                   C3);
    split_heads(qkv, a->qkvrow, N, s.NH, s.HD, 1);
    rope_forward(qkv, C3, a->rope_cos, a->rope_sin, N, 2 * s.NH, s.HD, s.rot);
    int rows = N;
    const float *xin;
    if (l == L - 1 && m->compact_last) {
        /* attention, the rest of the layer and the head only where the reward is read */
        for (int i = 0; i < S; i++) {
            memcpy(a->lastq + (size_t)i * C, qkv + (size_t)b->last[i] * C3, C * sizeof(float));
            memcpy(a->lastx + (size_t)i * C, x + (size_t)b->last[i] * C, C * sizeof(float));
        }
        attention_last_forward(a->lastatty, a->lastprobs, a->lastq, qkv, b->lq, S, s.NH, s.NH, s.HD);
        atty = a->lastatty;
        xin = a->lastx;
        rows = S;
    } else {
        attention_forward(atty, LAYER(a->probs, ls, m->cap_probs), qkv, b->segs, b->nsegs, s.NH, s.NH, s.HD);
        xin = x;
    }
    const size_t RC = (size_t)rows * C;
    linear_forward(res2, C, atty, C, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * C), opt(t[RMENS_T_ATTPROJB], l, C),
                   rows, C, C);
    residual_forward(res2, res2, xin, RC);
    layernorm_forward(ln2, LAYER(a->ln2_mean, ls, cap), LAYER(a->ln2_rstd, ls, cap), s.par ? xin : res2,
                      LAYER(t[RMENS_T_LN2W], l, C), LAYER(t[RMENS_T_LN2B], l, C), rows, C, s.eps);
    linear_forward(fch, FF, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)FF * C), LAYER(t[RMENS_T_FCB], l, FF), rows, C,
                   FF);
    gelu_erf_forward(fchg, fch, (size_t)rows * FF);
    if (again)
        return;
    linear_forward(res3, C, fchg, FF, LAYER(t[RMENS_T_FCPROJW], l, (size_t)C * FF), LAYER(t[RMENS_T_FCPROJB], l, C),
                   rows, FF, C);
    residual_forward(res3, res3, res2, RC);
}

void rmens_neox_forward(rmens_model *m, const rmens_batch *b)
{
    const shape s = shape_of(m);
    const int C = s.C, S = b->S;
    rmens_acts *a = &m->a;
    float **t = m->t;
    rmens_rotary_layers_forward(m, b, layer_forward);
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->lastx, t[RMENS_T_LNFW], t[RMENS_T_LNFB], S, C, s.eps);
    rmens_head_forward(m, S);
}

/* ----------------------------------------------------------- backward */

/* datty [rows, C] = d(attention output) from dres through attention.dense. */
static void dense_backward(rmens_model *m, int l, int rows, const float *dres, float *datty, const float *atty)
{
    const int C = m->cfg.n_embd;
    memset(datty, 0, (size_t)rows * C * sizeof(float));
    linear_backward(datty, C, LAYER(m->g[RMENS_T_ATTPROJW], l, (size_t)C * C), opt(m->g[RMENS_T_ATTPROJB], l, C), dres, C,
                    atty, C, LAYER(m->t[RMENS_T_ATTPROJW], l, (size_t)C * C), rows, C, C);
}

/* Backward through the MLP and attention.dense of layer l over `rows` rows: dres holds
 * d(res3) on entry; on exit d(res2) (sequential) or d(x) without the attention path
 * (parallel: both branches read d(res3)). datty receives d(atty); ln2in is the input of
 * post_attention_layernorm (res2, or x when parallel), dln2 [rows, C] scratch. */
static void tail_backward(rmens_model *m, const shape *s, int l, int rows, float *dres, float *datty,
                          const float *atty, const float *ln2in, float *dln2)
{
    const int C = s->C, FF = s->FF;
    const size_t cap = (size_t)m->cap_rows, RF = (size_t)rows * FF;
    const int ls = rmens_act_slot(m, l);
    rmens_acts *a = &m->a;
    float **t = m->t, **g = m->g;
    memset(a->dbuf4a, 0, RF * sizeof(float));
    linear_backward(a->dbuf4a, FF, LAYER(g[RMENS_T_FCPROJW], l, (size_t)C * FF), LAYER(g[RMENS_T_FCPROJB], l, C), dres, C,
                    LAYER(a->fchg, ls, cap * FF), FF, LAYER(t[RMENS_T_FCPROJW], l, (size_t)C * FF), rows, FF, C);
    if (s->par)
        dense_backward(m, l, rows, dres, datty, atty);
    memset(a->dbuf4b, 0, RF * sizeof(float));
    gelu_erf_backward(a->dbuf4b, LAYER(a->fch, ls, cap * FF), a->dbuf4a, RF);
    memset(dln2, 0, (size_t)rows * C * sizeof(float));
    linear_backward(dln2, C, LAYER(g[RMENS_T_FCW], l, (size_t)FF * C), LAYER(g[RMENS_T_FCB], l, FF), a->dbuf4b, FF,
                    LAYER(a->ln2, ls, cap * C), C, LAYER(t[RMENS_T_FCW], l, (size_t)FF * C), rows, C, FF);
    layernorm_backward(dres, LAYER(g[RMENS_T_LN2W], l, C), LAYER(g[RMENS_T_LN2B], l, C), dln2, ln2in,
                       LAYER(t[RMENS_T_LN2W], l, C), LAYER(a->ln2_mean, ls, cap), LAYER(a->ln2_rstd, ls, cap), rows, C);
    if (!s->par)
        dense_backward(m, l, rows, dres, datty, atty);
}

/* From d(q | k | v after RoPE) in dbuf3C to d(ln1) in dbufC and the query_key_value
 * gradients. */
static void qkv_backward(rmens_model *m, const shape *s, int l, int N)
{
    const int C = s->C, C3 = s->C3;
    rmens_acts *a = &m->a;
    rope_backward(a->dbuf3C, C3, a->rope_cos, a->rope_sin, N, 2 * s->NH, s->HD, s->rot);
    split_heads(a->dbuf3C, a->qkvrow, N, s->NH, s->HD, 0);
    memset(a->dbufC, 0, (size_t)N * C * sizeof(float));
    linear_backward(a->dbufC, C, LAYER(m->g[RMENS_T_QKVW], l, (size_t)C3 * C), opt(m->g[RMENS_T_QKVB], l, C3), a->dbuf3C,
                    C3, LAYER(a->ln1, rmens_act_slot(m, l), (size_t)m->cap_rows * C), C, LAYER(m->t[RMENS_T_QKVW], l, (size_t)C3 * C), N, C,
                    C3);
}

void rmens_neox_backward(rmens_model *m, const rmens_batch *b, const float *drewards)
{
    const shape s = shape_of(m);
    const int L = s.L, C = s.C, C3 = s.C3, N = b->N, S = b->S;
    const size_t cap = (size_t)m->cap_rows, NC = (size_t)N * C;
    rmens_acts *a = &m->a;
    float **t = m->t, **g = m->g;

    /* score head and final LayerNorm at the S reward rows */
    memset(a->dlastC, 0, (size_t)S * C * sizeof(float));
    float *dlnf = a->dlastq;  /* free until the last layer's backward */
    rmens_head_backward(m, S, drewards, dlnf);
    layernorm_backward(a->dlastC, g[RMENS_T_LNFW], g[RMENS_T_LNFB], dlnf, a->lastx, t[RMENS_T_LNFW], a->lnf_mean,
                       a->lnf_rstd, S, C);

    memset(a->dres, 0, NC * sizeof(float));
    int l = L - 1;
    if (m->compact_last) {  /* its activations are the forward pass's last: never recomputed */
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        const float *qkv = LAYER(a->qkv, ls, cap * C3);
        memcpy(a->dlastres, a->dlastC, (size_t)S * C * sizeof(float));
        float *datty = a->dlastC;  /* [S, C] */
        if (s.par)  /* post_attention_layernorm read x at the reward rows */
            for (int i = 0; i < S; i++)
                memcpy(a->dlastln1 + (size_t)i * C, x + (size_t)b->last[i] * C, C * sizeof(float));
        tail_backward(m, &s, l, S, a->dlastres, datty, a->lastatty, s.par ? a->dlastln1 : LAYER(a->res2, ls, cap * C),
                      a->dlastq);
        memset(a->dlastq, 0, (size_t)S * C * sizeof(float));
        memset(a->dbuf3C, 0, (size_t)N * C3 * sizeof(float));
        attention_last_backward(a->dlastq, a->dbuf3C, a->dscratch, datty, a->lastq, qkv, a->lastprobs, b->lq, S, s.NH,
                                s.NH, s.HD);
        for (int i = 0; i < S; i++) {  /* d(q) at the reward rows, in the q columns */
            float *dq = a->dbuf3C + (size_t)b->last[i] * C3;
            const float *q = a->dlastq + (size_t)i * C;
            for (int c = 0; c < C; c++)
                dq[c] += q[c];
        }
        rmens_rows_add(a->dres, a->dlastres, b->last, S, C);
        qkv_backward(m, &s, l, N);
        layernorm_backward(a->dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), a->dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(a->ln1_mean, ls, cap), LAYER(a->ln1_rstd, ls, cap), N, C);
        l--;
    } else {
        rmens_rows_add(a->dres, a->dlastC, b->last, S, C);
    }
    for (; l >= 0; l--) {
        if (rmens_needs_recompute(m, l))
            layer_forward(m, b, l, 1);
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        float *datty = a->dbufC;  /* [N, C] */
        tail_backward(m, &s, l, N, a->dres, datty, LAYER(a->atty, ls, cap * C), s.par ? x : LAYER(a->res2, ls, cap * C),
                      a->dbuf3C);
        memset(a->dbuf3C, 0, (size_t)N * C3 * sizeof(float));
        attention_backward(a->dbuf3C, a->dscratch, datty, LAYER(a->qkv, ls, cap * C3), LAYER(a->probs, ls, m->cap_probs),
                           b->segs, b->nsegs, s.NH, s.NH, s.HD);
        qkv_backward(m, &s, l, N);
        layernorm_backward(a->dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), a->dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(a->ln1_mean, ls, cap), LAYER(a->ln1_rstd, ls, cap), N, C);
    }
    embedding_backward(g[RMENS_T_WTE], a->dres, b->tokens, N, C);
}
