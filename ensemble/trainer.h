/* rmens train: K reward models trained at once under MPI, each on its own bootstrap
 * resample, with evaluation aggregated on rank 0 and one ensemble checkpoint. */
#ifndef RMENS_ENSEMBLE_TRAINER_H
#define RMENS_ENSEMBLE_TRAINER_H

#include <signal.h>

#include "model/adamw.h"
#include "rmens_mpi.h"

typedef struct {
    const char *data, *val, *out, *init, *metrics;
    int64_t data_budget;        /* bytes of tokens per file held in memory (rmens_data_budget) */
    int members;
    int member_offset;          /* index of member 0 in the whole ensemble (job arrays: --member k) */
    int ensemble_size;          /* members of the whole ensemble (0: members) */
    rmens_model_config model;   /* vocab_size is taken from the data */
    int batch;
    rmens_adamw_config opt;
    int64_t steps;              /* if > 0; else epochs decide */
    double epochs;
    double bootstrap;           /* fraction of N drawn per member; < 0: no resampling */
    uint64_t seed;
    float margin_scale, center;
    int64_t eval_every, save_every;
    int keep_best;              /* end with each member's weights of its lowest validation loss */
    int patience;               /* > 0: stop after this many evaluations without a lower mean
                                   validation loss over members */
    int64_t norm_pairs;         /* training pairs sampled for reward_mean/std (0: all) */
    int64_t oob_pairs;          /* out-of-bag pairs sampled per evaluation (0: all) */
    int resume, quiet, force;
    double lambda;              /* uncertainty weight of mean - lambda * var */
    int share;                  /* lay shared prompts out once */
    int truncate_prompts;       /* accept prompts longer than the context (cut from the front) */
    double progress_seconds;    /* between progress lines */
    const char *command;        /* the command line, kept in the checkpoint */
} rmens_train_options;

void rmens_train_options_init(rmens_train_options *o);

/* Set from a signal handler (SIGTERM, SIGUSR1): every rank finishes its step, the
 * ensemble is saved, and training returns RMENS_OK early. */
extern volatile sig_atomic_t rmens_train_stop_requested;

/* Collective over comm. Rank 0 prints progress (unless quiet) to stdout. */
rmens_status rmens_train(const rmens_train_options *o, MPI_Comm comm);

#endif
