/* The text pipeline before BPE, as Hugging Face tokenizers runs it: a normalizer (NFC or
 * none), then pre-tokenizer steps that each cut every piece further: Split by a regex
 * (PCRE2 with UTF and UCP; `\s` means Unicode White_Space as in the Rust library) with a
 * delimiter behaviour, and ByteLevel (optional prefix space, optional GPT-2 regex). The
 * byte mapping of ByteLevel is implicit: BPE works on raw bytes (text/bpe.h). */
#ifndef RMENS_TEXT_PRETOK_H
#define RMENS_TEXT_PRETOK_H

#include <stddef.h>

#include "rmens.h"

/* Hugging Face's SplitDelimiterBehavior. */
typedef enum {
    RMENS_SPLIT_REMOVED, RMENS_SPLIT_ISOLATED, RMENS_SPLIT_MERGED_WITH_PREVIOUS,
    RMENS_SPLIT_MERGED_WITH_NEXT, RMENS_SPLIT_CONTIGUOUS
} rmens_split_behavior;

/* The names as tokenizer.json spells them; -1 when unknown. */
int rmens_split_behavior_from_name(const char *name);

/* GPT-2's pattern, used by ByteLevel with use_regex. */
#define RMENS_GPT2_PATTERN \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct rmens_pretok rmens_pretok;

rmens_status rmens_pretok_new(rmens_pretok **out);
void rmens_pretok_free(rmens_pretok *p);
void rmens_pretok_set_nfc(rmens_pretok *p, int on);
int rmens_pretok_nfc(const rmens_pretok *p);
/* A Split step; literal: the pattern is a plain string (tokenizer.json's "String"). */
rmens_status rmens_pretok_add_split(rmens_pretok *p, const char *pattern, int literal,
                                    rmens_split_behavior behavior);
rmens_status rmens_pretok_add_byte_level(rmens_pretok *p, int add_prefix_space, int use_regex);
int rmens_pretok_steps(const rmens_pretok *p);

/* Normalizes s (NFC when set); *out points at s itself or at p's buffer, valid until the
 * next call. RMENS_ERR_INPUT when ICU refuses the text. */
rmens_status rmens_pretok_normalize(rmens_pretok *p, const char *s, size_t n,
                                    const char **out, size_t *out_n);

/* Cuts normalized text into pieces, calling fn on each non-empty one in order; stops at
 * the first non-zero return of fn and returns it. -1: out of memory or a regex failure.
 * s must be valid UTF-8. One thread at a time (scratch space in p). */
typedef int (*rmens_piece_fn)(void *ctx, const char *s, size_t n);
int rmens_pretok_run(rmens_pretok *p, const char *s, size_t n, rmens_piece_fn fn, void *ctx);

#endif
