/* rmens score: an ensemble's rewards for every sequence of a data file, members spread
 * over ranks as in training, per-sequence statistics merged onto rank 0 by the
 * Chan-merge MPI_Op, written as a "scores" file. */
#ifndef RMENS_ENSEMBLE_SCORER_H
#define RMENS_ENSEMBLE_SCORER_H

#include "rmens.h"

typedef struct {
    const char *ckpt, *data, *out, *command;
    double lambda;
    int normalize, per_member, force, quiet;
} rmens_score_options;

rmens_status rmens_score(const rmens_score_options *o, MPI_Comm comm);

#endif
