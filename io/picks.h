/* The "picks" file (docs/FORMAT.md) written by rmens bon: per prompt, the candidate
 * picked, its rewards and uncertainty, and its tokens. */
#ifndef RMENS_IO_PICKS_H
#define RMENS_IO_PICKS_H

#include "rmens.h"

typedef struct {
    const char *ckpt, *candidates, *command, *by, *tokenizer;
    const char *aggregate;      /* a process reward model's solution aggregate ("min", "prod", "last"), or NULL */
    uint32_t ckpt_crc32;
    int members, normalize, calibrated;
    double lambda;
    int64_t G;                  /* prompts */
    const int64_t *prompt_id, *index, *candidate, *group_size;  /* [G] */
    const float *value, *uncertainty;                           /* [G] */
    const float *gold;                                          /* [G] the picks' gold rewards, or NULL */
    const rmens_score_stats *stats;                             /* [G] */
    const float *rewards;                                       /* [G][members] */
    const int32_t *tokens;                                      /* the picks' sequences, concatenated */
    const int64_t *offsets, *prompt_len;                        /* [G + 1], [G] */
} rmens_picks;

/* Atomic (temporary + rename). */
rmens_status rmens_picks_write(const char *path, int overwrite, const rmens_picks *p);

#endif
