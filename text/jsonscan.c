#include "text/jsonscan.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128  /* json-c's default nesting limit is 32; tokenizer.json needs ~6 */

static int fail(rmens_jscan *s, const char *what)
{
    if (!s->err) {
        s->err = s->p >= s->end ? "the file ends early" : what;
        s->err_at = (size_t)(s->p - s->buf);
    }
    return -1;
}

void rmens_jscan_init(rmens_jscan *s, const char *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->buf = s->p = buf;
    s->end = buf + len;
}

void rmens_jscan_free(rmens_jscan *s)
{
    free(s->str);
    s->str = NULL;
    s->str_len = s->str_cap = 0;
}

int rmens_jscan_peek(rmens_jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
    return s->p < s->end ? (unsigned char)*s->p : -1;
}

static int expect(rmens_jscan *s, char c, const char *what)
{
    if (rmens_jscan_peek(s) != (unsigned char)c)
        return fail(s, what);
    s->p++;
    return 0;
}

int rmens_jscan_colon(rmens_jscan *s) { return expect(s, ':', "expected ':' after a key"); }

int rmens_jscan_open(rmens_jscan *s, char open)
{
    if (expect(s, open, open == '{' ? "expected an object" : "expected a list"))
        return -1;
    char close = open == '{' ? '}' : ']';
    if (rmens_jscan_peek(s) == (unsigned char)close) {
        s->p++;
        return 0;
    }
    return 1;
}

int rmens_jscan_next(rmens_jscan *s, char close)
{
    int c = rmens_jscan_peek(s);
    if (c == ',' || c == (unsigned char)close) {
        s->p++;
        return c == ',';
    }
    return fail(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static int put(rmens_jscan *s, const char *b, size_t n)
{
    if (s->str_len + n + 1 > s->str_cap) {
        size_t cap = s->str_cap ? 2 * s->str_cap : 64;
        while (cap < s->str_len + n + 1)
            cap *= 2;
        char *p = realloc(s->str, cap);
        if (!p)
            return fail(s, "out of memory for a string");
        s->str = p;
        s->str_cap = cap;
    }
    memcpy(s->str + s->str_len, b, n);
    s->str_len += n;
    return 0;
}

static int hex4(const char *p, const char *end, unsigned *v)
{
    *v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16)
            return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

/* A string at s->p; decoded into s->str when decode, else only checked. */
static int string(rmens_jscan *s, int decode)
{
    if (expect(s, '"', "expected a string"))
        return -1;
    s->str_len = 0;
    for (;;) {
        const char *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (unsigned char)*s->p >= 0x20)
            s->p++;
        if (decode && put(s, run, (size_t)(s->p - run)))
            return -1;
        if (s->p >= s->end)
            return fail(s, "");
        if (*s->p == '"') {
            s->p++;
            break;
        }
        if (*s->p != '\\')
            return fail(s, "a control character inside a string");
        if (s->p + 1 >= s->end)
            return (s->p = s->end), fail(s, "");
        char e = s->p[1], one = 0;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': break;
        default: s->p++; return fail(s, "an unknown escape in a string");
        }
        if (one) {
            s->p += 2;
            if (decode && put(s, &one, 1))
                return -1;
            continue;
        }
        unsigned u;
        if (hex4(s->p + 2, s->end, &u))
            return (s->p += 2), fail(s, "\\u is not followed by four hex digits");
        s->p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return (s->p -= 6), fail(s, "a lone low surrogate (\\uDC00-\\uDFFF) in a string");
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, s->end, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return (s->p -= 6), fail(s, "a lone high surrogate (\\uD800-\\uDBFF) in a string");
            s->p += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        char b[4];
        size_t n = u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
        if (n == 1)
            b[0] = (char)u;
        else {
            for (size_t i = n - 1; i > 0; i--, u >>= 6)
                b[i] = (char)(0x80 | (u & 0x3F));
            b[0] = (char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | u);
        }
        if (decode && put(s, b, n))
            return -1;
    }
    if (decode) {
        if (put(s, "", 1))
            return -1;
        s->str_len--;
    }
    return 0;
}

int rmens_jscan_string(rmens_jscan *s) { return string(s, 1); }

int rmens_jscan_number(rmens_jscan *s, int64_t *v, int *integral)
{
    rmens_jscan_peek(s);
    const char *p = s->p, *e = s->end;
    int neg = p < e && *p == '-';
    p += neg;
    if (p >= e || *p < '0' || *p > '9')
        return fail(s, "expected a value");
    uint64_t m = 0;
    int ok = 1;
    if (*p == '0')
        p++;
    else
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (m > (UINT64_MAX - d) / 10)
                ok = 0;
            else
                m = m * 10 + d;
        }
    if (p < e && *p == '.') {
        ok = 0;
        if (++p >= e || *p < '0' || *p > '9')
            return (s->p = p), fail(s, "a digit must follow '.'");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        ok = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return (s->p = p), fail(s, "a digit must follow the exponent");
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    if (ok && m > (uint64_t)INT64_MAX + (uint64_t)neg)
        ok = 0;
    *integral = ok;
    *v = ok ? (neg ? (int64_t)(0 - m) : (int64_t)m) : 0;
    return 0;
}

static int scalar(rmens_jscan *s)
{
    int c = rmens_jscan_peek(s);
    if (c == '"')
        return string(s, 0);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (c == words[i][0]) {
            if ((size_t)(s->end - s->p) < n || memcmp(s->p, words[i], n) != 0)
                return fail(s, "expected a value");
            s->p += n;
            return 0;
        }
    }
    int64_t v;
    int integral;
    return rmens_jscan_number(s, &v, &integral);
}

/* Iterative, so that nesting costs a byte of stack per level, not a frame. */
int rmens_jscan_skip(rmens_jscan *s, size_t *count)
{
    char close[MAX_DEPTH];
    int depth = 0;
    size_t n = 0;
    for (;;) {
        int c = rmens_jscan_peek(s);
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH)
                return fail(s, "nested too deeply");
            close[depth++] = c == '{' ? '}' : ']';
            int more = rmens_jscan_open(s, (char)c);
            if (more < 0)
                return -1;
            if (more == 0)
                depth--;
            else if (c == '{' && (string(s, 0) || rmens_jscan_colon(s)))
                return -1;
            if (more)
                continue;
        } else if (scalar(s)) {
            return -1;
        }
        /* a value ended: close what it ended, or go on to the next element */
        for (;;) {
            if (depth == 0) {
                if (count)
                    *count = n;
                return 0;
            }
            if (depth == 1)
                n++;
            int more = rmens_jscan_next(s, close[depth - 1]);
            if (more < 0)
                return -1;
            if (more) {
                if (close[depth - 1] == '}' && (string(s, 0) || rmens_jscan_colon(s)))
                    return -1;
                break;
            }
            depth--;
        }
    }
}
