/* The tokenizer object behind rmens.h's rmens_tokenizer: the byte tokenizer, or a
 * byte-level BPE read from Hugging Face's tokenizer.json (+ tokenizer_config.json) or
 * GPT-2's vocab.json + merges.txt. What is supported and refused: docs/TOKENIZERS.md. */
#ifndef RMENS_TEXT_TOKENIZER_H
#define RMENS_TEXT_TOKENIZER_H

#include "rmens.h"
#include "text/bpe.h"

/* Room for what data files and checkpoints record as their tokenizer. */
#define RMENS_TOKENIZER_ID_LEN 128

/* "bytes", or "<name>@<sha256>": the identity data files and checkpoints record and
 * compare (docs/FORMAT.md). */
const char *rmens_tokenizer_identity(const rmens_tokenizer *t, char *buf, size_t n);
/* Whether two identities are one tokenizer: equal, or the same SHA-256 whatever the
 * directory was called ("qwen@ab12..." and "Qwen3-0.6B@ab12..."). */
int rmens_tokenizer_same(const char *a, const char *b);

/* Appends the ids of text to out (flags as rmens_tokenizer_encode). */
rmens_status rmens_tokenizer_encode_append(rmens_tokenizer *t, const char *text, size_t len,
                                           unsigned flags, rmens_ids *out);

#endif
