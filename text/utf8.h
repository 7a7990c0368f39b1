/* UTF-8 facts the tokenizers share: validity (RFC 3629), decoding one code point,
 * Unicode White_Space, and Rust's lossy conversion (what Hugging Face's decoders do). */
#ifndef RMENS_TEXT_UTF8_H
#define RMENS_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the longest valid UTF-8 prefix of s; equals len when s is valid. */
size_t rmens_utf8_valid_prefix(const char *s, size_t len);
/* Decodes the code point at s (valid UTF-8 assumed); *n gets its length in bytes. */
uint32_t rmens_utf8_decode(const unsigned char *s, size_t *n);
/* Length of the code point ending just before s + end (valid UTF-8 assumed). */
size_t rmens_utf8_prev_len(const unsigned char *s, size_t end);
/* The Unicode White_Space property (Rust's char::is_whitespace). */
int rmens_unicode_white_space(uint32_t cp);
/* Appends s with each maximal invalid subsequence replaced by U+FFFD, as Rust's
 * String::from_utf8_lossy does; out must hold 3 * len bytes. Returns bytes written. */
size_t rmens_utf8_lossy(char *out, const char *s, size_t len);

#endif
