#include "io/tokenizer.h"

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

size_t rmens_utf8_valid_prefix(const char *s, size_t len)
{
    /* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) { n = 2; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }
        else return i;
        if (i + n >= len)  /* truncated sequence */
            return i;
        if (u[i + 1] < lo || u[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if (u[i + k] < 0x80 || u[i + k] > 0xBF)
                return i;
        i += n + 1;
    }
    return len;
}
