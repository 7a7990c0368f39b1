/* A batch of preference pairs laid out for the model without padding: every token of
 * every sequence is one row. With prompt sharing, a pair is laid out as its shared
 * prompt once, then the chosen response, then the rejected one, and attention
 * segments let each response see the prompt rows; without it, each sequence is laid
 * out whole. Sequences longer than the context lose tokens from the front (the reward
 * reads the end), both sides of a pair by the same count while a prompt is left. */
#ifndef RMENS_MODEL_BATCH_H
#define RMENS_MODEL_BATCH_H

#include "model/layers.h"
#include "rmens.h"

typedef struct {
    int B, S, N;            /* pairs, sequences (2B: chosen 2i, rejected 2i+1), rows */
    int32_t *tokens, *pos;  /* [N] */
    int *last;              /* [S] row of each sequence's last token: where its reward is read */
    rmens_segment *segs;    /* attention segments, all layers but a compact last one */
    int nsegs;
    size_t probs_size;      /* floats of softmax storage per layer for segs */
    rmens_lastq *lq;        /* [S] one query per sequence, for a compact last layer */
    size_t lq_probs_size;
    int max_keys;           /* largest na + nq (or na + nb): sizes attention scratch */
    float *margin;          /* [B] margin of each pair, times the margin scale */
    int n_cut;              /* pairs in this batch cut to fit the context */
    int cap_pairs, n_ctx, n_head;
} rmens_batch;

/* The truncation rule, its one definition: a pair whose longer side has more than T
 * tokens loses the excess from the front of both sides while its prompt (P shared
 * leading tokens) outlasts the cut, so the prompt stays shared; otherwise each side is cut
 * to its last T tokens and no prompt is left to share. A single sequence is a pair with an
 * empty other side and no prompt. */
typedef struct {
    int64_t chosen, rejected;  /* tokens cut from the front of each side */
    int64_t prompt;            /* shared prompt tokens left */
    int cut;                   /* the pair is cut */
    int prompt_lost;           /* it had a prompt and the cut took all of it */
} rmens_cut;
rmens_cut rmens_batch_cut(int64_t len_chosen, int64_t len_rejected, int64_t prompt_len, int64_t T);

/* Allocates room for max_pairs pairs of at most n_ctx tokens each. */
rmens_status rmens_batch_init(rmens_batch *b, int max_pairs, int n_ctx, int n_head);
void rmens_batch_free(rmens_batch *b);

/* Lays out pairs idx[0..B) of ds. share: lay shared prompts out once. */
rmens_status rmens_batch_build(rmens_batch *b, const rmens_dataset *ds, const int64_t *idx, int B,
                               int share, float margin_scale);

/* Lays out n single sequences (scoring responses): each its own segment, cut to its last
 * n_ctx tokens; rewards come back in the order given. n <= 2 * capacity in pairs. */
rmens_status rmens_batch_build_seqs(rmens_batch *b, const int32_t *const *seqs, const int64_t *lens, int n);

/* Process rewards: solutions idx[0..B) of a steps file, each one causal segment (cut to
 * its last n_ctx tokens), read at the closing token of each of its steps (labelled_only:
 * of each labelled one) whose token survives the cut: S reads in order, labels[S] their
 * labels (NULL: not wanted). The room for P pairs holds 2P reads and 2P n_ctx rows. */
rmens_status rmens_batch_build_steps(rmens_batch *b, const rmens_dataset *ds, const int64_t *idx, int B,
                                     int labelled_only, float *labels);
/* How many reads solution i gives at context T (as rmens_batch_build_steps lays it out). */
int rmens_batch_steps_read(const rmens_dataset *ds, int64_t i, int T, int labelled_only);

/* The same for solutions given as token arrays: seqs[i] of lens[i] tokens, its nsteps[i]
 * steps closing one before ends[i][k]; every step read (no labels). Lays out the first
 * *laid of the n, as many as the room holds (the first one must fit). Both builders lay
 * a solution out alike, so its reads are the same. */
rmens_status rmens_batch_build_step_seqs(rmens_batch *b, const int32_t *const *seqs, const int64_t *lens,
                                         const int32_t *const *ends, const int64_t *nsteps, int64_t n, int *laid);
/* Reads of a solution of len tokens whose n steps close one before end[k], at context T. */
int rmens_batch_steps_kept(int64_t len, const int32_t *end, int64_t n, int T);

#endif
