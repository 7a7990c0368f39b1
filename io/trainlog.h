/* The `metrics` file of a training run (docs/TRAINING.md): JSON Lines, one object per
 * step ("train"), per evaluation ("eval") and, when the run fails, one "error" row, each
 * flushed as written. Written from the trainer's events on rank 0. */
#ifndef RMENS_IO_TRAINLOG_H
#define RMENS_IO_TRAINLOG_H

#include <stdio.h>

#include "ensemble/trainer.h"

/* Opens path for writing (append: continue a resumed run's rows). */
rmens_status rmens_trainlog_open(FILE **f, const char *path, int append);
/* The row of a STEP or EVAL event; other events have none. */
void rmens_trainlog_event(FILE *f, const rmens_train_event *ev);
/* The row saying how the run ended: status st at step, with its message. */
void rmens_trainlog_error(FILE *f, int64_t step, rmens_status st, const char *message);

#endif
