/* GPT-2 (Hugging Face GPT2ForSequenceClassification): its descriptor and its passes.
 * LayerNorm before attention and MLP, learned positions, fused equal-width QKV in Conv1D
 * layout [in, out], tanh GELU, final LayerNorm. */
#include <stddef.h>
#include <string.h>

#include "model/layers.h"
#include "model/model.h"

#define K(f) offsetof(rmens_model_config, f)
#define GPT2_LN_EPS 1e-5f /* GPT2Config's layer_norm_epsilon */

static const rmens_tensor_desc tensors[] = {
    {RMENS_T_WTE, "transformer.wte.weight", {RMENS_D_V, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_WPE, "transformer.wpe.weight", {RMENS_D_T, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_LN1W, "transformer.h.%d.ln_1.weight", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LN1B, "transformer.h.%d.ln_1.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_QKVW, "transformer.h.%d.attn.c_attn.weight", {RMENS_D_C, RMENS_D_3C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_QKVB, "transformer.h.%d.attn.c_attn.bias", {RMENS_D_3C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_ATTPROJW, "transformer.h.%d.attn.c_proj.weight", {RMENS_D_C, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_RESID},
    {RMENS_T_ATTPROJB, "transformer.h.%d.attn.c_proj.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_LN2W, "transformer.h.%d.ln_2.weight", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LN2B, "transformer.h.%d.ln_2.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_FCW, "transformer.h.%d.mlp.c_fc.weight", {RMENS_D_C, RMENS_D_I}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
    {RMENS_T_FCB, "transformer.h.%d.mlp.c_fc.bias", {RMENS_D_I}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_FCPROJW, "transformer.h.%d.mlp.c_proj.weight", {RMENS_D_I, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_RESID},
    {RMENS_T_FCPROJB, "transformer.h.%d.mlp.c_proj.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_LNFW, "transformer.ln_f.weight", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ONE},
    {RMENS_T_LNFB, "transformer.ln_f.bias", {RMENS_D_C}, RMENS_IF_ALWAYS, 0, RMENS_INIT_ZERO},
    {RMENS_T_SCOREW, "score.weight", {RMENS_D_1, RMENS_D_C}, RMENS_IF_ALWAYS, 1, RMENS_INIT_NORMAL},
};

/* Only the five fields GPT-2 models have always had: what else a GPT-2 config.json may
 * say is either what rmens computes or refused by name. */
static const rmens_config_key keys[] = {
    {"vocab_size", K(vocab_size), 'i', 1, 0, NULL},
    {"n_positions", K(n_ctx), 'i', 1, 0, NULL},
    {"n_layer", K(n_layer), 'i', 1, 0, NULL},
    {"n_head", K(n_head), 'i', 1, 0, NULL},
    {"n_embd", K(n_embd), 'i', 1, 0, NULL},
    {"activation_function", RMENS_NO_FIELD, 's', 0, 0, "gelu_new|gelu_pytorch_tanh|gelu_fast"},
    {"n_inner", RMENS_NO_FIELD, 'z', 0, 0, "an MLP width other than 4 n_embd"},
    {"scale_attn_by_inverse_layer_idx", RMENS_NO_FIELD, 'z', 0, 0, "scale_attn_by_inverse_layer_idx"},
    {"reorder_and_upcast_attn", RMENS_NO_FIELD, 'z', 0, 0, "reorder_and_upcast_attn"},
};

static const char *const ignored[] = {"lm_head.weight", ".attn.bias", ".attn.masked_bias", NULL};

const rmens_arch rmens_arch_gpt2 = {
    RMENS_ARCH_GPT2, RMENS_FAMILY_GPT2, "gpt2", "GPT2", "transformer.",
    tensors, sizeof tensors / sizeof *tensors, keys, sizeof keys / sizeof *keys, ignored,
};


/* Layer l's forward (rmens_layer_forward_fn): the forward pass's and the recomputation's. */
static void layer_forward(rmens_model *m, const rmens_batch *b, int l, int again)
{
    const int L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, N = b->N, S = b->S;
    const int cap = m->cap_rows;
    const size_t NC = (size_t)cap * C;  /* per-layer stride of the activation buffers */
    float **t = m->t;
    const int ls = rmens_act_slot(m, l);
    const float *x = rmens_layer_input(m, l);
    float *ln1 = LAYER(m->a.ln1, ls, NC), *qkv = LAYER(m->a.qkv, ls, 3 * NC), *atty = LAYER(m->a.atty, ls, NC);
    float *res2 = LAYER(m->a.res2, ls, NC), *ln2 = LAYER(m->a.ln2, ls, NC), *fch = LAYER(m->a.fch, ls, 4 * NC);
    float *fchg = LAYER(m->a.fchg, ls, 4 * NC), *res3 = LAYER(m->a.res3, rmens_res_slot(m, l), NC);
    const float *qkvw = LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C), *qkvb = LAYER(t[RMENS_T_QKVB], l, 3 * C);
    layernorm_forward(ln1, LAYER(m->a.ln1_mean, ls, cap), LAYER(m->a.ln1_rstd, ls, cap), x, LAYER(t[RMENS_T_LN1W], l, C),
                      LAYER(t[RMENS_T_LN1B], l, C), N, C, GPT2_LN_EPS);
    int rows = N;
    const float *xin;  /* the residual entering the attention block, row for row with atty */
    if (l == L - 1 && m->compact_last) {
        /* Keys and values at every row, the query only where the reward is read. */
        matmul_forward(qkv + C, 3 * C, ln1, C, qkvw + C, 3 * C, qkvb + C, N, C, 2 * C);
        for (int s = 0; s < S; s++)
            memcpy(m->a.lastln1 + (size_t)s * C, ln1 + (size_t)b->last[s] * C, C * sizeof(float));
        matmul_forward(m->a.lastq, C, m->a.lastln1, C, qkvw, 3 * C, qkvb, S, C, C);
        attention_last_forward(m->a.lastatty, m->a.lastprobs, m->a.lastq, qkv, b->lq, S, NH, NH, C / NH);
        for (int s = 0; s < S; s++)
            memcpy(m->a.lastx + (size_t)s * C, x + (size_t)b->last[s] * C, C * sizeof(float));
        atty = m->a.lastatty;
        xin = m->a.lastx;
        rows = S;
    } else {
        matmul_forward(qkv, 3 * C, ln1, C, qkvw, 3 * C, qkvb, N, C, 3 * C);
        attention_forward(atty, LAYER(m->a.probs, ls, m->cap_probs), qkv, b->segs, b->nsegs, NH, NH, C / NH);
        xin = x;
    }
    const size_t RC = (size_t)rows * C;
    matmul_forward(res2, C, atty, C, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * C), C,
                   LAYER(t[RMENS_T_ATTPROJB], l, C), rows, C, C);
    residual_forward(res2, res2, xin, RC);
    layernorm_forward(ln2, LAYER(m->a.ln2_mean, ls, cap), LAYER(m->a.ln2_rstd, ls, cap), res2, LAYER(t[RMENS_T_LN2W], l, C),
                      LAYER(t[RMENS_T_LN2B], l, C), rows, C, GPT2_LN_EPS);
    matmul_forward(fch, 4 * C, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C,
                   LAYER(t[RMENS_T_FCB], l, 4 * C), rows, C, 4 * C);
    gelu_forward(fchg, fch, 4 * RC);
    if (again)
        return;
    matmul_forward(res3, C, fchg, 4 * C, LAYER(t[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C,
                   LAYER(t[RMENS_T_FCPROJB], l, C), rows, 4 * C, C);
    residual_forward(res3, res3, res2, RC);
}

void rmens_gpt2_forward(rmens_model *m, const rmens_batch *b)
{
    const int C = m->cfg.n_embd, S = b->S;
    float **t = m->t;
    encoder_forward(m->a.encoded, b->tokens, b->pos, t[RMENS_T_WTE], t[RMENS_T_WPE], b->N, C);
    rmens_layers_forward(m, b, layer_forward);
    /* Final LayerNorm and the score head, only at each sequence's last token. */
    layernorm_forward(m->a.lnf, m->a.lnf_mean, m->a.lnf_rstd, m->a.lastx, t[RMENS_T_LNFW], t[RMENS_T_LNFB], S, C,
                      GPT2_LN_EPS);
    rmens_head_forward(m, S);
}

/* ----------------------------------------------------------- backward */

/* Backward through the MLP and attention projection of layer l over `rows` rows:
 * dres holds d(res3) on entry and d(res2) on exit; dout_att receives d(atty). */
static void block_tail_backward(rmens_model *m, int l, int rows, float *dres, float *dout_att, const float *atty)
{
    const int C = m->cfg.n_embd;
    const size_t RC = (size_t)rows * C;
    float **t = m->t, **g = m->g;
    const size_t nc = (size_t)m->cap_rows * C;
    const int ls = rmens_act_slot(m, l);
    float *ln2 = LAYER(m->a.ln2, ls, nc), *fch = LAYER(m->a.fch, ls, 4 * nc), *fchg = LAYER(m->a.fchg, ls, 4 * nc);
    float *res2 = LAYER(m->a.res2, ls, nc);
    memset(m->a.dbuf4a, 0, 4 * RC * sizeof(float));
    matmul_backward(m->a.dbuf4a, 4 * C, LAYER(g[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C, LAYER(g[RMENS_T_FCPROJB], l, C),
                    dres, C, fchg, 4 * C, LAYER(t[RMENS_T_FCPROJW], l, (size_t)4 * C * C), C, rows, 4 * C, C);
    memset(m->a.dbuf4b, 0, 4 * RC * sizeof(float));
    gelu_backward(m->a.dbuf4b, fch, m->a.dbuf4a, 4 * RC);
    memset(m->a.dbufC, 0, RC * sizeof(float));
    matmul_backward(m->a.dbufC, C, LAYER(g[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C, LAYER(g[RMENS_T_FCB], l, 4 * C),
                    m->a.dbuf4b, 4 * C, ln2, C, LAYER(t[RMENS_T_FCW], l, (size_t)4 * C * C), 4 * C, rows, C, 4 * C);
    layernorm_backward(dres, LAYER(g[RMENS_T_LN2W], l, C), LAYER(g[RMENS_T_LN2B], l, C), m->a.dbufC, res2,
                       LAYER(t[RMENS_T_LN2W], l, C), LAYER(m->a.ln2_mean, ls, m->cap_rows),
                       LAYER(m->a.ln2_rstd, ls, m->cap_rows), rows, C);
    memset(dout_att, 0, RC * sizeof(float));
    matmul_backward(dout_att, C, LAYER(g[RMENS_T_ATTPROJW], l, (size_t)C * C), C, LAYER(g[RMENS_T_ATTPROJB], l, C),
                    dres, C, atty, C, LAYER(t[RMENS_T_ATTPROJW], l, (size_t)C * C), C, rows, C, C);
}

void rmens_gpt2_backward(rmens_model *m, const rmens_batch *b, const float *drewards)
{
    const int L = m->cfg.n_layer, C = m->cfg.n_embd, NH = m->cfg.n_head, N = b->N, S = b->S;
    const size_t nc = (size_t)m->cap_rows * C, NC = (size_t)N * C;
    float **t = m->t, **g = m->g;

    /* score head and final LayerNorm at the S reward rows */
    memset(m->a.dlastC, 0, (size_t)S * C * sizeof(float));
    float *dlnf = m->a.dlastq;  /* free until the last layer's backward */
    rmens_head_backward(m, S, drewards, dlnf);
    layernorm_backward(m->a.dlastC, g[RMENS_T_LNFW], g[RMENS_T_LNFB], dlnf, m->a.lastx, t[RMENS_T_LNFW],
                       m->a.lnf_mean, m->a.lnf_rstd, S, C);

    memset(m->a.dres, 0, NC * sizeof(float));
    int l = L - 1;
    if (m->compact_last) {  /* its activations are the forward pass's last: never recomputed */
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        const float *ln1 = LAYER(m->a.ln1, ls, nc), *qkv = LAYER(m->a.qkv, ls, 3 * nc);
        const float *qkvw = LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C);
        float *dqkvw = LAYER(g[RMENS_T_QKVW], l, (size_t)3 * C * C), *dqkvb = LAYER(g[RMENS_T_QKVB], l, 3 * C);
        float *dlastres = m->a.dlastres;
        memcpy(dlastres, m->a.dlastC, (size_t)S * C * sizeof(float));
        block_tail_backward(m, l, S, dlastres, m->a.dlastC, m->a.lastatty);
        /* attention with one query per sequence */
        memset(m->a.dlastq, 0, (size_t)S * C * sizeof(float));
        memset(m->a.dbuf3C, 0, 3 * NC * sizeof(float));
        attention_last_backward(m->a.dlastq, m->a.dbuf3C, m->a.dscratch, m->a.dlastC, m->a.lastq, qkv, m->a.lastprobs, b->lq, S,
                                NH, NH, C / NH);
        memset(m->a.dbufC, 0, NC * sizeof(float));
        matmul_backward(m->a.dbufC, C, dqkvw + C, 3 * C, dqkvb + C, m->a.dbuf3C + C, 3 * C, ln1, C, qkvw + C, 3 * C, N, C,
                        2 * C);
        memset(m->a.dlastln1, 0, (size_t)S * C * sizeof(float));
        matmul_backward(m->a.dlastln1, C, dqkvw, 3 * C, dqkvb, m->a.dlastq, C, m->a.lastln1, C, qkvw, 3 * C, S, C, C);
        for (int s = 0; s < S; s++) {
            float *dl = m->a.dbufC + (size_t)b->last[s] * C, *dr = m->a.dres + (size_t)b->last[s] * C;
            const float *a = m->a.dlastln1 + (size_t)s * C, *r = dlastres + (size_t)s * C;
            for (int c = 0; c < C; c++) {
                dl[c] += a[c];
                dr[c] += r[c];
            }
        }
        layernorm_backward(m->a.dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), m->a.dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(m->a.ln1_mean, ls, m->cap_rows),
                           LAYER(m->a.ln1_rstd, ls, m->cap_rows), N, C);
        l--;
    } else {
        rmens_rows_add(m->a.dres, m->a.dlastC, b->last, S, C);
    }
    for (; l >= 0; l--) {
        if (rmens_needs_recompute(m, l))
            layer_forward(m, b, l, 1);
        const int ls = rmens_act_slot(m, l);
        const float *x = rmens_layer_input(m, l);
        const float *ln1 = LAYER(m->a.ln1, ls, nc), *qkv = LAYER(m->a.qkv, ls, 3 * nc), *atty = LAYER(m->a.atty, ls, nc);
        float *datty = m->a.dbufC;
        block_tail_backward(m, l, N, m->a.dres, datty, atty);
        memset(m->a.dbuf3C, 0, 3 * NC * sizeof(float));
        attention_backward(m->a.dbuf3C, m->a.dscratch, datty, qkv, LAYER(m->a.probs, ls, m->cap_probs), b->segs, b->nsegs,
                           NH, NH, C / NH);
        memset(m->a.dbufC, 0, NC * sizeof(float));
        matmul_backward(m->a.dbufC, C, LAYER(g[RMENS_T_QKVW], l, (size_t)3 * C * C), 3 * C,
                        LAYER(g[RMENS_T_QKVB], l, 3 * C), m->a.dbuf3C, 3 * C, ln1, C,
                        LAYER(t[RMENS_T_QKVW], l, (size_t)3 * C * C), 3 * C, N, C, 3 * C);
        layernorm_backward(m->a.dres, LAYER(g[RMENS_T_LN1W], l, C), LAYER(g[RMENS_T_LN1B], l, C), m->a.dbufC, x,
                           LAYER(t[RMENS_T_LN1W], l, C), LAYER(m->a.ln1_mean, ls, m->cap_rows),
                           LAYER(m->a.ln1_rstd, ls, m->cap_rows), N, C);
    }
    encoder_backward(g[RMENS_T_WTE], g[RMENS_T_WPE], m->a.dres, b->tokens, b->pos, N, C);
}

