/* rmens score: an ensemble's rewards for every sequence of a data file, members spread
 * over ranks as in training, per-sequence statistics merged onto rank 0 by the
 * Chan-merge MPI_Op, written as a "scores" file. */
#ifndef RMENS_ENSEMBLE_SCORER_H
#define RMENS_ENSEMBLE_SCORER_H

#include "rmens_mpi.h"

typedef struct {
    const char *ckpt, *data, *out, *command;
    double lambda;
    int normalize, per_member, force;
    int batch;  /* sequences per forward pass; 0: the default */
    int64_t data_budget;  /* bytes of tokens held in memory (rmens_data_budget); 0: auto */
} rmens_score_options;

/* What a score run did, the same on every rank (but seconds, each rank's own). */
typedef struct {
    int64_t n;          /* pairs, or responses, scored */
    int64_t sequences;  /* sequences scored: both sides of every pair */
    int pairs;          /* 1: a pairs file */
    int members, n_ctx;
    int64_t n_cut;      /* sequences cut to n_ctx from the front */
    double seconds;     /* opening the members, scoring and gathering */
} rmens_score_result;

/* Collective over comm: scores o->data and writes o->out (rank 0). */
rmens_status rmens_score(const rmens_score_options *o, MPI_Comm comm, rmens_score_result *res);

/* Collective: every member's reward for every sequence of ds (pairs: chosen 0..n-1 then
 * rejected 0..n-1), gathered on rank 0 into *rewards [S][K] (NULL on other ranks). data
 * names ds in messages. */
rmens_status rmens_score_gather(const char *ckpt, const char *data, const rmens_dataset *ds, int normalize,
                                MPI_Comm comm, float **rewards, int *K, int64_t *n_cut);

/* Members in a checkpoint (1 for a model file), and its step (-1 for a model file). */
rmens_status rmens_score_count_members(const char *path, int *K, int64_t *step);
/* CRC-32 of a whole file (0 if it cannot be read): names the checkpoint scores came from. */
uint32_t rmens_score_file_crc32(const char *path);

#endif
