#include "text/pretok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "base/error.h"
#include "text/bpe.h"

#define MAX_STEPS 8

static const char *const behavior_names[] = {
    [RMENS_SPLIT_REMOVED] = "Removed", [RMENS_SPLIT_ISOLATED] = "Isolated",
    [RMENS_SPLIT_MERGED_WITH_PREVIOUS] = "MergedWithPrevious",
    [RMENS_SPLIT_MERGED_WITH_NEXT] = "MergedWithNext", [RMENS_SPLIT_CONTIGUOUS] = "Contiguous",
};

int rmens_split_behavior_from_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof behavior_names / sizeof *behavior_names); i++)
        if (strcmp(name, behavior_names[i]) == 0)
            return i;
    return -1;
}

typedef struct {
    size_t start, end;
    int match;
} range;

typedef struct {
    pcre2_code *re;        /* NULL: no regex (ByteLevel without use_regex) */
    rmens_split_behavior behavior;
    int prefix_space;      /* ByteLevel's add_prefix_space */
    range *r;              /* this level's scratch */
    size_t r_cap;
    char *buf;             /* the piece with its prefix space */
    size_t buf_cap;
} step;

struct rmens_pretok {
    int nfc;
    step steps[MAX_STEPS];
    int n_steps;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    UChar *u16, *u16b;
    size_t u16_cap;
    char *norm;
    size_t norm_cap;
};

rmens_status rmens_pretok_new(rmens_pretok **out)
{
    rmens_pretok *p = calloc(1, sizeof *p);
    if (!p || !(p->md = pcre2_match_data_create(4, NULL))) {
        free(p);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a pre-tokenizer");
    }
    /* Long runs (whitespace, one huge word) need more than JIT's default 32 KiB stack. */
    p->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    p->mctx = pcre2_match_context_create(NULL);
    if (p->jit && p->mctx)
        pcre2_jit_stack_assign(p->mctx, NULL, p->jit);
    *out = p;
    return RMENS_OK;
}

void rmens_pretok_free(rmens_pretok *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_steps; i++) {
        pcre2_code_free(p->steps[i].re);
        free(p->steps[i].r);
        free(p->steps[i].buf);
    }
    pcre2_match_data_free(p->md);
    pcre2_match_context_free(p->mctx);
    pcre2_jit_stack_free(p->jit);
    free(p->u16);
    free(p->u16b);
    free(p->norm);
    free(p);
}

void rmens_pretok_set_nfc(rmens_pretok *p, int on) { p->nfc = on; }
int rmens_pretok_nfc(const rmens_pretok *p) { return p->nfc; }
int rmens_pretok_steps(const rmens_pretok *p) { return p->n_steps; }

/* Hugging Face's regexes run on Oniguruma, whose \s is Unicode White_Space; PCRE2's \s
 * with UCP also takes U+180E. Rewrite \s and \S to the property itself. */
static char *translate(const char *pat)
{
    size_t n = strlen(pat);
    char *out = malloc(8 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '\\' && i + 1 < n) {
            if (pat[i + 1] == 's' || pat[i + 1] == 'S') {
                o += sprintf(o, "\\%c{White_Space}", pat[i + 1] == 's' ? 'p' : 'P');
            } else {
                *o++ = pat[i];
                *o++ = pat[i + 1];
            }
            i++;
        } else {
            *o++ = pat[i];
        }
    }
    *o = 0;
    return out;
}

static rmens_status add_step(rmens_pretok *p, const char *pattern, int literal,
                             rmens_split_behavior behavior, int prefix_space)
{
    if (p->n_steps == MAX_STEPS)
        return rmens_fail(RMENS_ERR_INPUT, "more than %d pre-tokenizer steps", MAX_STEPS);
    step *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof *s);
    s->behavior = behavior;
    s->prefix_space = prefix_space;
    if (pattern) {
        char *t = literal ? NULL : translate(pattern);
        if (!literal && !t)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a regex");
        int err;
        PCRE2_SIZE at;
        s->re = pcre2_compile((PCRE2_SPTR)(literal ? pattern : t), PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP), &err, &at, NULL);
        free(t);
        if (!s->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return rmens_fail(RMENS_ERR_INPUT, "regex /%s/ does not compile at offset %zu: %s",
                              pattern, (size_t)at, (const char *)msg);
        }
        pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE);  /* the interpreter when JIT is absent */
    }
    p->n_steps++;
    return RMENS_OK;
}

rmens_status rmens_pretok_add_split(rmens_pretok *p, const char *pattern, int literal,
                                    rmens_split_behavior behavior)
{
    return add_step(p, pattern, literal, behavior, 0);
}

rmens_status rmens_pretok_add_byte_level(rmens_pretok *p, int add_prefix_space, int use_regex)
{
    return add_step(p, use_regex ? RMENS_GPT2_PATTERN : NULL, 0, RMENS_SPLIT_ISOLATED,
                    add_prefix_space);
}

/* ------------------------------------------------------------ normalization */

rmens_status rmens_pretok_normalize(rmens_pretok *p, const char *s, size_t n,
                                    const char **out, size_t *out_n)
{
    *out = s;
    *out_n = n;
    if (!p->nfc)
        return RMENS_OK;
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80)  /* ASCII is NFC already */
        i++;
    if (i == n)
        return RMENS_OK;
    if (n > INT32_MAX / 4)
        return rmens_fail(RMENS_ERR_INPUT, "a text of %zu bytes is too long to normalize", n);
    /* NFC never makes UTF-16 more than 3 times longer; UTF-8 from it at most 3 bytes/unit. */
    size_t cap = 3 * n + 16;
    if (cap > p->u16_cap) {
        UChar *a = realloc(p->u16, cap * sizeof *a), *b;
        if (a) p->u16 = a;
        b = realloc(p->u16b, cap * sizeof *b);
        if (b) p->u16b = b;
        if (!a || !b)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory normalizing text");
        p->u16_cap = cap;
    }
    if (3 * cap > p->norm_cap) {
        char *c = realloc(p->norm, 3 * cap);
        if (!c)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory normalizing text");
        p->norm = c;
        p->norm_cap = 3 * cap;
    }
    UErrorCode e = U_ZERO_ERROR;
    int32_t len16 = 0, len_n = 0, len8 = 0;
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&e);
    if (U_SUCCESS(e))
        u_strFromUTF8(p->u16, (int32_t)cap, &len16, s, (int32_t)n, &e);
    if (U_SUCCESS(e))
        len_n = unorm2_normalize(nfc, p->u16, len16, p->u16b, (int32_t)cap, &e);
    if (U_SUCCESS(e))
        u_strToUTF8(p->norm, (int32_t)p->norm_cap, &len8, p->u16b, len_n, &e);
    if (U_FAILURE(e))
        return rmens_fail(RMENS_ERR_INPUT, "NFC normalization failed: %s", u_errorName(e));
    *out = p->norm;
    *out_n = (size_t)len8;
    return RMENS_OK;
}

/* ------------------------------------------------------------ splitting */

static int push_range(step *s, size_t *n, size_t a, size_t b, int match)
{
    if (rmens_grow((void **)&s->r, &s->r_cap, *n + 1, sizeof *s->r))
        return -1;
    s->r[(*n)++] = (range){a, b, match};
    return 0;
}

/* Hugging Face's Pattern::find_matches for a regex: matches and the gaps between. */
static int find_matches(rmens_pretok *p, step *s, const char *t, size_t n, size_t *nr)
{
    size_t prev = 0, at = 0;
    *nr = 0;
    while (at <= n) {
        int rc = pcre2_jit_match(s->re, (PCRE2_SPTR)t, n, at, PCRE2_NO_UTF_CHECK, p->md, p->mctx);
        if (rc == PCRE2_ERROR_JIT_BADOPTION)  /* no JIT on this machine */
            rc = pcre2_match(s->re, (PCRE2_SPTR)t, n, at, PCRE2_NO_UTF_CHECK, p->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
        size_t a = ov[0], b = ov[1];
        if (prev != a && push_range(s, nr, prev, a, 0))
            return -1;
        if (push_range(s, nr, a, b, 1))
            return -1;
        prev = b;
        if (b > a) {
            at = b;
        } else {  /* an empty match: step over one character */
            if (b >= n)
                break;
            at = b + 1;
            while (at < n && ((unsigned char)t[at] & 0xC0) == 0x80)
                at++;
        }
    }
    if (prev != n && push_range(s, nr, prev, n, 0))
        return -1;
    return 0;
}

/* The delimiter behaviours of Hugging Face's NormalizedString::split, in place. */
static size_t apply_behavior(range *r, size_t n, rmens_split_behavior b)
{
    size_t k = 0;
    int prev_match = 0;
    switch (b) {
    case RMENS_SPLIT_ISOLATED:
        return n;
    case RMENS_SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!r[i].match)
                r[k++] = r[i];
        return k;
    case RMENS_SPLIT_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < n; i++) {
            if (r[i].match && !prev_match && k > 0)
                r[k - 1].end = r[i].end;
            else
                r[k++] = r[i];
            prev_match = r[i].match;
        }
        return k;
    case RMENS_SPLIT_MERGED_WITH_NEXT:
        /* walk backwards, then the kept ranges are at the end, in order */
        k = n;
        for (size_t i = n; i-- > 0;) {
            if (r[i].match && !prev_match && k < n)
                r[k].start = r[i].start;
            else
                r[--k] = r[i];
            prev_match = r[i].match;
        }
        memmove(r, r + k, (n - k) * sizeof *r);
        return n - k;
    case RMENS_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < n; i++) {
            if (k > 0 && r[i].match == prev_match)
                r[k - 1].end = r[i].end;
            else
                r[k++] = r[i];
            prev_match = r[i].match;
        }
        return k;
    }
    return n;
}

static int run_step(rmens_pretok *p, int level, const char *t, size_t n, rmens_piece_fn fn,
                    void *ctx)
{
    if (n == 0)
        return 0;
    if (level == p->n_steps)
        return fn(ctx, t, n);
    step *s = &p->steps[level];
    if (s->prefix_space && t[0] != ' ') {
        if (n + 1 > s->buf_cap) {
            char *b = realloc(s->buf, n + 1);
            if (!b)
                return -1;
            s->buf = b;
            s->buf_cap = n + 1;
        }
        s->buf[0] = ' ';
        memcpy(s->buf + 1, t, n);
        t = s->buf;
        n++;
    }
    if (!s->re)
        return run_step(p, level + 1, t, n, fn, ctx);
    size_t nr;
    if (find_matches(p, s, t, n, &nr))
        return -1;
    nr = apply_behavior(s->r, nr, s->behavior);
    /* s->r is reused by deeper calls at the same level only after this loop ends. */
    for (size_t i = 0; i < nr; i++) {
        int rc = run_step(p, level + 1, t + s->r[i].start, s->r[i].end - s->r[i].start, fn, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

int rmens_pretok_run(rmens_pretok *p, const char *s, size_t n, rmens_piece_fn fn, void *ctx)
{
    return run_step(p, 0, s, n, fn, ctx);
}
