/* The "ensemble" checkpoint (docs/FORMAT.md): one HDF5 file holding every member's
 * weights (as in a model file), Adam moments, bootstrap counts and metrics, written
 * with parallel HDF5 — datasets created collectively, each member's data written by
 * the rank that owns it — under a temporary name renamed into place only after every
 * rank succeeded. */
#ifndef RMENS_IO_CHECKPOINT_H
#define RMENS_IO_CHECKPOINT_H

#include "model/model.h"
#include "rmens_mpi.h"

/* The longest config.json text a checkpoint keeps (real ones are 1-2 KB). */
#define RMENS_HF_CONFIG_MAX 16384

/* Per-member numbers kept as attributes, in this order. */
enum {
    RMENS_MA_VAL_LOSS, RMENS_MA_VAL_ACC, RMENS_MA_VAL_MARGIN, RMENS_MA_OOB_ACC, RMENS_MA_REWARD_MEAN,
    RMENS_MA_REWARD_STD, RMENS_MA_OOB_LOSS, RMENS_MA_OOB_MARGIN, RMENS_MA_N
};
extern const char *const rmens_member_attr_names[RMENS_MA_N];

typedef struct {
    rmens_model_config cfg;
    int members;
    int64_t step, total_steps, n_pairs;
    uint64_t seed;
    double bootstrap;  /* fraction, or -1 for none */
    /* hyperparameters a resume must not change */
    int batch, warmup, share;
    int member_offset;   /* a part of a larger ensemble (job arrays): index of its member 0 */
    int ensemble_size;   /* members of the whole ensemble the part belongs to */
    int64_t data_crc32;  /* fingerprint of the training pairs (tokens, offsets, prompts, margins) */
    double lr, min_lr_frac, beta1, beta2, eps, weight_decay, clip, margin_scale, center;
    char tokenizer[128];  /* the training data's ("bytes" in files from before it was kept) */
    int64_t eot_token;   /* the training data's end-of-text token; -1 in files from before it was kept */
    char template_name[32];  /* the training data's conversation template ("" if it named none: hh) */
    char objective[8];       /* "bt" (pairs; also files from before it was kept) or "prm" (steps) */
    char step_separator[64]; /* prm: the training data's step separator; "" when it recorded none */
    char data[1024];
    char command[4096];
    /* Trained from a Hugging Face directory (--init DIR): its config.json text and the
     * directory (absolute; its tokenizer files are what export copies); "" otherwise. Kept
     * for export, not compared by resume or merge. */
    char hf_config[RMENS_HF_CONFIG_MAX];
    char hf_dir[1024];
    int64_t data_vocab;  /* the training data's vocabulary (its tokenizer's); 0 when unknown */
} rmens_ckpt_header;

typedef struct {
    int index;
    const float *params, *adam_m, *adam_v;  /* [nparams] each */
    const int32_t *counts;                  /* [n_pairs] */
} rmens_ckpt_member;

/* Collective over comm. attrs: [members][RMENS_MA_N], the same on every rank; local:
 * the members this rank owns (writes). Refuses (RMENS_ERR_NUMERIC on every rank, naming
 * member, tensor and step, before any file is touched) to save a non-finite parameter or
 * Adam moment; every dataset gets the crc32 attribute of its data (io/checksum.h). */
rmens_status rmens_checkpoint_save(const char *path, MPI_Comm comm, const rmens_ckpt_header *h, const double *attrs,
                                   const rmens_ckpt_member *local, int n_local);

rmens_status rmens_checkpoint_read_header(const char *path, rmens_ckpt_header *h);
/* Header comparison, its one definition: the first field (in the header table's order)
 * in which a and b differ, among the fields named in names (only) or all but them
 * (!only; names NULL-terminated, or NULL); its name and both values as text in *d. 0
 * when they agree. Model fields are named as in the config (n_ctx, ...). */
typedef struct {
    char field[32], a[1100], b[1100];
} rmens_hdiff;
int rmens_ckpt_header_differ(const rmens_ckpt_header *a, const rmens_ckpt_header *b, const char *const *names,
                             int only, rmens_hdiff *d);
/* Reads member k's params (into m), moments and counts (any may be NULL; the moments
 * need m), verifying each dataset's checksum: a mismatch is RMENS_ERR_FORMAT "PATH: member
 * k: <dataset>: checksum mismatch (stored 0x..., computed 0x...): the file is corrupted".
 * A member written before checksums (no `checksum` attribute) is read unverified. */
rmens_status rmens_checkpoint_read_member(const char *path, int k, rmens_model *m, float *adam_m, float *adam_v,
                                          int32_t *counts, int64_t n_pairs, double *attrs);
/* 1 if member k of path carries checksums, 0 if not (written before them), -1 if the
 * file or member cannot be opened. */
int rmens_checkpoint_member_checksummed(const char *path, int k);

/* Joins one-member checkpoints of one ensemble (job-array parts: rmens train --member k)
 * into one checkpoint with the same content as a single MPI run of all the members. */
rmens_status rmens_checkpoint_merge(const char *out, const char *const *parts, int n, const char *command,
                                    int overwrite);

#endif
