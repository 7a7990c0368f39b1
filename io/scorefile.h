/* The "scores" file (docs/FORMAT.md) written by rmens score: per-sequence aggregates of
 * the members' rewards, optionally every member's reward, and where they came from. */
#ifndef RMENS_IO_SCOREFILE_H
#define RMENS_IO_SCOREFILE_H

#include "rmens.h"

typedef struct {
    const char *ckpt, *data, *command;
    int64_t ckpt_step;         /* -1 for a model file */
    uint32_t ckpt_crc32;       /* of the checkpoint's bytes */
    int members;
    double lambda;
    int normalize;
    int64_t n_cut;
    int pairs;                 /* 1: groups chosen/ and rejected/; 0: datasets at the root */
    int64_t n;                 /* sequences per group */
    const int64_t *prompt_id;  /* [n] the responses file's /prompt_id, copied; or NULL */
    const float *p, *uncertainty;  /* pairs: [n] P(chosen > rejected) and its uncertainty; or NULL */
    const double *tau;         /* [members] the temperatures p was calibrated with, or NULL */
} rmens_scorefile_info;

/* The per-sequence columns of a scores file (also a picks file's), by name. */
#define RMENS_SCORE_NCOLS 7
extern const char *const rmens_score_columns[RMENS_SCORE_NCOLS];  /* mean, min, max, var, std, uwo, wco */
float rmens_score_column(const rmens_score_stats *x, int c);

/* stats: [groups][n]; rewards: [groups][n][members] or NULL. Atomic (temporary + rename). */
rmens_status rmens_scorefile_write(const char *path, int overwrite, const rmens_scorefile_info *info,
                                   const rmens_score_stats *stats, const float *rewards);

#endif
