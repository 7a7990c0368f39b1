#include "model/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>


/* Per thread: threads scoring their own ensembles must not share a counter. */
static _Thread_local double flops;
double rmens_layers_flops(void) { return flops; }

void rmens_set_num_threads(int n) { openblas_set_num_threads(n); }

/* Every product goes through these three, which count its floating-point operations. */
static void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    flops += 2.0 * M * N * K;
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void sgemv(CBLAS_TRANSPOSE t, int M, int N, float alpha, const float *A, int lda, const float *x, float beta,
                  float *y)
{
    flops += 2.0 * M * N;
    cblas_sgemv(CblasRowMajor, t, M, N, alpha, A, lda, x, 1, beta, y, 1);
}

static void sger(int M, int N, const float *x, const float *y, float *A, int lda)
{
    flops += 2.0 * M * N;
    cblas_sger(CblasRowMajor, M, N, 1.0f, x, 1, y, 1, A, lda);
}

#define GELU_SCALE 0.7978845608028654f  /* sqrt(2 / pi) */

/* exp(x) to about 2 ulp, written so loops over it vectorise (libm's expf and tanhf are
 * scalar calls and took a third of a training step): Cody-Waite reduction by ln 2,
 * Cephes' degree-6 polynomial, and 2^n built in the exponent bits. */
static inline float fast_expf(float xin)
{
    /* Written so that NaN clamps to -87 here (no float-to-int conversion of NaN, which
     * is undefined) and comes back out as NaN at the end. */
    float x = xin > -87.0f ? xin : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round to nearest */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } two = {.i = ((int32_t)n + 127) << 23};
    return xin == xin ? p * two.f : xin;
}

/* tanh(u) = 1 - 2 / (1 + exp(2u)); absolute error about 1e-7, saturating cleanly. */
static inline float fast_tanhf(float u)
{
    return 1.0f - 2.0f / (1.0f + fast_expf(2.0f * u));
}

RMENS_HOT void encoder_forward(float *out, const int32_t *tokens, const int32_t *pos, const float *wte,
                     const float *wpe, int N, int C)
{
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * C;
        const float *t = wte + (size_t)tokens[i] * C, *p = wpe + (size_t)pos[i] * C;
        for (int c = 0; c < C; c++)
            o[c] = t[c] + p[c];
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                      const int32_t *pos, int N, int C)
{
    /* Serial on purpose: rows scatter into shared embedding rows, and a fixed order keeps
     * the sums bit-identical from run to run. */
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C;
        float *t = dwte + (size_t)tokens[i] * C, *p = dwpe + (size_t)pos[i] * C;
        for (int c = 0; c < C; c++) {
            t[c] += d[c];
            p[c] += d[c];
        }
    }
}

RMENS_HOT void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int N, int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float m = 0;
#pragma omp simd reduction(+ : m)
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= (float)C;
        float v = 0;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) {
            float d = x[c] - m;
            v += d * d;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
#pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

RMENS_HOT void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const float *mean, const float *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C, *x = inp + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        float dnorm_mean = 0, dnorm_norm_mean = 0;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dnorm = weight[c] * d[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dnorm = weight[c] * d[c];
            dbias[c] += d[c];
            dweight[c] += norm * d[c];
            dx[c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

void matmul_forward(float *out, int ldo, const float *inp, int ldi, const float *weight, int ldw,
                    const float *bias, int N, int C, int OC)
{
    if (N == 0)
        return;
    if (bias)
        for (int i = 0; i < N; i++)
            memcpy(out + (size_t)i * ldo, bias, (size_t)OC * sizeof *out);
    sgemm(CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f, inp, ldi, weight, ldw,
                bias ? 1.0f : 0.0f, out, ldo);
}

void matmul_backward(float *dinp, int lddi, float *dweight, int lddw, float *dbias, const float *dout,
                     int lddo, const float *inp, int ldi, const float *weight, int ldw, int N, int C, int OC)
{
    if (N == 0)
        return;
    if (dinp)
        sgemm(CblasNoTrans, CblasTrans, N, C, OC, 1.0f, dout, lddo, weight, ldw,
                    1.0f, dinp, lddi);
    sgemm(CblasTrans, CblasNoTrans, C, OC, N, 1.0f, inp, ldi, dout, lddo, 1.0f,
                dweight, lddw);
    if (dbias)
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * lddo;
            for (int o = 0; o < OC; o++)
                dbias[o] += d[o];
        }
}

RMENS_HOT void gelu_forward(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + fast_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

RMENS_HOT void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float t = fast_tanhf(u);
        float sech2 = 1.0f - t * t;
        float g = 0.5f * (1.0f + t) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += g * dout[i];
    }
}

/* Exact GELU, x Phi(x) with erf (torch.nn.functional.gelu, Hugging Face's "gelu"). */
RMENS_HOT void gelu_erf_forward(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = 0.5f * inp[i] * (1.0f + erff(inp[i] * 0.70710678118654752f));
}

RMENS_HOT void gelu_erf_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float g = 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
        dinp[i] += g * dout[i];
    }
}

RMENS_HOT void residual_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

/* In-place softmax of row[0 .. valid); row[valid .. end) is zeroed. */
RMENS_HOT static void softmax_row(float *row, int valid, int end)
{
    float mx = -INFINITY;
    for (int j = 0; j < valid; j++)
        mx = row[j] > mx ? row[j] : mx;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < valid; j++) {
        row[j] = fast_expf(row[j] - mx);
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < valid; j++)
        row[j] *= inv;
    for (int j = valid; j < end; j++)
        row[j] = 0.0f;
}

void attention_forward(float *out, float *probs, const float *qkv, const rmens_segment *segs, int nsegs,
                       int NH, int NKV, int HD)
{
    const int Q = NH * HD, KV = NKV * HD, C3 = Q + 2 * KV, hs = HD, grp = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int si = 0; si < nsegs; si++) {
        const rmens_segment *g = &segs[si];
        const int na = g->na, nq = g->nq, ld = na + nq;
        for (int h = 0; h < NH; h++) {
            float *P = probs + g->probs + (size_t)h * nq * ld;
            const int kh = Q + h / grp * hs;  /* this head's key column (grouped-query heads share it) */
            const float *Qh = qkv + (size_t)g->q0 * C3 + h * hs;
            const float *KA = qkv + (size_t)g->a0 * C3 + kh, *VA = KA + KV;
            const float *KB = qkv + (size_t)g->q0 * C3 + kh, *VB = KB + KV;
            for (int r0 = 0; r0 < nq; r0 += RMENS_ATT_QB) {
                int r1 = r0 + RMENS_ATT_QB < nq ? r0 + RMENS_ATT_QB : nq, m = r1 - r0;
                float *Pb = P + (size_t)r0 * ld;
                const float *Qb = Qh + (size_t)r0 * C3;
                float *O = out + (size_t)(g->q0 + r0) * Q + h * hs;
                if (na)
                    sgemm(CblasNoTrans, CblasTrans, m, na, hs, scale, Qb, C3, KA, C3,
                                0.0f, Pb, ld);
                /* Only keys [0, r1) of the causal block: the rest is masked for this tile. */
                sgemm(CblasNoTrans, CblasTrans, m, r1, hs, scale, Qb, C3, KB, C3, 0.0f,
                            Pb + na, ld);
                for (int r = r0; r < r1; r++)
                    softmax_row(P + (size_t)r * ld, na + r + 1, na + r1);
                if (na)
                    sgemm(CblasNoTrans, CblasNoTrans, m, hs, na, 1.0f, Pb, ld, VA, C3,
                                0.0f, O, Q);
                sgemm(CblasNoTrans, CblasNoTrans, m, hs, r1, 1.0f, Pb + na, ld, VB, C3,
                            na ? 1.0f : 0.0f, O, Q);
            }
        }
    }
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *probs,
                        const rmens_segment *segs, int nsegs, int NH, int NKV, int HD)
{
    const int Q = NH * HD, KV = NKV * HD, C3 = Q + 2 * KV, hs = HD, grp = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int si = 0; si < nsegs; si++) {
        const rmens_segment *g = &segs[si];
        const int na = g->na, nq = g->nq, ld = na + nq;
        for (int h = 0; h < NH; h++) {
            const float *P = probs + g->probs + (size_t)h * nq * ld;
            const int kh = Q + h / grp * hs;
            const size_t qo = (size_t)g->q0 * C3 + h * hs, ao = (size_t)g->a0 * C3 + kh, bo = (size_t)g->q0 * C3 + kh;
            const float *Qh = qkv + qo, *KA = qkv + ao, *VA = KA + KV, *KB = qkv + bo, *VB = KB + KV;
            float *dQ = dqkv + qo, *dKA = dqkv + ao, *dVA = dKA + KV, *dKB = dqkv + bo, *dVB = dKB + KV;
            for (int r0 = 0; r0 < nq; r0 += RMENS_ATT_QB) {
                int r1 = r0 + RMENS_ATT_QB < nq ? r0 + RMENS_ATT_QB : nq, m = r1 - r0, lds = na + r1;
                const float *Pb = P + (size_t)r0 * ld, *Qb = Qh + (size_t)r0 * C3;
                const float *dO = dout + (size_t)(g->q0 + r0) * Q + h * hs;
                float *dS = scratch;
                /* dP = dO V^T over the visible keys */
                if (na)
                    sgemm(CblasNoTrans, CblasTrans, m, na, hs, 1.0f, dO, Q, VA, C3, 0.0f,
                                dS, lds);
                sgemm(CblasNoTrans, CblasTrans, m, r1, hs, 1.0f, dO, Q, VB, C3, 0.0f,
                            dS + na, lds);
                /* dV += P^T dO */
                if (na)
                    sgemm(CblasTrans, CblasNoTrans, na, hs, m, 1.0f, Pb, ld, dO, Q, 1.0f,
                                dVA, C3);
                sgemm(CblasTrans, CblasNoTrans, r1, hs, m, 1.0f, Pb + na, ld, dO, Q, 1.0f,
                            dVB, C3);
                /* softmax backward: dS = P * (dP - sum(P * dP)) * scale; masked entries are 0 */
                for (int r = r0; r < r1; r++) {
                    const float *p = P + (size_t)r * ld;
                    float *d = dS + (size_t)(r - r0) * lds;
                    int valid = na + r + 1;
                    float dot = 0;
                    for (int j = 0; j < valid; j++)
                        dot += p[j] * d[j];
                    for (int j = 0; j < valid; j++)
                        d[j] = p[j] * (d[j] - dot) * scale;
                    for (int j = valid; j < lds; j++)
                        d[j] = 0.0f;
                }
                /* dQ += dS K ; dK += dS^T Q */
                if (na) {
                    sgemm(CblasNoTrans, CblasNoTrans, m, hs, na, 1.0f, dS, lds, KA, C3, 1.0f,
                                dQ + (size_t)r0 * C3, C3);
                    sgemm(CblasTrans, CblasNoTrans, na, hs, m, 1.0f, dS, lds, Qb, C3, 1.0f,
                                dKA, C3);
                }
                sgemm(CblasNoTrans, CblasNoTrans, m, hs, r1, 1.0f, dS + na, lds, KB, C3, 1.0f,
                            dQ + (size_t)r0 * C3, C3);
                sgemm(CblasTrans, CblasNoTrans, r1, hs, m, 1.0f, dS + na, lds, Qb, C3, 1.0f,
                            dKB, C3);
            }
        }
    }
}

void attention_last_forward(float *out, float *probs, const float *q, const float *kv, const rmens_lastq *lq,
                            int S, int NH, int NKV, int HD)
{
    const int Q = NH * HD, KV = NKV * HD, C3 = Q + 2 * KV, hs = HD, grp = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int s = 0; s < S; s++) {
        const rmens_lastq *g = &lq[s];
        const int n = g->na + g->nb;
        for (int h = 0; h < NH; h++) {
            float *P = probs + g->probs + (size_t)h * n;
            const int kh = Q + h / grp * hs;
            const float *qh = q + (size_t)s * Q + h * hs;
            const float *KA = kv + (size_t)g->a0 * C3 + kh, *VA = KA + KV;
            const float *KB = kv + (size_t)g->b0 * C3 + kh, *VB = KB + KV;
            float *o = out + (size_t)s * Q + h * hs;
            if (g->na)
                sgemv(CblasNoTrans, g->na, hs, scale, KA, C3, qh, 0.0f, P);
            sgemv(CblasNoTrans, g->nb, hs, scale, KB, C3, qh, 0.0f, P + g->na);
            softmax_row(P, n, n);
            if (g->na)
                sgemv(CblasTrans, g->na, hs, 1.0f, VA, C3, P, 0.0f, o);
            sgemv(CblasTrans, g->nb, hs, 1.0f, VB, C3, P + g->na, g->na ? 1.0f : 0.0f, o);
        }
    }
}

void attention_last_backward(float *dq, float *dkv, float *scratch, const float *dout, const float *q,
                             const float *kv, const float *probs, const rmens_lastq *lq, int S, int NH, int NKV, int HD)
{
    const int Q = NH * HD, KV = NKV * HD, C3 = Q + 2 * KV, hs = HD, grp = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int s = 0; s < S; s++) {
        const rmens_lastq *g = &lq[s];
        const int n = g->na + g->nb;
        for (int h = 0; h < NH; h++) {
            const float *P = probs + g->probs + (size_t)h * n;
            const int kh = Q + h / grp * hs;
            const float *qh = q + (size_t)s * Q + h * hs, *dO = dout + (size_t)s * Q + h * hs;
            const size_t ao = (size_t)g->a0 * C3 + kh, bo = (size_t)g->b0 * C3 + kh;
            const float *KA = kv + ao, *VA = KA + KV, *KB = kv + bo, *VB = KB + KV;
            float *dKA = dkv + ao, *dVA = dKA + KV, *dKB = dkv + bo, *dVB = dKB + KV;
            float *dqh = dq + (size_t)s * Q + h * hs, *dS = scratch;
            if (g->na) {
                sgemv(CblasNoTrans, g->na, hs, 1.0f, VA, C3, dO, 0.0f, dS);
                sger(g->na, hs, P, dO, dVA, C3);
            }
            sgemv(CblasNoTrans, g->nb, hs, 1.0f, VB, C3, dO, 0.0f, dS + g->na);
            sger(g->nb, hs, P + g->na, dO, dVB, C3);
            float dot = 0;
            for (int j = 0; j < n; j++)
                dot += P[j] * dS[j];
            for (int j = 0; j < n; j++)
                dS[j] = P[j] * (dS[j] - dot) * scale;
            if (g->na) {
                sgemv(CblasTrans, g->na, hs, 1.0f, KA, C3, dS, 1.0f, dqh);
                sger(g->na, hs, dS, qh, dKA, C3);
            }
            sgemv(CblasTrans, g->nb, hs, 1.0f, KB, C3, dS + g->na, 1.0f, dqh);
            sger(g->nb, hs, dS + g->na, qh, dKB, C3);
        }
    }
}

/* ------------------------------------------------------- Llama family */

void embedding_forward(float *out, const int32_t *tokens, const float *wte, int N, int C)
{
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * C, wte + (size_t)tokens[i] * C, (size_t)C * sizeof *out);
}

void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C)
{
    /* Serial, in row order: bit-identical sums (as encoder_backward). */
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C;
        float *t = dwte + (size_t)tokens[i] * C;
        for (int c = 0; c < C; c++)
            t[c] += d[c];
    }
}

void linear_forward(float *out, int ldo, const float *inp, int ldi, const float *weight, const float *bias, int N,
                    int C, int OC)
{
    if (N == 0)
        return;
    if (bias)
        for (int i = 0; i < N; i++)
            memcpy(out + (size_t)i * ldo, bias, (size_t)OC * sizeof *out);
    sgemm(CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, ldi, weight, C, bias ? 1.0f : 0.0f, out, ldo);
}

void linear_backward(float *dinp, int lddi, float *dweight, float *dbias, const float *dout, int lddo,
                     const float *inp, int ldi, const float *weight, int N, int C, int OC)
{
    if (N == 0)
        return;
    if (dinp)
        sgemm(CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, lddo, weight, C, 1.0f, dinp, lddi);
    sgemm(CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, lddo, inp, ldi, 1.0f, dweight, C);
    if (dbias)
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * lddo;
            for (int o = 0; o < OC; o++)
                dbias[o] += d[o];
        }
}

RMENS_HOT void rmsnorm_forward(float *out, int ldo, float *rstd, const float *inp, int ldi, const float *weight, int N,
                               int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * ldi;
        float *o = out + (size_t)i * ldo;
        float v = 0;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++)
            v += x[c] * x[c];
        float s = 1.0f / sqrtf(v / (float)C + eps);
#pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = weight[c] * (x[c] * s);
        rstd[i] = s;
    }
}

RMENS_HOT void rmsnorm_backward(float *dinp, int lddi, float *dweight, const float *dout, int lddo, const float *inp,
                                int ldi, const float *weight, const float *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * lddo, *x = inp + (size_t)i * ldi;
        float *dx = dinp + (size_t)i * lddi;
        const float s = rstd[i];
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; c++)
            dot += weight[c] * d[c] * x[c] * s;
        dot /= (float)C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float xh = x[c] * s;
            dweight[c] += xh * d[c];
            dx[c] += s * (weight[c] * d[c] - xh * dot);
        }
    }
}

void rope_tables(float *cos_, float *sin_, const int32_t *pos, int N, int rot, float theta,
                 const rmens_model_config *cfg)
{
    const int half = rot / 2;
    float inv[4096];
    for (int i = 0; i < half && i < 4096; i++) {
        /* float32, as transformers computes them */
        float f = 1.0f / powf(theta, (float)(2 * i) / (float)rot);
        if (cfg->rope_type == 1) {
            /* rope_type llama3 (transformers' _compute_llama3_parameters) */
            const float factor = cfg->rope_factor, lo = cfg->rope_low_freq, hi = cfg->rope_high_freq;
            const float old = (float)cfg->rope_original_ctx;
            const float lo_wave = old / lo, hi_wave = old / hi, wave = 2.0f * (float)M_PI / f;
            if (wave > lo_wave)
                f = f / factor;
            else if (!(wave < hi_wave)) {
                float smooth = (old / wave - lo) / (hi - lo);
                f = (1.0f - smooth) * f / factor + smooth * f;
            }
        }
        inv[i] = f;
    }
    for (int r = 0; r < N; r++)
        for (int i = 0; i < half; i++) {
            float a = (float)pos[r] * inv[i];
            cos_[(size_t)r * half + i] = cosf(a);
            sin_[(size_t)r * half + i] = sinf(a);
        }
}

/* sgn 1: rotate by the angle; -1: by minus the angle (the backward). */
static void rope_apply(float *x, int ld, const float *cos_, const float *sin_, int N, int nh, int HD, int rot,
                       float sgn)
{
    const int half = rot / 2;
    for (int r = 0; r < N; r++) {
        const float *c = cos_ + (size_t)r * half, *s = sin_ + (size_t)r * half;
        for (int h = 0; h < nh; h++) {
            float *a = x + (size_t)r * ld + (size_t)h * HD, *b = a + half;
            for (int i = 0; i < half; i++) {
                float u = a[i], v = b[i], si = sgn * s[i];
                a[i] = u * c[i] - v * si;
                b[i] = v * c[i] + u * si;
            }
        }
    }
}

void rope_forward(float *x, int ld, const float *cos_, const float *sin_, int N, int nh, int HD, int rot)
{
    rope_apply(x, ld, cos_, sin_, N, nh, HD, rot, 1.0f);
}

void rope_backward(float *dx, int ld, const float *cos_, const float *sin_, int N, int nh, int HD, int rot)
{
    rope_apply(dx, ld, cos_, sin_, N, nh, HD, rot, -1.0f);
}

RMENS_HOT void swiglu_forward(float *out, const float *gate, const float *up, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + fast_expf(-g)) * up[i];
    }
}

RMENS_HOT void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], s = 1.0f / (1.0f + fast_expf(-g));
        dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        dup[i] += dout[i] * g * s;
    }
}
