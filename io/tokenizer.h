/* The built-in byte tokenizer (declared in rmens.h): ids 0-255 are bytes, 256 is
 * end-of-text. It needs no vocabulary file, so any text, valid UTF-8 or not, round-trips. */
#ifndef RMENS_IO_TOKENIZER_H
#define RMENS_IO_TOKENIZER_H

#include "rmens.h"

/* Length of the longest valid UTF-8 prefix of s; equals len when s is valid. */
size_t rmens_utf8_valid_prefix(const char *s, size_t len);

#endif
