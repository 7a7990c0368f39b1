/* The tokenizer object behind rmens.h's rmens_tokenizer: the byte tokenizer, or a
 * byte-level BPE read from Hugging Face's tokenizer.json (+ tokenizer_config.json) or
 * GPT-2's vocab.json + merges.txt. What is supported and refused: docs/TOKENIZERS.md. */
#ifndef RMENS_TEXT_TOKENIZER_H
#define RMENS_TEXT_TOKENIZER_H

#include "rmens.h"
#include "text/bpe.h"

/* Appends the ids of text to out (flags as rmens_tokenizer_encode). */
rmens_status rmens_tokenizer_encode_append(rmens_tokenizer *t, const char *text, size_t len,
                                           unsigned flags, rmens_ids *out);

#endif
