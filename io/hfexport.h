/* Members of an ensemble checkpoint written as Hugging Face reward models (rmens export;
 * docs/FORMAT.md, "Exported reward models"): per member a directory with config.json
 * (<Arch>ForSequenceClassification, one label, the pad_token_id below), model.safetensors
 * (F32, Hugging Face names, score.weight [1, hidden]) and the tokenizer files.
 *
 * pad_token_id: transformers' *ForSequenceClassification reads the score at the last
 * token that is not pad_token_id; rmens reads it at the last token of the sequence, which
 * is the data's end token (EOS, <|im_end|>, <|eot_id|>). The pad chosen is an id no text
 * tokenizes to when the embedding has one (the first row past the tokenizer's
 * vocabulary: Qwen's 151,936 rows hold 151,669 tokens), else the last id that is not the
 * end token. Either way the last token is never the pad, so the two read the same token. */
#ifndef RMENS_IO_HFEXPORT_H
#define RMENS_IO_HFEXPORT_H

#include <stdint.h>

#include "rmens.h"

typedef struct {
    const char *ckpt;       /* ensemble checkpoint */
    int member;             /* member to write; -1: all, as out/member-K */
    const char *out;        /* the directory to create */
    const char *tokenizer;  /* tokenizer directory to copy (checked against the checkpoint's); NULL: the
                               directory the checkpoint records (--init DIR), if its tokenizer still matches */
    int force;              /* replace an existing non-empty out */
} rmens_hfexport_options;

typedef struct {
    int members;               /* directories written */
    char arch[64];             /* "Qwen3ForSequenceClassification" */
    int64_t pad_token_id;
    int pad_unused;            /* 1: the pad is an id no text tokenizes to */
    char tokenizer_from[1024]; /* where the tokenizer files came from; "" when none were copied */
    char no_tokenizer[2048];   /* why none were copied */
    int config_kept;           /* 1: config.json of the --init directory, 0: written from the model's config */
} rmens_hfexport_result;

/* Serial. out is built as "<out>.tmp.<pid>" and renamed into place when complete (an
 * existing out, empty or with force, is replaced only then); on failure nothing is left. */
rmens_status rmens_hfexport(const rmens_hfexport_options *o, rmens_hfexport_result *r);

/* The pad rule above: V the embedding's rows, data_vocab the tokenizer's size (0 when
 * unknown), eot the end token (-1 when unknown). */
int64_t rmens_hfexport_pad(int64_t V, int64_t data_vocab, int64_t eot, int *unused);

#endif
