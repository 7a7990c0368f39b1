/* The transformer's kernels, llm.c style: plain functions over flat float arrays,
 * outputs first, then inputs, then sizes; every array argument carries its shape.
 * Backward functions accumulate (+=) into their gradient outputs. Matrix products go
 * through cblas_sgemm; weights are in Hugging Face Conv1D layout [in, out], so
 * y = x W + b is a plain row-major product. N counts rows (token positions), C channels.
 *
 * Attention works on "segments" rather than padded sequences: a segment is a run of
 * query rows that see a block A of earlier rows completely (a shared prompt) and their
 * own rows causally. A pair whose two responses share a prompt becomes three segments
 * (the prompt, and each response seeing the prompt as its block A), so the prompt is
 * computed once; causal blocks are tiled so the masked half is never computed. */
#ifndef RMENS_MODEL_LAYERS_H
#define RMENS_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

typedef struct {
    int q0, nq;    /* query rows [q0, q0 + nq), causal among themselves */
    int a0, na;    /* rows [a0, a0 + na) visible to every query (na may be 0) */
    size_t probs;  /* offset of this segment's [NH, nq, na + nq] block in a layer's probs */
} rmens_segment;

void encoder_forward(float *out,                                   /* [N, C] */
                     const int32_t *tokens, const int32_t *pos,    /* [N], [N] */
                     const float *wte, const float *wpe,           /* [V, C], [T, C] */
                     int N, int C);
void encoder_backward(float *dwte, float *dwpe,                    /* [V, C], [T, C] */
                      const float *dout,                           /* [N, C] */
                      const int32_t *tokens, const int32_t *pos,   /* [N], [N] */
                      int N, int C);

void layernorm_forward(float *out, float *mean, float *rstd,       /* [N, C], [N], [N] */
                       const float *inp,                           /* [N, C] */
                       const float *weight, const float *bias,     /* [C], [C] */
                       int N, int C, float eps);
void layernorm_backward(float *dinp, float *dweight, float *dbias, /* [N, C], [C], [C] */
                        const float *dout, const float *inp,       /* [N, C], [N, C] */
                        const float *weight,                       /* [C] */
                        const float *mean, const float *rstd,      /* [N], [N] */
                        int N, int C);

/* out = inp W + bias, with leading dimensions so column slices of W (Q, or K and V)
 * and of out can be addressed in place. bias may be NULL. */
void matmul_forward(float *out, int ldo,                           /* [N, OC] */
                    const float *inp, int ldi,                     /* [N, C] */
                    const float *weight, int ldw,                  /* [C, OC] */
                    const float *bias,                             /* [OC] */
                    int N, int C, int OC);
void matmul_backward(float *dinp, int lddi,                        /* [N, C] (NULL: skip) */
                     float *dweight, int lddw, float *dbias,       /* [C, OC], [OC] */
                     const float *dout, int lddo,                  /* [N, OC] */
                     const float *inp, int ldi,                    /* [N, C] */
                     const float *weight, int ldw,                 /* [C, OC] */
                     int N, int C, int OC);

void gelu_forward(float *out, const float *inp, size_t n);         /* [n], [n]; tanh form */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void gelu_erf_forward(float *out, const float *inp, size_t n);     /* [n], [n]; exact (erf) form */
void gelu_erf_backward(float *dinp, const float *inp, const float *dout, size_t n);

void residual_forward(float *out, const float *a, const float *b, size_t n);

/* Causal multi-head attention over segments, with grouped-query heads. qkv rows hold
 * [Q | K | V]: NH query heads then NKV key and NKV value heads of HD channels each
 * (Q = NH HD, KV = NKV HD; query head h reads key/value head h / (NH / NKV)); GPT-2 is
 * NKV = NH, HD = C / NH. probs receives each segment's softmax; scale 1 / sqrt(HD). */
void attention_forward(float *out,                                 /* [N, Q] */
                       float *probs,                               /* [sum of NH*nq*(na+nq)] */
                       const float *qkv,                           /* [N, Q + 2 KV] */
                       const rmens_segment *segs, int nsegs, int NH, int NKV, int HD);
void attention_backward(float *dqkv,                               /* [N, Q + 2 KV] */
                        float *scratch,                            /* [QB * (max na+nq)] */
                        const float *dout,                         /* [N, Q] */
                        const float *qkv, const float *probs,
                        const rmens_segment *segs, int nsegs, int NH, int NKV, int HD);

/* Attention for one query per sequence (the reward position of the last layer): query
 * s is row s of q, and sees rows [a0, a0+na) and [b0, b0+nb) of kv (rows laid out as
 * attention_forward's qkv; only K and V are read). */
typedef struct {
    int a0, na, b0, nb;
    size_t probs;  /* offset of this query's [NH, na + nb] block */
} rmens_lastq;

void attention_last_forward(float *out,                            /* [S, Q] */
                            float *probs,                          /* [sum NH*(na+nb)] */
                            const float *q,                        /* [S, Q] */
                            const float *kv,                       /* [N, Q + 2 KV] */
                            const rmens_lastq *lq, int S, int NH, int NKV, int HD);
void attention_last_backward(float *dq,                            /* [S, Q] */
                             float *dkv,                           /* [N, Q + 2 KV] */
                             float *scratch,                       /* [max na+nb] */
                             const float *dout,                    /* [S, Q] */
                             const float *q, const float *kv, const float *probs,
                             const rmens_lastq *lq, int S, int NH, int NKV, int HD);

/* ---- the Llama family's kernels (Hugging Face modeling_llama.py semantics) ---- */

/* out = embedding rows of the tokens (no position table: RoPE places them). */
void embedding_forward(float *out,                                 /* [N, C] */
                       const int32_t *tokens, const float *wte,    /* [N], [V, C] */
                       int N, int C);
void embedding_backward(float *dwte,                               /* [V, C] */
                        const float *dout, const int32_t *tokens,  /* [N, C], [N] */
                        int N, int C);

/* out = inp W^T + bias with nn.Linear's weight [OC, C]; leading dimensions as matmul. */
void linear_forward(float *out, int ldo,                           /* [N, OC] */
                    const float *inp, int ldi,                     /* [N, C] */
                    const float *weight,                           /* [OC, C] */
                    const float *bias,                             /* [OC] or NULL */
                    int N, int C, int OC);
void linear_backward(float *dinp, int lddi,                        /* [N, C] (NULL: skip) */
                     float *dweight, float *dbias,                 /* [OC, C], [OC] or NULL */
                     const float *dout, int lddo,                  /* [N, OC] */
                     const float *inp, int ldi,                    /* [N, C] */
                     const float *weight,                          /* [OC, C] */
                     int N, int C, int OC);

/* RMSNorm over rows of C channels spaced ld apart: out = inp / sqrt(mean(inp^2) + eps)
 * * weight, in float as LlamaRMSNorm. */
void rmsnorm_forward(float *out, int ldo, float *rstd,             /* [N, C], [N] */
                     const float *inp, int ldi,                    /* [N, C] */
                     const float *weight,                          /* [C] */
                     int N, int C, float eps);
void rmsnorm_backward(float *dinp, int lddi, float *dweight,       /* [N, C], [C] */
                      const float *dout, int lddo,                 /* [N, C] */
                      const float *inp, int ldi,                   /* [N, C] */
                      const float *weight, const float *rstd,      /* [C], [N] */
                      int N, int C);

/* The rotation angles of each row's position: cos, sin of pos * inv_freq[i] for the
 * rot / 2 frequencies theta^(-2i / rot) (rope_type llama3 rescales them first). */
void rope_tables(float *cos_, float *sin_,                         /* [N, rot / 2] each */
                 const int32_t *pos,                               /* [N] */
                 int N, int rot, float theta, const rmens_model_config *cfg);
/* Rotates, in place, the first rot channels of each of nh heads of HD channels at the
 * start of each row (rows ld apart), Hugging Face's rotate-half convention: channel i
 * pairs with i + rot / 2. Backward rotates the gradient back (the transpose). */
void rope_forward(float *x, int ld,                                /* [N, nh * HD] */
                  const float *cos_, const float *sin_,            /* [N, rot / 2] */
                  int N, int nh, int HD, int rot);
void rope_backward(float *dx, int ld,                              /* [N, nh * HD] */
                   const float *cos_, const float *sin_,           /* [N, rot / 2] */
                   int N, int nh, int HD, int rot);

/* SwiGLU: out = silu(gate) * up. */
void swiglu_forward(float *out,                                    /* [n] */
                    const float *gate, const float *up,            /* [n], [n] */
                    size_t n);
void swiglu_backward(float *dgate, float *dup,                     /* [n], [n] */
                     const float *dout,                            /* [n] */
                     const float *gate, const float *up,           /* [n], [n] */
                     size_t n);

/* Hot elementwise loops get an AVX2+FMA clone next to the baseline one, picked at run
 * time (results are bit-identical on one kind of machine, not across kinds). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RMENS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RMENS_HOT
#endif

/* Query rows per tile of a causal block: work on the masked half is at most one tile. */
#define RMENS_ATT_QB 64

/* Floating-point operations of every product the calling thread issued so far (for
 * rmens bench). */
double rmens_layers_flops(void);

#endif
