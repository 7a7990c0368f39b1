/* The reward model: a backbone of some architecture (model/arch.h) and a score head
 * (Hugging Face <Arch>ForSequenceClassification, num_labels = 1), the reward read at each
 * sequence's last token. All parameters live in one allocation carved into the tensors of
 * the architecture's table, in Hugging Face layout (GPT-2's Conv1D weights [in, out],
 * nn.Linear weights [out, in]); gradients mirror it. Activations are a named struct
 * carved from one allocation, reserved once for a batch capacity, so a training step
 * never calls malloc. */
#ifndef RMENS_MODEL_MODEL_H
#define RMENS_MODEL_MODEL_H

#include "model/arch.h"
#include "model/batch.h"
#include "model/objective.h"
#include "rmens.h"

/* Shape of one tensor (of one layer for per-layer tensors), for files and init. */
typedef struct {
    int per_layer;   /* 1: stacked [n_layer, ...] in memory, one dataset per layer in files */
    int rank;        /* 1 or 2; 0: the architecture (or this config of it) has no such tensor */
    int64_t dims[2];
    int decay;       /* AdamW weight decay applies (matrices and embeddings) */
} rmens_tensor_shape;

void rmens_tensor_shape_of(const rmens_model_config *cfg, int t, rmens_tensor_shape *sh);
int64_t rmens_tensor_numel(const rmens_model_config *cfg, int t);  /* all layers; 0 if absent */
/* Hugging Face state-dict key of tensor t (of layer l if per layer). */
void rmens_tensor_name(const rmens_model_config *cfg, int t, int l, char *buf, size_t size);
rmens_status rmens_model_config_check(const rmens_model_config *cfg);

/* The activations a forward pass keeps for the backward one (llm.c's ActivationTensors),
 * and the backward's scratch. Per-layer buffers are [L, rows, width] (L = 1 when scoring);
 * a buffer an architecture does not use is empty. */
typedef struct {
    float *encoded;                   /* [N, C] embeddings */
    float *ln1, *ln1_mean, *ln1_rstd; /* [L, N, C], [L, N], [L, N] (RMSNorm: no mean) */
    float *qkv;                       /* [L, N, Q + 2 KV]: q | k | v, after RoPE */
    float *qkvn;                      /* [L, N, Q + KV] q, k before their per-head norm (Qwen3) */
    float *qk_rstd;                   /* [L, N, NH + NKV] */
    float *atty;                      /* [L, N, Q] attention output */
    float *probs;                     /* [L, cap_probs] softmax of each segment */
    float *res2;                      /* [L, N, C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd; /* [L, N, C], [L, N], [L, N] */
    float *fch, *fcu, *fchg;          /* [L, N, I]: c_fc (or gate) pre-activation, up, activated */
    float *res3;                      /* [LR, N, C] residual after the MLP */
    float *rope_cos, *rope_sin;       /* [N, rot / 2] for the batch's positions */
    /* the last layer at the reward rows only (compact_last) and the head */
    float *lastln1, *lastq, *lastqn, *lastq_rstd, *lastatty, *lastprobs, *lastx, *lnf, *lnf_mean, *lnf_rstd, *rewards;
    /* backward scratch */
    float *dres, *dbufC, *dbuf3C, *dbuf4a, *dbuf4b, *dbuf4c, *dlastC, *dlastq, *dlastln1, *dlastres, *dscratch;
    float *dqkvn;                     /* [N, Q + KV] gradient before the per-head norm (Qwen3) */
    float *qkvrow;                    /* [Q + 2 KV] one row between fused layouts (GPT-NeoX) */
} rmens_acts;

struct rmens_model {
    rmens_model_config cfg;
    const rmens_arch *arch;
    size_t nparams;
    float *params, *grads;            /* [nparams] each */
    float *t[RMENS_NTENSORS];         /* tensors carved out of params (NULL: absent) */
    float *g[RMENS_NTENSORS];         /* the same out of grads */
    size_t off[RMENS_NTENSORS];       /* offsets, shared by params, grads, Adam moments */

    /* Reserved activations: capacity in pairs and rows. */
    int cap_pairs, cap_rows;
    size_t acts_floats;               /* size of the reserved activations */
    size_t cap_probs, cap_lq_probs;
    float *acts;                      /* the one allocation */
    rmens_acts a;                     /* carved out of it */
    int fwd_only;      /* 1: one layer's activations, reused, and no backward buffers */
    int recompute;     /* 1: one layer's activations, reused, the residual stream of every
                          layer kept; the backward pass recomputes each layer (rmens_needs_recompute) */
    int compact_last;  /* 1: the last layer only computes what the reward needs */
    int acts_borrowed; /* activations belong to another model (rmens_model_borrow_acts) */
    char *source_config; /* config.json text when loaded from a Hugging Face directory (else NULL) */
};

/* Tensors by Hugging Face name (a checkpoint loader's entry points). Datasets are the
 * table's tensors with per-layer ones expanded, in file order, i in [0, ndatasets). */
int rmens_model_ndatasets(const rmens_model *m);
/* Name, shape and storage of dataset i. */
void rmens_model_dataset(const rmens_model *m, int i, char *name, size_t size, int *rank, int64_t dims[2],
                         float **data);
/* Dataset index of a Hugging Face key (a GPT-2 key may lack "transformer.", a Llama one
 * "model."), RMENS_TENSOR_IGNORED for a tensor an RM does not use (lm_head.weight, GPT-2's
 * attention-mask buffers, rotary inv_freq), RMENS_TENSOR_UNKNOWN otherwise. */
#define RMENS_TENSOR_IGNORED (-2)
#define RMENS_TENSOR_UNKNOWN (-1)
int rmens_model_find(const rmens_model *m, const char *name);
/* Copies an fp32 tensor in by name, checking its shape; *index (if not NULL) receives its
 * dataset index, or RMENS_TENSOR_IGNORED (nothing copied). */
rmens_status rmens_model_set_tensor(rmens_model *m, const char *name, int rank, const int64_t *dims,
                                    const float *data, int *index);

rmens_status rmens_model_alloc(rmens_model **out, const rmens_model_config *cfg);
/* Initialisation from the counter-based generator, as the table says per tensor (GPT-2:
 * N(0, 0.02) weights, c_proj weights N(0, 0.02 / sqrt(2 n_layer)), zero biases, unit
 * LayerNorm gains), one generator stream per tensor. */
void rmens_model_init_params(rmens_model *m, uint64_t seed, uint64_t stream);
/* Draws only the score head (a language-model checkpoint has none). */
void rmens_model_init_head(rmens_model *m, uint64_t seed, uint64_t stream);

/* Reserves activations for batches of up to max_pairs pairs (rows up to 2 n_ctx each). */
rmens_status rmens_model_reserve(rmens_model *m, int max_pairs);
/* The same when no sequence is longer than max_len tokens (memory scales with it). */
rmens_status rmens_model_reserve_len(rmens_model *m, int max_pairs, int max_len);
/* For scoring only: keeps one layer's activations at a time (two residual streams) and
 * no backward buffers: roughly 1/n_layer of the per-layer part (11.5x less at GPT-2
 * small size, less for shallow models); rmens_model_backward must not be called (it
 * fails). Rewards are bit-identical to those of a training reservation. */
rmens_status rmens_model_reserve_forward(rmens_model *m, int max_pairs, int max_len);
/* What a reservation keeps: every layer's activations (training), one layer's and no
 * backward buffers (scoring: rmens_model_reserve_forward), or one layer's, the residual
 * stream at every layer boundary and the backward buffers (activation recomputation,
 * Hugging Face's gradient checkpointing: the backward pass runs each layer's forward
 * again from its kept input before going back through it; gradients bit-identical to
 * RMENS_ACTS_TRAIN's, for one more forward pass of all layers but the last, less the
 * MLP's output product). */
typedef enum { RMENS_ACTS_TRAIN = 0, RMENS_ACTS_FORWARD = 1, RMENS_ACTS_RECOMPUTE = 2 } rmens_acts_kind;
rmens_status rmens_model_reserve_kind(rmens_model *m, int max_pairs, int max_len, rmens_acts_kind kind);
/* Bytes a reservation of that kind would take. */
double rmens_model_acts_bytes(const rmens_model_config *cfg, int max_pairs, int max_len, rmens_acts_kind kind);

/* rewards[S] for the batch's sequences. */
rmens_status rmens_model_forward(rmens_model *m, const rmens_batch *b);
const float *rmens_model_rewards(const rmens_model *m);
/* Accumulates into m->grads the gradient for drewards[S] = dLoss/dreward (after forward);
 * RMENS_ERR_INTERNAL after a forward-only reservation. */
rmens_status rmens_model_backward(rmens_model *m, const rmens_batch *b, const float *drewards);
void rmens_model_zero_grad(rmens_model *m);

/* The families' passes (model/gpt2.c, model/llama.c, model/neox.c), which the two above
 * dispatch to after checking the batch against the reservation. */
void rmens_gpt2_forward(rmens_model *m, const rmens_batch *b);
void rmens_gpt2_backward(rmens_model *m, const rmens_batch *b, const float *drewards);
void rmens_llama_forward(rmens_model *m, const rmens_batch *b);
void rmens_llama_backward(rmens_model *m, const rmens_batch *b, const float *drewards);
void rmens_neox_forward(rmens_model *m, const rmens_batch *b);
void rmens_neox_backward(rmens_model *m, const rmens_batch *b, const float *drewards);

/* A family's layer l forward from the residual entering it (rmens_layer_input) into its
 * activation slot and, unless again (its recomputation in the backward pass, whose output
 * is kept already), the residual it leaves: what the forward pass and the recomputation
 * both run. rmens_layers_forward runs every layer in turn, then rmens_head_rows on the top. */
typedef void (*rmens_layer_forward_fn)(rmens_model *m, const rmens_batch *b, int l, int again);
void rmens_layers_forward(rmens_model *m, const rmens_batch *b, rmens_layer_forward_fn layer);
/* The same after the token embeddings and the batch's RoPE tables (Llama, GPT-NeoX). */
void rmens_rotary_layers_forward(rmens_model *m, const rmens_batch *b, rmens_layer_forward_fn layer);

/* What the families' passes share around the score head (model/model.c): the top of the
 * residual stream at the S reward rows into a->lastx (already there when compact_last);
 * rewards = a->lnf . score.weight; its backward (score gradient, d(lnf) [S, C]); and
 * dst[rows[i]] += src[i] for rows of C channels. */
void rmens_head_rows(rmens_model *m, const rmens_batch *b, const float *top);
void rmens_head_forward(rmens_model *m, int S);
void rmens_head_backward(rmens_model *m, int S, const float *drewards, float *dlnf);
void rmens_rows_add(float *dst, const float *src, const int *rows, int S, int C);

/* Lends src's reserved activations, and their kind (fwd_only), to dst (members trained
 * or scored in turn on one rank share them); dst must not be used while src is, and src
 * must outlive dst's use. */
void rmens_model_borrow_acts(rmens_model *dst, const rmens_model *src);

/* Layer l's activations within a per-layer array of n floats per layer, and which layer
 * slot a pass uses: forward-only models keep one layer's buffers (reused) and two
 * residual streams (alternating); recomputing ones one layer's buffers and every
 * layer's residual; training models one of each per layer. The one definition every
 * family's passes, forward and backward, use. */
#define LAYER(base, l, n) ((base) + (size_t)(l) * (n))
static inline int rmens_act_slot(const rmens_model *m, int l) { return m->fwd_only || m->recompute ? 0 : l; }
static inline int rmens_res_slot(const rmens_model *m, int l) { return m->fwd_only ? l & 1 : l; }
/* The residual stream entering layer l [N, C] (l = n_layer: the top of the stack). */
static inline float *rmens_layer_input(const rmens_model *m, int l)
{
    return l == 0 ? m->a.encoded : LAYER(m->a.res3, rmens_res_slot(m, l - 1), (size_t)m->cap_rows * m->cfg.n_embd);
}
/* Whether the backward pass must run layer l's forward again before going back through
 * it: when recomputing, every layer but the last, whose activations the forward pass
 * left in the slot. */
static inline int rmens_needs_recompute(const rmens_model *m, int l) { return m->recompute && l < m->cfg.n_layer - 1; }

#endif
