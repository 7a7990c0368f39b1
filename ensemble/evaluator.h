/* rmens eval: accuracy, calibration, whether the ensemble's disagreement means anything,
 * and reward-hacking probes, from every member's rewards gathered on rank 0. */
#ifndef RMENS_ENSEMBLE_EVALUATOR_H
#define RMENS_ENSEMBLE_EVALUATOR_H

#include "rmens_mpi.h"

typedef struct {
    const char *ckpt, *data, *ood, *json;
    double lambda;
    int normalize, quiet, force;
    int64_t data_budget;  /* bytes of tokens held in memory per file (rmens_data_budget); 0: auto */
} rmens_eval_options;

rmens_status rmens_eval(const rmens_eval_options *o, MPI_Comm comm);

#endif
