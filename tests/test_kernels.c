/* The Llama family's kernels (model/layers.h) against finite differences, and RoPE
 * against hand-worked rotations. Each kernel's loss is sum(w * out) for fixed random w,
 * so its backward with dout = w must give the loss's gradient: central differences of
 * that loss (summed in double) at sampled coordinates, |analytic - fd| <= 2e-3 +
 * 2e-2 |fd| with h = 1e-2 (float32 forward passes). */
#include <math.h>

#include "base/rng.h"
#include "model/arch.h"
#include "model/layers.h"
#include "tests/check_util.h"

static void fill(float *x, size_t n, float scale, uint64_t seed)
{
    rmens_rng g;
    rmens_rng_init(&g, seed, 7);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)(2 * rmens_rng_unit(&g) - 1);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Checks analytic[i] against the central difference of f at up to 40 coordinates of x. */
static int fd_check(const char *what, float *x, size_t n, const float *analytic, loss_fn f, void *ctx)
{
    const float h = 1e-2f;
    int checked = 0;
    for (size_t k = 0; k < 40 && k < n; k++) {
        size_t i = n <= 40 ? k : (k * 7919) % n;
        float keep = x[i];
        x[i] = keep + h;
        double up = f(ctx);
        x[i] = keep - h;
        double dn = f(ctx);
        x[i] = keep;
        double fd = (up - dn) / (2.0 * (double)h);
        ck_assert_msg(fabs(analytic[i] - fd) <= 2e-3 + 2e-2 * fabs(fd), "%s[%zu]: analytic %.7g, finite difference %.7g",
                      what, i, (double)analytic[i], fd);
        checked++;
    }
    return checked;
}

/* ------------------------------------------------------------ RMSNorm */

enum { RN = 5, RC = 24, RLD = 30 };
typedef struct {
    float x[RN * RLD], w[RC], out[RN * RLD], rstd[RN], dout[RN * RLD];
} rms_ctx;

static double rms_loss(void *p)
{
    rms_ctx *c = p;
    memset(c->out, 0, sizeof c->out);
    rmsnorm_forward(c->out, RLD, c->rstd, c->x, RLD, c->w, RN, RC, 1e-5f);
    return dot(c->out, c->dout, RN * RLD);
}

START_TEST(rmsnorm_gradients)
{
    static rms_ctx c;
    fill(c.x, RN * RLD, 2.0f, 1);
    fill(c.w, RC, 1.0f, 2);
    fill(c.dout, RN * RLD, 1.0f, 3);
    for (int i = 0; i < RN; i++)  /* the stride's gap carries no loss */
        memset(c.dout + i * RLD + RC, 0, (RLD - RC) * sizeof(float));
    rms_loss(&c);
    /* the forward by hand, one row */
    double ss = 0;
    for (int k = 0; k < RC; k++)
        ss += (double)c.x[RLD + k] * c.x[RLD + k];
    double r = 1.0 / sqrt(ss / RC + 1e-5);
    for (int k = 0; k < RC; k++)
        ck_assert_double_eq_tol(c.out[RLD + k], c.x[RLD + k] * r * c.w[k], 1e-5);
    static float dx[RN * RLD], dw[RC];
    rmsnorm_backward(dx, RLD, dw, c.dout, RLD, c.x, RLD, c.w, c.rstd, RN, RC);
    fd_check("rmsnorm dinp", c.x, RN * RLD, dx, rms_loss, &c);
    fd_check("rmsnorm dweight", c.w, RC, dw, rms_loss, &c);
}
END_TEST

/* ----------------------------------------------------------------- RoPE */

enum { PN = 4, PH = 3, PD = 8, PLD = 28 };
typedef struct {
    float x[PN * PLD], y[PN * PLD], cs[PN * PD], sn[PN * PD], dout[PN * PLD];
    int rot;
} rope_ctx;

static double rope_loss(void *p)
{
    rope_ctx *c = p;
    memcpy(c->y, c->x, sizeof c->x);
    rope_forward(c->y, PLD, c->cs, c->sn, PN, PH, PD, c->rot);
    return dot(c->y, c->dout, PN * PLD);
}

START_TEST(rope_rotations)
{
    /* rotate-half: channel i pairs with i + rot/2; at position p and frequency
     * theta^(-2i/rot), (a, b) -> (a cos - b sin, b cos + a sin); channels past rot pass. */
    const rmens_model_config cfg = {0};
    int32_t pos[PN] = {0, 1, 5, 17};
    static rope_ctx c;
    for (int rot = 4; rot <= PD; rot += 4) {
        c.rot = rot;
        rope_tables(c.cs, c.sn, pos, PN, rot, 100.0f, &cfg);
        fill(c.x, PN * PLD, 1.0f, 4);
        memcpy(c.y, c.x, sizeof c.x);
        rope_forward(c.y, PLD, c.cs, c.sn, PN, PH, PD, rot);
        for (int r = 0; r < PN; r++)
            for (int h = 0; h < PH; h++)
                for (int i = 0; i < PD; i++) {
                    const float *a = c.x + r * PLD + h * PD;
                    double want = a[i];
                    if (i < rot) {
                        int half = rot / 2, j = i % half;
                        double ang = pos[r] * pow(100.0, -2.0 * j / rot), cs = cos(ang), sn = sin(ang);
                        want = i < half ? a[i] * cs - a[i + half] * sn : a[i] * cs + a[i - half] * sn;
                    }
                    ck_assert_msg(fabs(c.y[r * PLD + h * PD + i] - want) <= 2e-5, "rope rot %d row %d head %d ch %d: %g, "
                                  "want %g", rot, r, h, i, (double)c.y[r * PLD + h * PD + i], want);
                }
        /* the backward is the transpose: gradient of sum(dout * y) */
        fill(c.dout, PN * PLD, 1.0f, 5);
        static float dx[PN * PLD];
        memcpy(dx, c.dout, sizeof dx);
        rope_backward(dx, PLD, c.cs, c.sn, PN, PH, PD, rot);
        for (int r = 0; r < PN; r++)  /* beyond the heads the kernel leaves rows as they are */
            for (int k = PH * PD; k < PLD; k++)
                dx[r * PLD + k] = c.dout[r * PLD + k];
        fd_check("rope dx", c.x, PN * PLD, dx, rope_loss, &c);
    }
}
END_TEST

START_TEST(rope_llama3_frequencies)
{
    /* transformers' _compute_llama3_parameters for dim 16, theta 10000, factor 8,
     * low 1, high 4, original context 64: wavelengths 2 pi theta^(i/8) are 6.28 (kept),
     * 19.9 and 62.8 (between 16 and 64: smoothed), and longer (divided by 8). */
    rmens_model_config cfg = {.rope_type = 1, .rope_factor = 8, .rope_low_freq = 1, .rope_high_freq = 4,
                              .rope_original_ctx = 64};
    int32_t pos[1] = {1};
    float cs[8], sn[8];
    rope_tables(cs, sn, pos, 1, 16, 10000.0f, &cfg);
    for (int i = 0; i < 8; i++) {
        double f = pow(10000.0, -2.0 * i / 16), wave = 2 * M_PI / f;
        if (wave > 64)
            f /= 8;
        else if (wave >= 16) {
            double s = (64 / wave - 1) / (4 - 1);
            f = (1 - s) * f / 8 + s * f;
        }
        ck_assert_double_eq_tol(atan2(sn[i], cs[i]), f, 1e-6);
    }
}
END_TEST

/* --------------------------------------------------------------- SwiGLU */

enum { SN = 64 };
typedef struct {
    float g[SN], u[SN], out[SN], dout[SN];
} swiglu_ctx;

static double swiglu_loss(void *p)
{
    swiglu_ctx *c = p;
    swiglu_forward(c->out, c->g, c->u, SN);
    return dot(c->out, c->dout, SN);
}

START_TEST(swiglu_gradients)
{
    static swiglu_ctx c;
    fill(c.g, SN, 6.0f, 6);
    fill(c.u, SN, 2.0f, 7);
    fill(c.dout, SN, 1.0f, 8);
    swiglu_loss(&c);
    for (int i = 0; i < SN; i++)  /* silu(g) u = g u / (1 + exp(-g)) */
        ck_assert_double_eq_tol(c.out[i], c.g[i] * c.u[i] / (1 + exp(-c.g[i])), 1e-5 * (1 + fabs(c.out[i])));
    static float dg[SN], du[SN];
    swiglu_backward(dg, du, c.dout, c.g, c.u, SN);
    fd_check("swiglu dgate", c.g, SN, dg, swiglu_loss, &c);
    fd_check("swiglu dup", c.u, SN, du, swiglu_loss, &c);
}
END_TEST

/* ------------------------------------------------------- nn.Linear layout */

enum { LN_ = 6, LC = 10, LO = 7 };
typedef struct {
    float x[LN_ * LC], w[LO * LC], b[LO], out[LN_ * LO], dout[LN_ * LO];
} linear_ctx;

static double linear_loss(void *p)
{
    linear_ctx *c = p;
    linear_forward(c->out, LO, c->x, LC, c->w, c->b, LN_, LC, LO);
    return dot(c->out, c->dout, LN_ * LO);
}

START_TEST(linear_gradients)
{
    static linear_ctx c;
    fill(c.x, LN_ * LC, 1.0f, 9);
    fill(c.w, LO * LC, 1.0f, 10);
    fill(c.b, LO, 1.0f, 11);
    fill(c.dout, LN_ * LO, 1.0f, 12);
    linear_loss(&c);
    for (int i = 0; i < LN_; i++)  /* y = x W^T + b with W [out, in] */
        for (int o = 0; o < LO; o++)
            ck_assert_double_eq_tol(c.out[i * LO + o], dot(c.x + i * LC, c.w + o * LC, LC) + c.b[o], 1e-5);
    static float dx[LN_ * LC], dw[LO * LC], db[LO];
    linear_backward(dx, LC, dw, db, c.dout, LO, c.x, LC, c.w, LN_, LC, LO);
    fd_check("linear dinp", c.x, LN_ * LC, dx, linear_loss, &c);
    fd_check("linear dweight", c.w, LO * LC, dw, linear_loss, &c);
    fd_check("linear dbias", c.b, LO, db, linear_loss, &c);
}
END_TEST

/* -------------------------------------------- grouped-query attention */

enum { AH = 4, AKV = 2, AD = 3, AQ = AH * AD, ALD = AQ + 2 * AKV * AD, AN = 9 };
typedef struct {
    float qkv[AN * ALD], out[AN * AQ], probs[AH * AN * AN], dout[AN * AQ];
    float lout[2 * AQ], lprobs[2 * AH * AN], lq[2 * AQ], ldout[2 * AQ];
    rmens_segment segs[2];
    rmens_lastq last[2];
} att_ctx;

static double att_loss(void *p)
{
    att_ctx *c = p;
    attention_forward(c->out, c->probs, c->qkv, c->segs, 2, AH, AKV, AD);
    return dot(c->out, c->dout, AN * AQ);
}

static double att_last_loss(void *p)
{
    att_ctx *c = p;
    attention_last_forward(c->lout, c->lprobs, c->lq, c->qkv, c->last, 2, AH, AKV, AD);
    return dot(c->lout, c->ldout, 2 * AQ);
}

START_TEST(gqa_attention_gradients)
{
    static att_ctx c;
    /* a prompt of 4 rows, then 5 rows seeing it whole and themselves causally */
    c.segs[0] = (rmens_segment){.q0 = 0, .nq = 4, .a0 = 0, .na = 0, .probs = 0};
    c.segs[1] = (rmens_segment){.q0 = 4, .nq = 5, .a0 = 0, .na = 4, .probs = (size_t)AH * 4 * 4};
    c.last[0] = (rmens_lastq){.a0 = 0, .na = 0, .b0 = 0, .nb = 4, .probs = 0};
    c.last[1] = (rmens_lastq){.a0 = 0, .na = 4, .b0 = 4, .nb = 5, .probs = (size_t)AH * 4};
    fill(c.qkv, AN * ALD, 1.5f, 13);
    fill(c.dout, AN * AQ, 1.0f, 14);
    fill(c.lq, 2 * AQ, 1.5f, 15);
    fill(c.ldout, 2 * AQ, 1.0f, 16);
    att_loss(&c);
    /* row 6, head 3 by hand: it reads key/value head 3 / (4 / 2) = 1 of rows 0..6 */
    {
        double s[AN], mx = -1e30, z = 0;
        const int r = 6, h = 3, kh = AQ + (h / 2) * AD;
        for (int j = 0; j <= r; j++) {
            s[j] = 0;
            for (int d = 0; d < AD; d++)
                s[j] += (double)c.qkv[r * ALD + h * AD + d] * c.qkv[j * ALD + kh + d];
            s[j] /= sqrt(AD);
            mx = fmax(mx, s[j]);
        }
        for (int j = 0; j <= r; j++)
            z += exp(s[j] - mx);
        for (int d = 0; d < AD; d++) {
            double o = 0;
            for (int j = 0; j <= r; j++)
                o += exp(s[j] - mx) / z * c.qkv[j * ALD + kh + AKV * AD + d];
            ck_assert_double_eq_tol(c.out[r * AQ + h * AD + d], o, 1e-5);
        }
    }
    static float dqkv[AN * ALD], scratch[64 * 2 * AN];
    attention_backward(dqkv, scratch, c.dout, c.qkv, c.probs, c.segs, 2, AH, AKV, AD);
    fd_check("attention dqkv", c.qkv, AN * ALD, dqkv, att_loss, &c);

    att_last_loss(&c);
    static float dq[2 * AQ], dkv[AN * ALD];
    attention_last_backward(dq, dkv, scratch, c.ldout, c.lq, c.qkv, c.lprobs, c.last, 2, AH, AKV, AD);
    fd_check("last-query attention dq", c.lq, 2 * AQ, dq, att_last_loss, &c);
    fd_check("last-query attention dkv", c.qkv, AN * ALD, dkv, att_last_loss, &c);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("llama");
    tcase_add_test(tc, rmsnorm_gradients);
    tcase_add_test(tc, rope_rotations);
    tcase_add_test(tc, rope_llama3_frequencies);
    tcase_add_test(tc, swiglu_gradients);
    tcase_add_test(tc, linear_gradients);
    tcase_add_test(tc, gqa_attention_gradients);
    suite_add_tcase(s, tc);
    return s;
}
