/* rmens train: K reward models trained at once under MPI, each on its own bootstrap
 * resample, with evaluation aggregated on rank 0 and one ensemble checkpoint. The trainer
 * prints nothing: what happens reaches the caller as events (rank 0), and the metrics
 * file (io/trainlog) is written from the same events; cli/train.c prints them. */
#ifndef RMENS_ENSEMBLE_TRAINER_H
#define RMENS_ENSEMBLE_TRAINER_H

#include <signal.h>

#include "ensemble/ensemble.h"
#include "model/adamw.h"
#include "rmens_mpi.h"

/* What happened, in the order a run meets them. */
typedef enum {
    RMENS_TRAIN_CUT,         /* a data file has pairs longer than the context (before BEGIN) */
    RMENS_TRAIN_BEGIN,       /* the plan, before the first step */
    RMENS_TRAIN_STEP,        /* a step done by every member */
    RMENS_TRAIN_EVAL,        /* the members evaluated (and the ensemble, given validation data) */
    RMENS_TRAIN_SAVED,       /* the checkpoint written */
    RMENS_TRAIN_EARLY_STOP,  /* patience ran out: the run ends at this step */
    RMENS_TRAIN_BEST,        /* keep_best: a member ends with its weights of its best evaluation */
    RMENS_TRAIN_STOPPED,     /* a stop was requested: saved at this step, to be resumed */
    RMENS_TRAIN_DONE         /* finished and saved */
} rmens_train_event_kind;

typedef struct {
    rmens_train_event_kind kind;
    int64_t step, total;  /* steps done, steps of the run */
    int members;          /* K: the per-member arrays below have K entries */
    union {
        struct {
            const char *file;
            int64_t pairs, cut, prompt_lost;  /* pairs cut, and of them those losing their whole prompt */
            int n_ctx;
        } cut;
        struct {
            int ranks, per_rank, ranks_per_member;
            rmens_model_config cfg;
            size_t nparams;      /* per member */
            int64_t pairs;       /* of the training data */
            int streamed;        /* its tokens are read in chunks (larger than data_budget) */
        } begin;
        struct {
            const double *loss, *accuracy;  /* [K] of this step's batch */
            double loss_mean, loss_std, accuracy_mean;  /* over members */
            double lr, epoch;               /* epoch: passes over a member's sample */
            double elapsed, pairs_per_s, eta;  /* seconds since this run started; to the end */
        } progress;
        struct {
            int final;             /* the last evaluation: reward statistics are set */
            const double *member;  /* [K][RMENS_MA_N] (io/checkpoint.h); NaN where not measured */
            int has_val;           /* accuracy is set */
            double accuracy[RMENS_RULE_N];  /* the ensemble's on validation pairs, by each rule */
            double lambda;
        } eval;
        struct {
            const char *path;
            double seconds;
        } saved;
        struct {
            int patience;
        } early_stop;
        struct {
            int member;
            int64_t step;  /* of its lowest validation loss */
            double loss;
        } best;
    };
} rmens_train_event;

/* Receives every event on rank 0, in order; user is the options' event_user. */
typedef void (*rmens_train_callback)(const rmens_train_event *ev, void *user);

/* What the members learn: Bradley-Terry on pairs, or per-step labels of a steps file
 * (a process reward model: the head read at each step's closing token, binary
 * cross-entropy; model/objective.h). */
typedef enum { RMENS_OBJECTIVE_BT = 0, RMENS_OBJECTIVE_PRM = 1 } rmens_objective;
extern const char *const rmens_objective_names[2];  /* "bt", "prm": the checkpoint's `objective` */

typedef struct {
    const char *data, *val, *out, *init, *metrics;
    /* Warm start (active learning's rounds): every member starts from its own weights in
     * this ensemble checkpoint (same tokenizer, shape and member count), with a fresh
     * bootstrap over data and a fresh optimiser (zero moments, step 0, the schedule again).
     * members 0 (and no model options: model.n_ctx 0) take the checkpoint's. */
    const char *warm_start;
    rmens_objective objective;
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
    int resume, force;
    double lambda;              /* uncertainty weight of mean - lambda * var */
    int share;                  /* lay shared prompts out once */
    int truncate_prompts;       /* accept prompts longer than the context (cut from the front) */
    int gradient_checkpointing; /* keep one layer's activations and every layer's input, and
                                   recompute each layer in the backward pass: less memory, one
                                   more forward pass, the same members bit for bit (so it is
                                   not recorded in the checkpoint) */
    const char *command;        /* the command line, kept in the checkpoint */
    rmens_train_callback on_event;  /* or NULL */
    void *event_user;
} rmens_train_options;

void rmens_train_options_init(rmens_train_options *o);

/* Set from a signal handler (SIGTERM, SIGUSR1): every rank finishes its step, the
 * ensemble is saved, and training returns RMENS_OK early. */
extern volatile sig_atomic_t rmens_train_stop_requested;

/* Collective over comm. Events reach o->on_event on rank 0. */
rmens_status rmens_train(const rmens_train_options *o, MPI_Comm comm);

#endif
