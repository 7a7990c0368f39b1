/* The reward model against an independent double-precision reference written here
 * (naive loops, one sequence at a time, full causal attention, no sharing): rewards,
 * central finite differences of the Bradley-Terry loss for every tensor, the four
 * computation paths (prompt sharing x compact last layer), model files, AdamW. */
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "tests/check_util.h"
#include "base/rng.h"
#include "model/adamw.h"
#include "ensemble/ensemble.h"
#include "ensemble/prm.h"
#include "io/dataset.h"
#include "io/h5.h"
#include "io/modelfile.h"

static const rmens_model_config CFG = {.vocab_size = 257, .n_ctx = 12, .n_layer = 2, .n_head = 2, .n_embd = 8};

/* --------------------------------------------------- the double reference */

typedef struct {
    const rmens_model_config *c;
    double *p[RMENS_NTENSORS];
} ref_params;

static void ref_layernorm(double *o, const double *x, const double *w, const double *b, int C)
{
    double m = 0, v = 0;
    for (int i = 0; i < C; i++)
        m += x[i];
    m /= C;
    for (int i = 0; i < C; i++)
        v += (x[i] - m) * (x[i] - m);
    v /= C;
    for (int i = 0; i < C; i++)
        o[i] = (x[i] - m) / sqrt(v + 1e-5) * w[i] + b[i];
}

/* y[n, OC] = x[n, IC] W[IC, OC] + b */
static void ref_linear(double *y, const double *x, const double *W, const double *b, int n, int IC, int OC)
{
    for (int r = 0; r < n; r++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < IC; i++)
                s += x[r * IC + i] * W[i * OC + o];
            y[r * OC + o] = s;
        }
}

/* Reward of one (already truncated) sequence. */
static double ref_reward(const ref_params *P, const int32_t *tok, int n)
{
    const int C = P->c->n_embd, NH = P->c->n_head, hs = C / NH, L = P->c->n_layer;
    double *x = calloc((size_t)n * C, 8), *h = calloc((size_t)n * C, 8), *qkv = calloc((size_t)n * 3 * C, 8);
    double *a = calloc((size_t)n * C, 8), *t = calloc((size_t)n * C, 8), *f = calloc((size_t)n * 4 * C, 8);
    for (int r = 0; r < n; r++)
        for (int i = 0; i < C; i++)
            x[r * C + i] = P->p[RMENS_T_WTE][tok[r] * C + i] + P->p[RMENS_T_WPE][r * C + i];
    for (int l = 0; l < L; l++) {
        const double *ln1w = P->p[RMENS_T_LN1W] + l * C, *ln1b = P->p[RMENS_T_LN1B] + l * C;
        for (int r = 0; r < n; r++)
            ref_layernorm(h + r * C, x + r * C, ln1w, ln1b, C);
        ref_linear(qkv, h, P->p[RMENS_T_QKVW] + (size_t)l * C * 3 * C, P->p[RMENS_T_QKVB] + l * 3 * C, n, C, 3 * C);
        for (int hd = 0; hd < NH; hd++)
            for (int i = 0; i < n; i++) {
                double w[64], mx = -1e300, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double s = 0;
                    for (int k = 0; k < hs; k++)
                        s += qkv[i * 3 * C + hd * hs + k] * qkv[j * 3 * C + C + hd * hs + k];
                    w[j] = s / sqrt((double)hs);
                    mx = w[j] > mx ? w[j] : mx;
                }
                for (int j = 0; j <= i; j++)
                    sum += (w[j] = exp(w[j] - mx));
                for (int k = 0; k < hs; k++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++)
                        o += w[j] / sum * qkv[j * 3 * C + 2 * C + hd * hs + k];
                    a[i * C + hd * hs + k] = o;
                }
            }
        ref_linear(t, a, P->p[RMENS_T_ATTPROJW] + (size_t)l * C * C, P->p[RMENS_T_ATTPROJB] + l * C, n, C, C);
        for (int i = 0; i < n * C; i++)
            x[i] += t[i];
        for (int r = 0; r < n; r++)
            ref_layernorm(h + r * C, x + r * C, P->p[RMENS_T_LN2W] + l * C, P->p[RMENS_T_LN2B] + l * C, C);
        ref_linear(f, h, P->p[RMENS_T_FCW] + (size_t)l * C * 4 * C, P->p[RMENS_T_FCB] + l * 4 * C, n, C, 4 * C);
        for (int i = 0; i < n * 4 * C; i++) {
            double u = f[i];
            f[i] = 0.5 * u * (1 + tanh(sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
        }
        ref_linear(t, f, P->p[RMENS_T_FCPROJW] + (size_t)l * 4 * C * C, P->p[RMENS_T_FCPROJB] + l * C, n, 4 * C, C);
        for (int i = 0; i < n * C; i++)
            x[i] += t[i];
    }
    ref_layernorm(h, x + (size_t)(n - 1) * C, P->p[RMENS_T_LNFW], P->p[RMENS_T_LNFB], C);
    double r = 0;
    for (int i = 0; i < C; i++)
        r += h[i] * P->p[RMENS_T_SCOREW][i];
    free(x), free(h), free(qkv), free(a), free(t), free(f);
    return r;
}

/* The truncation rule of docs/FORMAT.md, written out again. */
static void ref_cut(const rmens_dataset *ds, int64_t i, int T, const int32_t **c, int *lc, const int32_t **r, int *lr)
{
    int64_t a, b;
    *c = rmens_dataset_seq(ds, 0, i, &a);
    *r = rmens_dataset_seq(ds, 1, i, &b);
    int64_t P = rmens_dataset_prompt_len(ds, i), cut = (a > b ? a : b) - T;
    int64_t kc = 0, kr = 0;
    if (cut > 0 && cut < P)
        kc = kr = cut;
    else if (cut > 0) {
        kc = a > T ? a - T : 0;
        kr = b > T ? b - T : 0;
    }
    *c += kc, *r += kr;
    *lc = (int)(a - kc), *lr = (int)(b - kr);
}

static double ref_loss(const ref_params *P, const rmens_dataset *ds, int B, double mscale, double center,
                       double *rewards)
{
    double loss = 0;
    for (int i = 0; i < B; i++) {
        const int32_t *c, *r;
        int lc, lr;
        ref_cut(ds, i, P->c->n_ctx, &c, &lc, &r, &lr);
        double rw = ref_reward(P, c, lc), rl = ref_reward(P, r, lr);
        if (rewards)
            rewards[2 * i] = rw, rewards[2 * i + 1] = rl;
        double d = rw - rl - mscale * rmens_dataset_margin(ds, i);
        loss += log1p(exp(-d)) + center * (rw + rl) * (rw + rl);
    }
    return loss / B;
}

/* ------------------------------------------------------------- fixtures */

/* Random weights (larger than GPT-2's init, so gradients are well above round-off). */
static rmens_model *make_model(uint64_t seed)
{
    rmens_model *m;
    ck_assert_int_eq(rmens_model_alloc(&m, &CFG), RMENS_OK);
    rmens_rng g;
    rmens_rng_init(&g, seed, 99);
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        rmens_tensor_shape sh;
        rmens_tensor_shape_of(&CFG, t, &sh);
        int gain = t == RMENS_T_LN1W || t == RMENS_T_LN2W || t == RMENS_T_LNFW;
        for (int64_t k = 0; k < rmens_tensor_numel(&CFG, t); k++)
            m->t[t][k] = (gain ? 1.0f : 0.0f) + (sh.rank == 2 ? 0.3f : 0.1f) * (float)(2 * rmens_rng_unit(&g) - 1) * 1.7f;
    }
    return m;
}

/* Pairs with shared prompts, one with no prompt, one cut keeping part of the prompt,
 * one cut past its prompt, and margins. */
static rmens_dataset *make_pairs(void)
{
    rmens_dataset *ds;
    ck_assert_int_eq(rmens_dataset_new(&ds, RMENS_DATA_PAIRS, RMENS_HAS_MARGIN, 257, 256, "bytes"), RMENS_OK);
    const char *pc[][3] = {
        {"abcde", "fg", "xyz1"},               /* prompt 5 */
        {"", "hello", "hey"},                  /* no prompt */
        {"0123456789", "ab", "abcd"},          /* 15 > 12: cut 3 < 10 keeps 7 of the prompt */
        {"pq", "a", "LONGRESPONSE-XYZ"},       /* 19 > 12: cut 7 >= 2: cut separately */
        {"k", "z", "zz"},
    };
    for (int i = 0; i < 5; i++) {
        char c[64], r[64];
        int32_t tc[64], tr[64];
        snprintf(c, sizeof c, "%s%s", pc[i][0], pc[i][1]);
        snprintf(r, sizeof r, "%s%s", pc[i][0], pc[i][2]);
        rmens_record rec = {0};
        rec.tok[0] = tc, rec.tok[1] = tr;
        rec.len[0] = (int64_t)rmens_tokenize_bytes(tc, c, strlen(c));
        rec.len[1] = (int64_t)rmens_tokenize_bytes(tr, r, strlen(r));
        rec.prompt_len = (int32_t)strlen(pc[i][0]);
        rec.margin = 0.25f * (float)(i - 2);
        ck_assert_int_eq(rmens_dataset_append(ds, &rec), RMENS_OK);
    }
    ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);
    return ds;
}

static void to_ref(ref_params *P, const rmens_model *m)
{
    P->c = &m->cfg;
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        int64_t n = rmens_tensor_numel(&m->cfg, t);
        P->p[t] = malloc((size_t)n * sizeof(double));
        for (int64_t k = 0; k < n; k++)
            P->p[t][k] = m->t[t][k];
    }
}

static void free_ref(ref_params *P)
{
    for (int t = 0; t < RMENS_NTENSORS; t++)
        free(P->p[t]);
}

/* One forward + backward of the C model; returns the loss, rewards in r[2B]. */
static double c_step(rmens_model *m, const rmens_dataset *ds, int B, int share, int compact, float mscale,
                     float center, float *r, int *ncut)
{
    rmens_batch b;
    int64_t idx[16];
    for (int i = 0; i < B; i++)
        idx[i] = i;
    m->compact_last = compact;
    ck_assert_int_eq(rmens_batch_init(&b, B, m->cfg.n_ctx, m->cfg.n_head), RMENS_OK);
    ck_assert_int_eq(rmens_batch_build(&b, ds, idx, B, share, mscale), RMENS_OK);
    ck_assert_int_eq(rmens_model_reserve(m, B), RMENS_OK);
    rmens_model_zero_grad(m);
    ck_assert_int_eq(rmens_model_forward(m, &b), RMENS_OK);
    float dr[32];
    double loss = rmens_bt_loss(dr, rmens_model_rewards(m), b.margin, B, center, NULL);
    memcpy(r, rmens_model_rewards(m), (size_t)2 * B * sizeof *r);
    ck_assert_int_eq(rmens_model_backward(m, &b, dr), RMENS_OK);
    if (ncut)
        *ncut = b.n_cut;
    rmens_batch_free(&b);
    return loss;
}

/* ---------------------------------------------------------------- tests */

START_TEST(rewards_match_reference)
{
    rmens_model *m = make_model(1);
    rmens_dataset *ds = make_pairs();
    ref_params P;
    to_ref(&P, m);
    double rr[10];
    double lref = ref_loss(&P, ds, 5, 0.5, 0.1, rr);
    float r[10];
    int ncut;
    double l = c_step(m, ds, 5, 1, 1, 0.5f, 0.1f, r, &ncut);
    ck_assert_int_eq(ncut, 2);
    for (int s = 0; s < 10; s++)
        ck_assert_msg(fabs(r[s] - rr[s]) <= 1e-5 * fmax(1.0, fabs(rr[s])), "reward %d: C %.8g, reference %.8g", s,
                      r[s], rr[s]);
    ck_assert_double_eq_tol(l, lref, 1e-5 * fmax(1.0, lref));
    free_ref(&P);
    rmens_dataset_free(ds);
    rmens_model_free(m);
}
END_TEST

/* Central differences (h = 1e-4, in double) against the C model's float gradient, on
 * elements of every tensor of every layer, with the margin and centering terms on. */
static void finite_differences(int share, int compact)
{
    const double h = 1e-4, atol = 2e-5, rtol = 2e-3;
    const float mscale = 0.5f, center = 0.1f;
    rmens_model *m = make_model(2);
    rmens_dataset *ds = make_pairs();
    float r[10];
    c_step(m, ds, 5, share, compact, mscale, center, r, NULL);
    ref_params P;
    to_ref(&P, m);
    rmens_rng g;
    rmens_rng_init(&g, 3, 0);
    int checked = 0;
    double worst = 0;
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        int64_t n = rmens_tensor_numel(&CFG, t);
        for (int k = 0; n && k < 12; k++) {
            int64_t e = (int64_t)rmens_rng_below(&g, (uint64_t)n);
            if (t == RMENS_T_WTE)  /* rows of tokens the batch uses, else the gradient is 0 */
                e = (int64_t)"abcdefg0123hxyzLONG"[k % 19] * CFG.n_embd + (int64_t)rmens_rng_below(&g, CFG.n_embd);
            double keep = P.p[t][e];
            P.p[t][e] = keep + h;
            double up = ref_loss(&P, ds, 5, mscale, center, NULL);
            P.p[t][e] = keep - h;
            double dn = ref_loss(&P, ds, 5, mscale, center, NULL);
            P.p[t][e] = keep;
            double fd = (up - dn) / (2 * h), an = m->g[t][e];
            double err = fabs(an - fd);
            char name[128];
            rmens_tensor_name(&CFG, t, 0, name, sizeof name);
            ck_assert_msg(err <= atol + rtol * fabs(fd), "tensor %s (index %lld): analytic %.8g, finite difference %.8g",
                          name, (long long)e, an, fd);
            worst = fmax(worst, err / (atol + rtol * fabs(fd)));
            checked++;
        }
    }
    ck_assert_int_eq(checked, 12 * rmens_arch_ntensors(&CFG));
    printf("finite differences (share %d, compact %d): %d elements, worst error %.3g of tolerance\n", share, compact,
           checked, worst);
    free_ref(&P);
    rmens_dataset_free(ds);
    rmens_model_free(m);
}

START_TEST(gradients_finite_differences) { finite_differences(1, 1); }
END_TEST

/* ------------------------------------------------- process rewards (per-step head) */

/* Solutions of a steps file: hard, soft and unlabelled steps, one with no prompt, and one
 * longer than the context (19 > 12: the first 7 tokens are cut, and with them its first
 * step's closing token). */
static rmens_dataset *make_steps(void)
{
    rmens_dataset *ds;
    ck_assert_int_eq(rmens_dataset_new(&ds, RMENS_DATA_STEPS, 0, 257, 256, "bytes"), RMENS_OK);
    const char *text[][4] = {{"ab", "c1\n", "d2\n", NULL}, {"", "x\n", "y\n", "z\n"}, {"p", "ab\n", "longer-step2\n", NULL}};
    const float labels[][3] = {{1.0f, 0.25f}, {0.0f, RMENS_STEP_UNLABELLED, 1.0f}, {1.0f, 0.0f}};
    for (int i = 0; i < 3; i++) {
        char buf[64] = "";
        int32_t tok[64], ends[3];
        int n = 0;
        for (int k = 0; k < 4 && text[i][k]; k++) {
            strcat(buf, text[i][k]);
            if (k > 0)
                ends[n++] = (int32_t)strlen(buf);
        }
        rmens_record rec = {0};
        rec.tok[0] = tok;
        rec.len[0] = (int64_t)rmens_tokenize_bytes(tok, buf, strlen(buf));
        rec.prompt_len = (int32_t)strlen(text[i][0]);
        rec.step_end[0] = ends;
        rec.step_target = labels[i];
        rec.nsteps[0] = n;
        ck_assert_int_eq(rmens_dataset_append(ds, &rec), RMENS_OK);
    }
    ck_assert_int_eq(rmens_dataset_validate(ds), RMENS_OK);
    return ds;
}

/* The per-step head written out: step k's logit is the reward of the solution's prefix
 * ending at its closing token (causal), on the kept tokens (the last n_ctx; positions from
 * 0); binary cross-entropy over the labelled, kept steps, averaged. */
static double ref_prm_loss(const ref_params *P, const rmens_dataset *ds, double *logits, int *count)
{
    double loss = 0;
    int m = 0;
    for (int64_t i = 0; i < rmens_dataset_count(ds); i++) {
        int64_t len, ns;
        const int32_t *t = rmens_dataset_seq(ds, 0, i, &len);
        const int32_t *end = rmens_dataset_step_ends(ds, 0, i, &ns);
        const float *y = rmens_dataset_step_targets(ds, i);
        int64_t cut = len > P->c->n_ctx ? len - P->c->n_ctx : 0;
        for (int64_t k = 0; k < ns; k++) {
            if (end[k] - 1 < cut || y[k] == RMENS_STEP_UNLABELLED)
                continue;
            double r = ref_reward(P, t + cut, (int)(end[k] - cut));
            if (logits)
                logits[m] = r;
            loss += -(y[k] * log(1 / (1 + exp(-r))) + (1 - y[k]) * log(1 / (1 + exp(r))));
            m++;
        }
    }
    *count = m;
    return loss / m;
}

/* The C model on the steps batch: logits into r, returns the loss; gradients in m->g. */
static double c_prm_step(rmens_model *m, const rmens_dataset *ds, int compact, float *r, int *S)
{
    rmens_batch b;
    int64_t idx[3] = {0, 1, 2};
    float y[16], d[16];
    m->compact_last = compact;
    ck_assert_int_eq(rmens_batch_init(&b, 4, m->cfg.n_ctx, m->cfg.n_head), RMENS_OK);
    ck_assert_int_eq(rmens_batch_build_steps(&b, ds, idx, 3, 1, y), RMENS_OK);
    ck_assert_int_eq(rmens_model_reserve(m, 4), RMENS_OK);
    rmens_model_zero_grad(m);
    ck_assert_int_eq(rmens_model_forward(m, &b), RMENS_OK);
    double loss = rmens_prm_loss(d, rmens_model_rewards(m), y, b.S, b.S, NULL);
    memcpy(r, rmens_model_rewards(m), (size_t)b.S * sizeof *r);
    ck_assert_int_eq(rmens_model_backward(m, &b, d), RMENS_OK);
    *S = b.S;
    ck_assert_int_eq(b.n_cut, 1);
    rmens_batch_free(&b);
    return loss;
}

static void prm_finite_differences(int compact)
{
    const double h = 1e-4, atol = 2e-5, rtol = 2e-3;
    rmens_model *m = make_model(4);
    rmens_dataset *ds = make_steps();
    float r[16];
    int S, count;
    double l = c_prm_step(m, ds, compact, r, &S);
    ref_params P;
    to_ref(&P, m);
    double rr[16];
    double lref = ref_prm_loss(&P, ds, rr, &count);
    ck_assert_int_eq(S, 5);  /* 2 + 2 (one unlabelled) + 1 (one cut away) */
    ck_assert_int_eq(count, S);
    for (int k = 0; k < S; k++)
        ck_assert_msg(fabs(r[k] - rr[k]) <= 1e-5 * fmax(1.0, fabs(rr[k])), "logit %d: C %.8g, reference %.8g", k, r[k],
                      rr[k]);
    ck_assert_double_eq_tol(l, lref, 1e-5 * fmax(1.0, lref));
    rmens_rng g;
    rmens_rng_init(&g, 5, 0);
    int checked = 0;
    double worst = 0;
    for (int t = 0; t < RMENS_NTENSORS; t++) {
        int64_t n = rmens_tensor_numel(&CFG, t);
        for (int k = 0; n && k < 12; k++) {
            int64_t e = (int64_t)rmens_rng_below(&g, (uint64_t)n);
            if (t == RMENS_T_WTE)  /* rows of tokens the batch reads */
                e = (int64_t)"abcd12xyz\nlonger-step"[k % 20] * CFG.n_embd + (int64_t)rmens_rng_below(&g, CFG.n_embd);
            double keep = P.p[t][e];
            P.p[t][e] = keep + h;
            double up = ref_prm_loss(&P, ds, NULL, &count);
            P.p[t][e] = keep - h;
            double dn = ref_prm_loss(&P, ds, NULL, &count);
            P.p[t][e] = keep;
            double fd = (up - dn) / (2 * h), an = m->g[t][e], err = fabs(an - fd);
            char name[128];
            rmens_tensor_name(&CFG, t, 0, name, sizeof name);
            ck_assert_msg(err <= atol + rtol * fabs(fd), "per-step head, tensor %s (index %lld): analytic %.8g, finite "
                          "difference %.8g", name, (long long)e, an, fd);
            worst = fmax(worst, err / (atol + rtol * fabs(fd)));
            checked++;
        }
    }
    printf("per-step head finite differences (compact %d): %d elements, worst error %.3g of tolerance\n", compact,
           checked, worst);
    free_ref(&P);
    rmens_dataset_free(ds);
    rmens_model_free(m);
}

START_TEST(prm_gradients_finite_differences) { prm_finite_differences(1); }
END_TEST

START_TEST(prm_gradients_finite_differences_full) { prm_finite_differences(0); }
END_TEST

/* rmens_prm_logits, the passes of rmens score and rmens serve, on solutions given as token
 * arrays (rmens_batch_build_step_seqs): every step's logit, labelled or not, equal to the
 * scalar reference of its prefix; NaN where the cut from the front took the step's closing
 * token; the same whether the three solutions share one pass (room for 4 pairs) or the
 * room for 2 pairs (4 reads) splits them over passes. */
START_TEST(prm_logits_of_token_arrays)
{
    rmens_model *m = make_model(6);
    rmens_dataset *ds = make_steps();
    ref_params P;
    to_ref(&P, m);
    const int32_t *seqs[3], *ends[3];
    int64_t lens[3], ns[3];
    for (int i = 0; i < 3; i++) {
        seqs[i] = rmens_dataset_seq(ds, 0, i, &lens[i]);
        ends[i] = rmens_dataset_step_ends(ds, 0, i, &ns[i]);
    }
    rmens_model *mm[1] = {m};
    rmens_ensemble e = {.cfg = m->cfg, .K = 1, .nloc = 1, .m = mm};
    const int T = m->cfg.n_ctx;
    for (int cap = 2; cap <= 4; cap += 2) {
        rmens_batch b;
        float out[16];
        ck_assert_int_eq(rmens_batch_init(&b, cap, T, m->cfg.n_head), RMENS_OK);
        ck_assert_int_eq(rmens_model_reserve_forward(m, cap, T), RMENS_OK);
        ck_assert_int_eq(rmens_prm_logits(&e, &b, seqs, lens, ends, ns, 3, out), RMENS_OK);
        int s = 0, cut_steps = 0;
        for (int i = 0; i < 3; i++) {
            const int64_t cut = lens[i] > T ? lens[i] - T : 0;
            for (int64_t k = 0; k < ns[i]; k++, s++) {
                if (ends[i][k] - 1 < cut) {
                    ck_assert_msg(isnan(out[s]), "room %d: step %d was cut away, logit %g", cap, s, out[s]);
                    cut_steps++;
                    continue;
                }
                double r = ref_reward(&P, seqs[i] + cut, (int)(ends[i][k] - cut));
                ck_assert_msg(fabs(out[s] - r) <= 1e-5 * fmax(1.0, fabs(r)), "room %d: step %d: C %.8g, reference %.8g",
                              cap, s, out[s], r);
            }
        }
        ck_assert_int_eq(s, 7);
        ck_assert_int_eq(cut_steps, 1);
        rmens_batch_free(&b);
    }
    free_ref(&P);
    rmens_dataset_free(ds);
    rmens_model_free(m);
}
END_TEST
START_TEST(gradients_finite_differences_unshared) { finite_differences(0, 0); }
END_TEST

/* Sharing the prompt and the compact last layer change only the order of float sums. */
START_TEST(paths_agree)
{
    rmens_model *m = make_model(4);
    rmens_dataset *ds = make_pairs();
    float r[4][10];
    float *grads[4];
    for (int k = 0; k < 4; k++) {
        c_step(m, ds, 5, k & 1, k >> 1, 0.5f, 0.1f, r[k], NULL);
        grads[k] = malloc(m->nparams * sizeof(float));
        memcpy(grads[k], m->grads, m->nparams * sizeof(float));
    }
    for (int k = 1; k < 4; k++) {
        for (int s = 0; s < 10; s++)
            ck_assert_float_eq_tol(r[k][s], r[0][s], 2e-6f * fmaxf(1.0f, fabsf(r[0][s])));
        for (int t = 0; t < RMENS_NTENSORS; t++) {
            float mx = 0, err = 0;
            for (size_t i = m->off[t]; i < m->off[t] + (size_t)rmens_tensor_numel(&CFG, t); i++) {
                mx = fmaxf(mx, fabsf(grads[0][i]));
                err = fmaxf(err, fabsf(grads[k][i] - grads[0][i]));
            }
            ck_assert_msg(err <= 1e-5f * mx + 1e-9f, "path %d tensor %d: max error %g of max %g", k, t, err, mx);
        }
    }
    for (int k = 0; k < 4; k++)
        free(grads[k]);
    rmens_dataset_free(ds);
    rmens_model_free(m);
}
END_TEST

/* The scoring reservation (one layer's activations, two residual streams, no backward
 * buffers) gives bit-identical rewards to the training one, for 1 to 4 layers, with and
 * without prompt sharing and the compact last layer, in less memory. */
START_TEST(forward_only_identical)
{
    rmens_dataset *ds = make_pairs();
    for (int L = 1; L <= 4; L++) {
        rmens_model_config cfg = CFG;
        cfg.n_layer = L;
        rmens_model *m;
        ck_assert_int_eq(rmens_model_alloc(&m, &cfg), RMENS_OK);
        rmens_model_init_params(m, 40 + (uint64_t)L, 0);
        for (int k = 0; k < 4; k++) {
            const int share = k & 1;
            m->compact_last = k >> 1;
            rmens_batch b;
            int64_t idx[5] = {0, 1, 2, 3, 4};
            ck_assert_int_eq(rmens_batch_init(&b, 5, cfg.n_ctx, cfg.n_head), RMENS_OK);
            ck_assert_int_eq(rmens_batch_build(&b, ds, idx, 5, share, 0), RMENS_OK);
            float rt[10], rf[10];
            ck_assert_int_eq(rmens_model_reserve(m, 5), RMENS_OK);
            const size_t train_floats = m->acts_floats;
            ck_assert_int_eq(rmens_model_forward(m, &b), RMENS_OK);
            memcpy(rt, rmens_model_rewards(m), sizeof rt);
            ck_assert_int_eq(rmens_model_reserve_forward(m, 5, 0), RMENS_OK);
            ck_assert_int_eq(m->fwd_only, 1);
            ck_assert_uint_lt(m->acts_floats, train_floats);
            /* Stale values from a previous batch must not matter: poison the buffers. */
            memset(m->acts, 0xff, m->acts_floats * sizeof(float));
            ck_assert_int_eq(rmens_model_forward(m, &b), RMENS_OK);
            memcpy(rf, rmens_model_rewards(m), sizeof rf);
            ck_assert_msg(memcmp(rt, rf, sizeof rt) == 0, "L=%d share=%d compact=%d: rewards differ", L, share,
                          m->compact_last);
            for (int s = 0; s < 10; s++)
                ck_assert(isfinite(rf[s]));
            /* No activations to go back through: an error, never an abort (the library
             * exits nowhere). */
            float dr[10] = {0};
            ck_assert_int_eq(rmens_model_backward(m, &b, dr), RMENS_ERR_INTERNAL);
            ck_assert_error_has("forward-only");
            rmens_batch_free(&b);
        }
        rmens_model_free(m);
    }
    rmens_dataset_free(ds);
}
END_TEST

/* Activation recomputation (RMENS_ACTS_RECOMPUTE, train --gradient-checkpointing) runs
 * the same kernels on the same inputs: rewards and every gradient bit-identical to the
 * training reservation's, for GPT-2, a Qwen3 shape (grouped-query heads, head_dim not
 * C / heads, q/k norms, q/k/v and o biases) and GPT-NeoX (partial rotary, parallel and
 * sequential residual), 1 and 3 layers, with and without prompt sharing (several
 * segments a batch) and the compact last layer; in exactly the memory of one layer's
 * activations plus the residual stream of every other layer. */
START_TEST(recompute_identical)
{
    rmens_dataset *ds = make_pairs();
    const rmens_model_config shapes[] = {
        CFG,
        {.vocab_size = 257, .n_ctx = 12, .n_head = 4, .n_embd = 16, .arch = RMENS_ARCH_QWEN3, .n_kv_head = 2,
         .head_dim = 6, .n_inner = 24, .qkv_bias = 1, .o_bias = 1, .qk_norm = 1, .rope_theta = 1000},
        {.vocab_size = 257, .n_ctx = 12, .n_head = 2, .n_embd = 16, .arch = RMENS_ARCH_NEOX, .n_inner = 40,
         .qkv_bias = 1, .o_bias = 1, .partial_rotary = 0.5f, .parallel_residual = 1},
        {.vocab_size = 257, .n_ctx = 12, .n_head = 2, .n_embd = 16, .arch = RMENS_ARCH_NEOX, .n_inner = 40,
         .qkv_bias = 1, .partial_rotary = 0.25f},
    };
    const int B = 5;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int L = 1; L <= 3; L += 2) {
            rmens_model_config cfg = shapes[k];
            cfg.n_layer = L;
            rmens_model *m;
            ck_assert_int_eq(rmens_model_alloc(&m, &cfg), RMENS_OK);
            rmens_rng g;
            rmens_rng_init(&g, 17 + k, (uint64_t)L);
            for (size_t i = 0; i < m->nparams; i++)  /* no zero bias or unit gain hides a wrong slot */
                m->params[i] = 0.4f * (float)(2 * rmens_rng_unit(&g) - 1);
            /* the reservation: one layer (the same as training one layer) plus the
             * residual stream of the L - 1 others */
            rmens_model_config one = cfg;
            one.n_layer = 1;
            const double res = 4.0 * 2 * B * cfg.n_ctx * cfg.n_embd;
            const double train = rmens_model_acts_bytes(&cfg, B, 0, RMENS_ACTS_TRAIN);
            const double rec = rmens_model_acts_bytes(&cfg, B, 0, RMENS_ACTS_RECOMPUTE);
            ck_assert_double_eq(rec, rmens_model_acts_bytes(&one, B, 0, RMENS_ACTS_TRAIN) + (L - 1) * res);
            one.n_layer = 2;
            const double per_layer = rmens_model_acts_bytes(&one, B, 0, RMENS_ACTS_TRAIN) - (rec - (L - 1) * res);
            ck_assert_double_eq(train - rec, (L - 1) * (per_layer - res));
            for (int path = 0; path < 4; path++) {
                const int share = path & 1;
                m->compact_last = path >> 1;
                rmens_batch b;
                int64_t idx[5] = {0, 1, 2, 3, 4};
                ck_assert_int_eq(rmens_batch_init(&b, B, cfg.n_ctx, cfg.n_head), RMENS_OK);
                ck_assert_int_eq(rmens_batch_build(&b, ds, idx, B, share, 0.5f), RMENS_OK);
                ck_assert_int_gt(b.nsegs, 1);
                float r[2][10], dr[10];
                float *grads[2];
                for (int kind = 0; kind < 2; kind++) {
                    ck_assert_int_eq(rmens_model_reserve_kind(m, B, 0, kind ? RMENS_ACTS_RECOMPUTE : RMENS_ACTS_TRAIN),
                                     RMENS_OK);
                    ck_assert_int_eq(m->recompute, kind);
                    ck_assert_double_eq(4.0 * (double)m->acts_floats, kind ? rec : train);
                    /* stale values must not matter: poison the buffers */
                    memset(m->acts, 0xff, m->acts_floats * sizeof(float));
                    rmens_model_zero_grad(m);
                    ck_assert_int_eq(rmens_model_forward(m, &b), RMENS_OK);
                    memcpy(r[kind], rmens_model_rewards(m), sizeof r[kind]);
                    rmens_bt_loss(dr, r[kind], b.margin, B, 0.1f, NULL);
                    ck_assert_int_eq(rmens_model_backward(m, &b, dr), RMENS_OK);
                    grads[kind] = malloc(m->nparams * sizeof(float));
                    memcpy(grads[kind], m->grads, m->nparams * sizeof(float));
                }
                ck_assert_msg(memcmp(r[0], r[1], sizeof r[0]) == 0, "arch %d L=%d path %d: rewards differ", cfg.arch,
                              L, path);
                size_t nz = 0;
                for (size_t i = 0; i < m->nparams; i++) {
                    ck_assert_msg(memcmp(&grads[0][i], &grads[1][i], sizeof(float)) == 0,
                                  "arch %d L=%d path %d: gradient %zu differs: %.9g vs %.9g", cfg.arch, L, path, i,
                                  (double)grads[0][i], (double)grads[1][i]);
                    nz += grads[0][i] != 0;
                }
                ck_assert_uint_gt(nz, m->nparams / 20);  /* gradients reached the embeddings' used rows and all layers */
                free(grads[0]);
                free(grads[1]);
                rmens_batch_free(&b);
            }
            rmens_model_free(m);
        }
    rmens_dataset_free(ds);
}
END_TEST

START_TEST(deterministic)
{
    rmens_model *a = make_model(5), *b = make_model(5);
    rmens_dataset *ds = make_pairs();
    float ra[10], rb[10];
    c_step(a, ds, 5, 1, 1, 0, 0, ra, NULL);
    c_step(b, ds, 5, 1, 1, 0, 0, rb, NULL);
    ck_assert_mem_eq(ra, rb, sizeof ra);
    ck_assert_mem_eq(a->grads, b->grads, a->nparams * sizeof(float));
    rmens_dataset_free(ds);
    rmens_model_free(a);
    rmens_model_free(b);
}
END_TEST

START_TEST(bt_loss_by_hand)
{
    float r[4] = {1.0f, 0.0f, -0.5f, 0.5f}, dr[4], margin[2] = {0.0f, -1.0f};
    int ok;
    /* pair 0: d = 1: loss log(1 + e^-1); pair 1: d = -1 - (-1) = 0: loss log 2 */
    double loss = rmens_bt_loss(dr, r, margin, 2, 0.0f, &ok);
    ck_assert_double_eq_tol(loss, (log1p(exp(-1.0)) + log(2.0)) / 2, 1e-12);
    ck_assert_int_eq(ok, 1);
    ck_assert_double_eq_tol(dr[0], (1 / (1 + exp(-1.0)) - 1) / 2, 1e-7);
    ck_assert_double_eq_tol(dr[1], -(1 / (1 + exp(-1.0)) - 1) / 2, 1e-7);
    ck_assert_double_eq_tol(dr[2], (0.5 - 1) / 2, 1e-7);
    /* centering 0.5: + 0.5 * mean((1 + 0)^2, (-0.5 + 0.5)^2) = 0.25; d/dr_w += 2 * 0.5 * 1 / 2 */
    double lc = rmens_bt_loss(dr, r, margin, 2, 0.5f, NULL);
    ck_assert_double_eq_tol(lc - loss, 0.25, 1e-12);
    ck_assert_double_eq_tol(dr[0], (1 / (1 + exp(-1.0)) - 1) / 2 + 0.5, 1e-7);
    /* a huge margin of victory does not overflow */
    float big[2] = {200.0f, -200.0f};
    ck_assert(rmens_bt_loss(dr, big, NULL, 1, 0, NULL) < 1e-30);
    float bad[2] = {-200.0f, 200.0f};
    ck_assert_double_eq_tol(rmens_bt_loss(dr, bad, NULL, 1, 0, NULL), 400.0, 1e-9);
}
END_TEST

START_TEST(adamw_by_hand)
{
    rmens_adamw_config c;
    rmens_adamw_config_init(&c);
    c.lr = 1.0f, c.warmup = 4, c.total_steps = 14, c.min_lr_frac = 0.1f;
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 0), 0.25f, 1e-7f);
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 3), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 4), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 9), 0.55f, 1e-6f);  /* halfway: 0.1 + 0.45 */
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 14), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(rmens_adamw_lr(&c, 99), 0.1f, 1e-7f);

    /* One step by hand on two tensors: a decayed matrix element and a bias. */
    rmens_model *m = make_model(6);
    rmens_adamw o;
    c.lr = 0.1f, c.warmup = 0, c.total_steps = 10, c.weight_decay = 0.5f, c.clip = 0;
    ck_assert_int_eq(rmens_adamw_init(&o, m, &c), RMENS_OK);
    rmens_model_zero_grad(m);
    float w0 = m->t[RMENS_T_QKVW][3], b0 = m->t[RMENS_T_QKVB][3];
    m->g[RMENS_T_QKVW][3] = 2.0f;
    m->g[RMENS_T_QKVB][3] = -3.0f;
    double norm = rmens_adamw_step(&o, m);
    ck_assert_double_eq_tol(norm, sqrt(13.0), 1e-6);
    /* first step: m_hat = g, v_hat = g^2, update = lr * g / (|g| + eps) = lr * sign(g) */
    ck_assert_float_eq_tol(m->t[RMENS_T_QKVW][3], w0 * (1 - 0.1f * 0.5f) - 0.1f, 1e-6f);
    ck_assert_float_eq_tol(m->t[RMENS_T_QKVB][3], b0 + 0.1f, 1e-6f);
    /* clipping: norm sqrt(13) clipped to 1 scales both gradients by 1 / (sqrt(13) + 1e-6) */
    rmens_adamw_free(&o);
    c.clip = 1.0f;
    ck_assert_int_eq(rmens_adamw_init(&o, m, &c), RMENS_OK);
    ck_assert_double_eq_tol(rmens_adamw_step(&o, m), sqrt(13.0), 1e-6);
    ck_assert_float_eq_tol(o.m[m->off[RMENS_T_QKVW] + 3], 0.1f * 2.0f / (float)(sqrt(13.0) + 1e-6), 1e-7f);
    rmens_adamw_free(&o);
    rmens_model_free(m);
}
END_TEST

/* ----------------------------------------------------------- model files */

START_TEST(model_file_round_trip)
{
    char path[600];
    test_path(path, sizeof path, "model.h5");
    rmens_model *m = make_model(7), *back;
    ck_assert_int_eq(rmens_model_save(m, path), RMENS_OK);
    int fresh = -1;
    ck_assert_msg(rmens_model_load(&back, path, 1, &fresh) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(fresh, 0);
    ck_assert_mem_eq(&back->cfg, &m->cfg, sizeof m->cfg);
    ck_assert_mem_eq(back->params, m->params, m->nparams * sizeof(float));
    ck_assert_uint_eq(rmens_model_num_params(back),
                      (size_t)(257 * 8 + 12 * 8 + 2 * (4 * 8 + 8 * 24 + 24 + 8 * 8 + 8 + 8 * 32 + 32 + 32 * 8 + 8) + 2 * 8 + 8));
    rmens_model_free(back);
    rmens_model_free(m);
}
END_TEST

/* Opening reserves no activations; the first score reserves the default batch; a batch
 * sized by the longest sequence scores the same bits. */
START_TEST(ensemble_reserves_lazily)
{
    char path[600];
    test_path(path, sizeof path, "lazy.h5");
    rmens_model *m = make_model(8);
    ck_assert_int_eq(rmens_model_save(m, path), RMENS_OK);
    rmens_ensemble *a, *b;
    ck_assert_msg(rmens_ensemble_open(&a, path) == RMENS_OK, "%s", rmens_last_error());
    ck_assert_int_eq(rmens_ensemble_open(&b, path), RMENS_OK);
    ck_assert_ptr_null(a->m[0]->acts);
    ck_assert_int_eq(a->cap, 0);
    const char *text = "\n\nHuman: 2+2?\n\nAssistant: 4";  /* 28 bytes + end-of-text: cut to n_ctx 12 */
    float ra = NAN, rb = NAN;
    /* Sized for one pair of 6 tokens (12 rows, 144 attention probabilities), a 12-token
     * sequence (12 rows, 288) is refused, not written past the buffers. */
    ck_assert_int_eq(rmens_ensemble_set_batch_len(b, 2, 6), RMENS_OK);
    ck_assert_int_ne(rmens_ensemble_score_text(b, text, strlen(text), 0, 0.5f, &rb, NULL), RMENS_OK);
    ck_assert_error_has("larger than the reserved activations");
    ck_assert_int_eq(rmens_ensemble_score_text(a, text, strlen(text), 0, 0.5f, &ra, NULL), RMENS_OK);
    ck_assert_int_eq(a->cap, RMENS_SCORE_BATCH);
    ck_assert_ptr_nonnull(a->m[0]->acts);
    ck_assert_int_eq(a->m[0]->fwd_only, 1);
    const char *shorter = "Assistant: 4";  /* 13 tokens: at most n_ctx (12) are read */
    ck_assert_int_eq(rmens_ensemble_set_batch_len(b, 4, 13), RMENS_OK);
    ck_assert_int_eq(rmens_ensemble_score_text(b, text, strlen(text), 0, 0.5f, &rb, NULL), RMENS_OK);
    ck_assert(isfinite(ra));
    ck_assert_mem_eq(&ra, &rb, sizeof ra);
    ck_assert_int_eq(rmens_ensemble_score_text(a, shorter, strlen(shorter), 0, 0.5f, &ra, NULL), RMENS_OK);
    ck_assert_int_eq(rmens_ensemble_score_text(b, shorter, strlen(shorter), 0, 0.5f, &rb, NULL), RMENS_OK);
    ck_assert_mem_eq(&ra, &rb, sizeof ra);
    rmens_ensemble_close(a);
    rmens_ensemble_close(b);
    rmens_model_free(m);
}
END_TEST

static void expect_load_error(const char *path, const char *what)
{
    rmens_model *m = (rmens_model *)0x1;
    ck_assert_int_ne(rmens_model_load(&m, path, 1, NULL), RMENS_OK);
    ck_assert_ptr_null(m);
    ck_assert_error_has(path);
    ck_assert_error_has(what);
}

START_TEST(bad_model_files)
{
    char path[600];
    test_path(path, sizeof path, "bad-model.h5");
    rmens_model *m = make_model(8);
    hid_t f;
#define FRESH()                                                \
    do {                                                       \
        ck_assert_int_eq(rmens_model_save(m, path), RMENS_OK); \
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);          \
        ck_assert_int_ge(f, 0);                                \
    } while (0)

    FRESH();
    H5Ldelete(f, "/params/transformer.h.1.mlp.c_fc.bias", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.h.1.mlp.c_fc.bias is missing");

    FRESH();
    H5Ldelete(f, "/params/transformer.h.0.attn.c_attn.weight", H5P_DEFAULT);
    int64_t wrong[2] = {24, 8};  /* transposed: [3C, C] instead of [C, 3C] */
    float zeros[192] = {0};
    rmens_h5_write_nd(f, "/params/transformer.h.0.attn.c_attn.weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, zeros, 2, wrong);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.h.0.attn.c_attn.weight has shape [24, 8], expected [8, 24]");

    FRESH();
    H5Ldelete(f, "/params/transformer.ln_f.bias", H5P_DEFAULT);
    double d8[8] = {0};
    int64_t d8n = 8;
    rmens_h5_write_nd(f, "/params/transformer.ln_f.bias", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, d8, 1, &d8n);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.ln_f.bias is stored as float64-bit, expected float32");

    FRESH();
    H5Ldelete(f, "/params/transformer.wpe.weight", H5P_DEFAULT);
    float nanw[12 * 8] = {0};
    nanw[17] = NAN;
    int64_t wd[2] = {12, 8};
    rmens_h5_write_nd(f, "/params/transformer.wpe.weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nanw, 2, wd);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.wpe.weight holds a non-finite value (nan) at flat index 17");

    FRESH();  /* config says 16 channels, the tensors hold 8 */
    rmens_h5_attr_write_i64(f, "n_embd", 16);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.wte.weight has shape [257, 8], expected [257, 16]");

    FRESH();  /* config says one layer, the file holds two */
    rmens_h5_attr_write_i64(f, "n_layer", 1);
    H5Fclose(f);
    expect_load_error(path, "tensor /params/transformer.h.1.ln_1.weight exists but n_layer is 1");

    FRESH();
    rmens_h5_attr_write_i64(f, "n_head", 3);
    H5Fclose(f);
    expect_load_error(path, "n_embd 8 is not a multiple of n_head 3");

    FRESH();
    rmens_h5_attr_write_str(f, "rmens_format", "pairs");
    H5Fclose(f);
    expect_load_error(path, "rmens_format is \"pairs\", expected \"model\"");

    /* A language-model checkpoint: no score head, so a fresh one is drawn. */
    FRESH();
    H5Ldelete(f, "/params/score.weight", H5P_DEFAULT);
    H5Fclose(f);
    rmens_model *lm;
    int fresh = 0;
    ck_assert_int_eq(rmens_model_load(&lm, path, 11, &fresh), RMENS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_mem_eq(lm->t[RMENS_T_WTE], m->t[RMENS_T_WTE], 257 * 8 * sizeof(float));
    float sq = 0;
    for (int c = 0; c < 8; c++)
        sq += lm->t[RMENS_T_SCOREW][c] * lm->t[RMENS_T_SCOREW][c];
    ck_assert(sq > 0 && sq < 8 * 0.1f * 0.1f);  /* N(0, 0.02) draws */
    rmens_model_free(lm);
    rmens_model_free(m);
}
END_TEST

/* Every tensor a model file holds carries the CRC-32 of its little-endian bytes; a value
 * changed behind it is refused on load, naming the tensor; the seal before a save finds
 * a NaN and names its tensor and index. */
START_TEST(model_file_checksums)
{
    char path[600];
    test_path(path, sizeof path, "crc-model.h5");
    rmens_model *m = make_model(9), *back = NULL;
    ck_assert_int_eq(rmens_model_save(m, path), RMENS_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t d = H5Dopen2(f, "/params/transformer.h.1.mlp.c_fc.weight", H5P_DEFAULT);
    int64_t crc = -1;
    ck_assert_int_eq(rmens_h5_attr_read_i64(d, "crc32", &crc), RMENS_OK);
    const float *w = m->t[RMENS_T_FCW] + 8 * 32;  /* layer 1: [8, 32] */
    ck_assert_int_eq(crc, (int64_t)crc32(0, (const Bytef *)w, 8 * 32 * 4));  /* x86: native = little-endian */
    float changed[8 * 32];
    memcpy(changed, w, sizeof changed);
    changed[77] = nextafterf(changed[77], 1.0f);  /* one ulp: a flipped low mantissa bit */
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, changed), 0);
    H5Dclose(d);
    H5Fclose(f);
    ck_assert_int_eq(rmens_model_load(&back, path, 1, NULL), RMENS_ERR_FORMAT);
    ck_assert_error_has("/params/transformer.h.1.mlp.c_fc.weight: checksum mismatch (stored 0x");
    ck_assert_error_has("the file is corrupted");

    uint32_t crcs[64];
    ck_assert_int_eq(rmens_modelfile_ntensors(&m->cfg), 4 + 12 * 2 + 1);
    ck_assert_int_eq(rmens_modelfile_seal_flat("p", &m->cfg, m->params, crcs), RMENS_OK);
    ck_assert_uint_eq(crcs[0], (uint32_t)crc32(0, (const Bytef *)m->t[RMENS_T_WTE], 257 * 8 * 4));
    m->t[RMENS_T_LNFW][3] = INFINITY;
    ck_assert_int_eq(rmens_modelfile_seal_flat("p", &m->cfg, m->params, crcs), RMENS_ERR_NUMERIC);
    ck_assert_error_has("p/transformer.ln_f.weight holds a non-finite value (inf at flat index 3)");
    rmens_model_free(m);
}
END_TEST

START_TEST(gpt2_init_statistics)
{
    rmens_model_config c = {.vocab_size = 257, .n_ctx = 64, .n_layer = 4, .n_head = 4, .n_embd = 64};
    rmens_model *m;
    ck_assert_int_eq(rmens_model_new(&m, &c, 42), RMENS_OK);
    int64_t n = rmens_tensor_numel(&c, RMENS_T_FCW), np = rmens_tensor_numel(&c, RMENS_T_FCPROJW);
    double s = 0, s2 = 0, p2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += m->t[RMENS_T_FCW][i], s2 += (double)m->t[RMENS_T_FCW][i] * m->t[RMENS_T_FCW][i];
    for (int64_t i = 0; i < np; i++)
        p2 += (double)m->t[RMENS_T_FCPROJW][i] * m->t[RMENS_T_FCPROJW][i];
    ck_assert_double_eq_tol(s / (double)n, 0.0, 0.001);
    ck_assert_double_eq_tol(sqrt(s2 / (double)n), 0.02, 0.0005);
    ck_assert_double_eq_tol(sqrt(p2 / (double)np), 0.02 / sqrt(8.0), 0.0003);
    ck_assert_float_eq(m->t[RMENS_T_LN1W][5], 1.0f);
    ck_assert_float_eq(m->t[RMENS_T_QKVB][5], 0.0f);
    rmens_model *same;
    ck_assert_int_eq(rmens_model_new(&same, &c, 42), RMENS_OK);
    ck_assert_mem_eq(same->params, m->params, m->nparams * sizeof(float));
    rmens_model_free(same);
    rmens_model_free(m);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("numerics");
    tcase_add_test(tc, rewards_match_reference);
    tcase_add_test(tc, gradients_finite_differences);
    tcase_add_test(tc, prm_gradients_finite_differences);
    tcase_add_test(tc, prm_gradients_finite_differences_full);
    tcase_add_test(tc, prm_logits_of_token_arrays);
    tcase_add_test(tc, gradients_finite_differences_unshared);
    tcase_add_test(tc, paths_agree);
    tcase_add_test(tc, forward_only_identical);
    tcase_add_test(tc, recompute_identical);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, bt_loss_by_hand);
    tcase_add_test(tc, adamw_by_hand);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, model_file_round_trip);
    tcase_add_test(tc, ensemble_reserves_lazily);
    tcase_add_test(tc, bad_model_files);
    tcase_add_test(tc, model_file_checksums);
    tcase_add_test(tc, gpt2_init_statistics);
    suite_add_tcase(s, tc);
    return s;
}
