/* The built-in byte tokenizer (declared in rmens.h): ids 0-255 are bytes, 256 is
 * end-of-text. It needs no vocabulary file, so any text, valid UTF-8 or not, round-trips. */
#include "rmens.h"

size_t rmens_tokenize_bytes(int32_t *out, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++)
        out[i] = u[i];
    out[len] = RMENS_BYTES_EOT;
    return len + 1;
}

size_t rmens_detokenize_bytes(char *out, const int32_t *ids, size_t n)
{
    size_t k = 0;
    for (; k < n && ids[k] != RMENS_BYTES_EOT; k++) {
        if (ids[k] < 0 || ids[k] > 255)
            return (size_t)-1;
        out[k] = (char)ids[k];
    }
    return k;
}
