#include "text/utf8.h"

#include <string.h>

/* Length (1-4) of the valid sequence at u[i..len), or 0 when it is invalid; *bad gets
 * how many bytes form the maximal invalid prefix (at least 1) in that case. */
static size_t seq_len(const unsigned char *u, size_t i, size_t len, size_t *bad)
{
    unsigned c = u[i];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    *bad = 1;
    if (c < 0x80) return 1;
    else if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) { n = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 2;
    else if (c == 0xED) { n = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) n = 2;
    else if (c == 0xF0) { n = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else if (c == 0xF4) { n = 3; hi = 0x8F; }
    else return 0;
    for (size_t k = 1; k <= n; k++) {
        if (i + k >= len)
            return 0;
        unsigned lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
        if (u[i + k] < lo_k || u[i + k] > hi_k)
            return 0;
        *bad = k + 1;  /* a valid prefix so far: one replacement covers it */
    }
    return n + 1;
}

size_t rmens_utf8_valid_prefix(const char *s, size_t len)
{
    /* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, bad;
    while (i < len) {
        size_t n = seq_len(u, i, len, &bad);
        if (!n)
            return i;
        i += n;
    }
    return len;
}

uint32_t rmens_utf8_decode(const unsigned char *s, size_t *n)
{
    unsigned c = s[0];
    if (c < 0x80) { *n = 1; return c; }
    if (c < 0xE0) { *n = 2; return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
    if (c < 0xF0) { *n = 3; return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu); }
    *n = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

size_t rmens_utf8_prev_len(const unsigned char *s, size_t end)
{
    size_t k = 1;
    while (k < end && k < 4 && (s[end - k] & 0xC0) == 0x80)
        k++;
    return k;
}

int rmens_unicode_white_space(uint32_t cp)
{
    /* PropList.txt, White_Space (unchanged since Unicode 6.3). */
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t rmens_utf8_lossy(char *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0, bad;
    while (i < len) {
        size_t n = seq_len(u, i, len, &bad);
        if (n) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    return o;
}
