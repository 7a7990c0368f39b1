/* Byte-level BPE: the vocabulary (token bytes <-> id), the merge table, and the merge
 * loop of Hugging Face tokenizers' BPE model (word.rs merge_all: a min-heap ordered by
 * (rank, position), stale entries skipped), with a word cache. Tokens are kept as the
 * raw bytes they stand for, not as GPT-2's printable byte alphabet, so pieces of text go
 * to the merge loop without a mapping pass. */
#ifndef RMENS_TEXT_BPE_H
#define RMENS_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "rmens.h"

/* Makes *buf (of *cap elements of elt bytes) hold at least need, doubling; 0, or -1
 * out of memory (*buf untouched). */
int rmens_grow(void **buf, size_t *cap, size_t need, size_t elt);

/* A growable id list. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} rmens_ids;

int rmens_ids_push(rmens_ids *ids, int32_t id);  /* 0, or -1 out of memory */
void rmens_ids_free(rmens_ids *ids);

typedef struct rmens_bpe rmens_bpe;

rmens_status rmens_bpe_new(rmens_bpe **out, size_t n_tokens_hint);
void rmens_bpe_free(rmens_bpe *b);
/* Adds a vocabulary token; RMENS_ERR_INPUT when the id is negative, at least 2^24, or
 * taken, or the bytes are already in the vocabulary (message says which). */
rmens_status rmens_bpe_add_token(rmens_bpe *b, const char *bytes, size_t len, int32_t id);
/* Adds merge number rank: both sides and their concatenation must be tokens. A later
 * merge of the same pair replaces an earlier one, as in Hugging Face's table. */
rmens_status rmens_bpe_add_merge(rmens_bpe *b, const char *a, size_t alen, const char *c,
                                 size_t clen, uint32_t rank);
/* After loading: every single byte must be a token (byte-level BPE). */
rmens_status rmens_bpe_check_bytes(const rmens_bpe *b);
/* ignore_merges: a piece that is a whole token is that token, merges unconsulted. */
void rmens_bpe_set_ignore_merges(rmens_bpe *b, int on);

/* The id of these bytes, or -1. */
int32_t rmens_bpe_lookup(const rmens_bpe *b, const char *bytes, size_t len);
/* The bytes of id (NULL when id is not in the vocabulary). */
const char *rmens_bpe_token(const rmens_bpe *b, int32_t id, size_t *len);
/* One more than the largest id. */
int32_t rmens_bpe_id_end(const rmens_bpe *b);
int64_t rmens_bpe_merge_count(const rmens_bpe *b);

/* Appends the ids of one pre-tokenized piece. Uses scratch space and the word cache in
 * b: one thread at a time. -1 when out of memory. */
int rmens_bpe_encode(rmens_bpe *b, const char *piece, size_t len, rmens_ids *out);

#endif
