/* The reward model: GPT-2 (Hugging Face GPT2ForSequenceClassification, num_labels = 1).
 * All parameters live in one allocation carved into named tensors, in Hugging Face
 * layout (Conv1D weights [in, out]); gradients mirror it. Activations are allocated once
 * for a batch capacity, so a training step never calls malloc. */
#ifndef RMENS_ENSEMBLE_MODEL_H
#define RMENS_ENSEMBLE_MODEL_H

#include "ensemble/batch.h"
#include "rmens.h"

enum {
    RMENS_T_WTE, RMENS_T_WPE,
    RMENS_T_LN1W, RMENS_T_LN1B, RMENS_T_QKVW, RMENS_T_QKVB, RMENS_T_ATTPROJW, RMENS_T_ATTPROJB,
    RMENS_T_LN2W, RMENS_T_LN2B, RMENS_T_FCW, RMENS_T_FCB, RMENS_T_FCPROJW, RMENS_T_FCPROJB,
    RMENS_T_LNFW, RMENS_T_LNFB, RMENS_T_SCOREW,
    RMENS_NTENSORS
};

/* Shape of one tensor (of one layer for per-layer tensors), for files and init. */
typedef struct {
    int per_layer;   /* 1: stacked [n_layer, ...] in memory, one dataset per layer in files */
    int rank;        /* 1 or 2 */
    int64_t dims[2];
    int decay;       /* AdamW weight decay applies (matrices and embeddings) */
} rmens_tensor_shape;

void rmens_tensor_shape_of(const rmens_model_config *cfg, int t, rmens_tensor_shape *sh);
int64_t rmens_tensor_numel(const rmens_model_config *cfg, int t);  /* all layers */
/* Hugging Face state-dict key of tensor t (of layer l if per layer). */
void rmens_tensor_name(int t, int l, char *buf, size_t size);
rmens_status rmens_model_config_check(const rmens_model_config *cfg);

struct rmens_model {
    rmens_model_config cfg;
    size_t nparams;
    float *params, *grads;            /* [nparams] each */
    float *t[RMENS_NTENSORS];         /* tensors carved out of params */
    float *g[RMENS_NTENSORS];         /* the same out of grads */
    size_t off[RMENS_NTENSORS];       /* offsets, shared by params, grads, Adam moments */

    /* Reserved activations: capacity in pairs and rows. */
    int cap_pairs, cap_rows;
    size_t acts_floats;               /* size of the reserved activations */
    size_t cap_probs, cap_lq_probs;
    float *acts;
    float *encoded, *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *probs, *res2, *ln2, *ln2_mean,
          *ln2_rstd, *fch, *fchg, *res3;
    float *lastln1, *lastq, *lastatty, *lastprobs, *lastx, *lnf, *lnf_mean, *lnf_rstd, *rewards;
    /* backward scratch */
    float *dres, *dbufC, *dbuf3C, *dbuf4a, *dbuf4b, *dlastC, *dlastq, *dlastln1, *dlastres, *dscratch;
    int fwd_only;      /* 1: one layer's activations, reused, and no backward buffers */
    int compact_last;  /* 1: the last layer only computes what the reward needs */
    int acts_borrowed; /* activations belong to another model (rmens_model_borrow_acts) */
};

rmens_status rmens_model_alloc(rmens_model **out, const rmens_model_config *cfg);
/* GPT-2 initialisation from the counter-based generator: N(0, 0.02) weights, c_proj
 * weights N(0, 0.02 / sqrt(2 n_layer)), zero biases, unit LayerNorm gains. */
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
/* Bytes the reservation above (fwd_only 1) or rmens_model_reserve_len (0) would take. */
double rmens_model_acts_bytes(const rmens_model_config *cfg, int max_pairs, int max_len, int fwd_only);

/* rewards[S] for the batch's sequences. */
rmens_status rmens_model_forward(rmens_model *m, const rmens_batch *b);
const float *rmens_model_rewards(const rmens_model *m);
/* Accumulates into m->grads the gradient for drewards[S] = dLoss/dreward (after forward);
 * RMENS_ERR_INTERNAL after a forward-only reservation. */
rmens_status rmens_model_backward(rmens_model *m, const rmens_batch *b, const float *drewards);
void rmens_model_zero_grad(rmens_model *m);

/* Bradley-Terry loss over the batch: mean of -log sigmoid(r_w - r_l - margin) plus
 * center * mean((r_w + r_l)^2); writes drewards[S] and returns the loss. correct
 * (optional) receives how many pairs have r_w > r_l. */
double rmens_bt_loss(float *drewards, const float *rewards, const float *margin, int B, float center,
                     int *correct);
/* The same for B of the norm pairs of a batch split over ranks: losses and gradients are
 * divided by norm, so the shards' sums make the whole batch's mean. */
double rmens_bt_loss_part(float *drewards, const float *rewards, const float *margin, int B, int norm, float center,
                          int *correct);
/* Lends src's reserved activations, and their kind (fwd_only), to dst (members trained
 * or scored in turn on one rank share them); dst must not be used while src is, and src
 * must outlive dst's use. */
void rmens_model_borrow_acts(rmens_model *dst, const rmens_model *src);

#endif
