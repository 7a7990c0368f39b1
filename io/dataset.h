/* The in-memory form of a pairs or responses file (docs/FORMAT.md), its builder, its
 * validator and its HDF5 reader/writer. The struct is internal; rmens.h exposes accessors. */
#ifndef RMENS_IO_DATASET_H
#define RMENS_IO_DATASET_H

#include <hdf5.h>

#include "rmens.h"

#define RMENS_FORMAT_VERSION 1
/* Data files recording a Hugging Face tokenizer (docs/FORMAT.md); readers take 1 and 2. */
#define RMENS_DATA_VERSION 2
/* The longest step separator a steps file or checkpoint records, its NUL included. */
#define RMENS_STEP_SEP_MAX 64

/* Optional parts a dataset carries; chosen when it is created. */
enum {
    RMENS_HAS_PROMPT = 1u << 0,  /* /prompt_len (always present in a pairs file) */
    RMENS_HAS_MARGIN = 1u << 1,  /* /margin */
    RMENS_HAS_GOLD = 1u << 2,    /* /<side>/gold */
    RMENS_HAS_TRAP = 1u << 3,    /* /trap */
    RMENS_HAS_SOURCE = 1u << 4,  /* /source_record */
    RMENS_HAS_STEPS = 1u << 5,   /* /<side>/step_offsets, step_end, step_label */
    RMENS_HAS_GROUP = 1u << 6,   /* /prompt_id: responses to one prompt (responses files) */
    RMENS_HAS_WEIGHT = 1u << 7   /* /weight: per-pair loss weight (pairs files; absent = 1) */
};

typedef struct {
    int32_t *tokens;        /* [ntok] every sequence of this side, concatenated */
    int64_t *offsets;       /* [n+1] sequence i is tokens[offsets[i] .. offsets[i+1]) */
    float *gold;            /* [n] gold reward (synthetic data) */
    int64_t *step_offsets;  /* [n+1] steps of sequence i are step_*[step_offsets[i] ..] */
    int32_t *step_end;      /* [nsteps] token index (in the sequence) one past the step */
    int8_t *step_label;     /* [nsteps] 1 = correct step, 0 = wrong */
    float *step_target;     /* [nsteps] a steps file's labels: in [0, 1], or -1 unlabelled */
    int64_t ntok, nsteps;
    int64_t cap_tok, cap_steps;  /* builder capacity */
    /* A streamed file (tokens == NULL) reads its tokens through a window (io/dataset.c). */
    hid_t dset;                  /* the open /<side>/tokens, or -1 */
    int32_t *win;                /* tokens[win_lo .. win_lo + win_n) */
    int64_t win_lo, win_n, win_cap;
    uint32_t tok_crc;            /* a streamed side's CRC-32 of all its tokens, from validation */
} rmens_seqs;

struct rmens_dataset {
    rmens_data_kind kind;
    unsigned has;            /* RMENS_HAS_* */
    int64_t n;               /* records */
    int64_t cap;             /* builder capacity in records */
    int32_t vocab_size, eot;
    char tokenizer[128];     /* "bytes" or name@sha256 (RMENS_TOKENIZER_ID_LEN) */
    char tokenizer_sha256[65], template_name[16];  /* "" when not recorded */
    char step_separator[RMENS_STEP_SEP_MAX];  /* a steps file's step separator; "" when not recorded */
    int32_t bos, pad;        /* the tokenizer's special ids; -1 when none */
    char task[32];           /* synthetic task name, or "" */
    char source[1024];       /* where the records came from, or "" */
    int64_t seed;            /* generator seed of synthetic data; -1 if none */
    rmens_seqs side[2];      /* chosen, rejected; a responses file uses side[0] */
    int32_t *prompt_len;     /* [n] */
    float *margin;           /* [n] */
    int8_t *trap;            /* [n] rmens_trap */
    int64_t *source_record;  /* [n] 0-based index of the record in the source file */
    int64_t *prompt_id;      /* [n] which prompt response i answers (0-based group) */
    float *weight;           /* [n] loss weight of pair i (a ranking's pairs share one prompt's unit) */
    int streamed;            /* tokens stay in the file (rmens_dataset_read_bounded) */
    hid_t file;              /* the file they are read from, or -1 */
};

/* Steps of record i of a steps file (or of side s of a pairs/responses file with steps):
 * *n steps, step_end (one past each step's last token, within the sequence). */
const int32_t *rmens_dataset_step_ends(const rmens_dataset *ds, int s, int64_t i, int64_t *n);
/* A steps file's labels of record i (RMENS_STEP_UNLABELLED where none); NULL otherwise. */
const float *rmens_dataset_step_targets(const rmens_dataset *ds, int64_t i);


/* rmens_trap's names, by value: "none", "length", "format", "confidence", "sycophancy". */
#define RMENS_NTRAPS 5
extern const char *const rmens_trap_names[RMENS_NTRAPS];

/* One record to append; unused members are ignored according to ds->has. */
typedef struct {
    const int32_t *tok[2];
    int64_t len[2];
    int32_t prompt_len;
    float margin;
    float gold[2];
    int8_t trap;
    int64_t source_record;
    int64_t prompt_id;
    float weight;
    const int32_t *step_end[2];
    const int8_t *step_label[2];
    const float *step_target;  /* a steps file's labels (RMENS_STEP_UNLABELLED: none) */
    int64_t nsteps[2];
} rmens_record;

rmens_status rmens_dataset_new(rmens_dataset **out, rmens_data_kind kind, unsigned has,
                               int32_t vocab_size, int32_t eot, const char *tokenizer);
rmens_status rmens_dataset_append(rmens_dataset *ds, const rmens_record *r);
/* A new data set of records rows[0..n) of src, in that order, every field and file
 * attribute (tokenizer, template, task, source, seed) kept: rmens select's two parts of a
 * pool. swap (NULL: none) exchanges the two sides of record j where swap[j] (sequences,
 * gold and steps; a pairs file). src may be streamed. */
rmens_status rmens_dataset_subset(rmens_dataset **out, const rmens_dataset *src, const int64_t *rows, int64_t n,
                                  const uint8_t *swap);
/* Checks every rule of docs/FORMAT.md; the message names the record and what is wrong. */
rmens_status rmens_dataset_validate(const rmens_dataset *ds);
/* Builds ds as an HDF5 file in memory (*file), to be written with rmens_stage_finish
 * (io/stage.h) alone or with other files at once. */
rmens_status rmens_dataset_build(const rmens_dataset *ds, const char *path, hid_t *file);
int rmens_dataset_nsides(const rmens_dataset *ds);
/* A fingerprint of what training reads (every side's tokens and offsets, the prompt
 * lengths, the margins): the same value whether the tokens are in memory or streamed, and
 * whatever the rank count; zlib's CRC-32 of those arrays in that order. */
uint32_t rmens_dataset_fingerprint(const rmens_dataset *ds);
/* Loss weight of pair i: /weight, or 1 when the file has none. */
float rmens_dataset_weight(const rmens_dataset *ds, int64_t i);
int rmens_dataset_has_weight(const rmens_dataset *ds);

#endif
