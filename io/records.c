#include "io/records.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"

struct rmens_records {
    char path[1024];
    char where[1100];
    int fd;
    int array;              /* 1: the file is one JSON array */
    json_object *current;   /* record returned last (JSON Lines), or the whole array */
    size_t elem, nelem;     /* array mode */
    int64_t line, index, bytes;
    int fatal;              /* an error the reader cannot step over (I/O, gzip) */
    /* The input is read forward only, never sought or re-read (it may be a pipe), and
     * decompressed here rather than by gzread, which stops silently at a damaged
     * member's header or at trailing garbage. */
    int gzip;               /* 1: gzip members, one after another */
    z_stream zs;
    int zinit, member;      /* members started */
    unsigned char *raw;     /* compressed input: [raw_pos, raw_len) unread */
    size_t raw_pos, raw_len;
    int raw_eof;
    int64_t raw_offset;     /* file bytes before raw[0] */
    char *buf;              /* text: [pos, len) not yet returned */
    size_t pos, len, cap;
    int eof;                /* no more text */
    json_tokener *tok;
    int64_t lone, first_lone_line;  /* lone surrogate escapes, and where the first was */
};

#define RAW_CHUNK (1 << 17)

static rmens_status read_error(rmens_records *r)
{
    r->fatal = 1;
    return rmens_fail(RMENS_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
}

/* More compressed bytes; 0 at the end of the file. */
static rmens_status fill_raw(rmens_records *r, size_t *got)
{
    *got = 0;
    if (r->raw_pos > 0 && r->raw_pos == r->raw_len) {
        r->raw_offset += (int64_t)r->raw_len;
        r->raw_pos = r->raw_len = 0;
    }
    if (r->raw_eof || r->raw_len == RAW_CHUNK)
        return RMENS_OK;
    ssize_t n;
    do
        n = read(r->fd, r->raw + r->raw_len, RAW_CHUNK - r->raw_len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return read_error(r);
    r->raw_eof = n == 0;
    r->raw_len += (size_t)n;
    *got = (size_t)n;
    return RMENS_OK;
}

static rmens_status gz_fail(rmens_records *r, const char *what)
{
    r->fatal = 1;
    return rmens_fail(RMENS_ERR_INPUT, "%s: corrupt or truncated gzip data in member %d near line %lld (%s); "
                      "gzip -t reports it too", r->path, r->member, (long long)r->line + 1, what);
}

/* After a member's end: the file ends, or another member begins. Anything else is
 * refused, as gzip -t refuses it: a damaged header would otherwise end the data early. */
static rmens_status next_member(rmens_records *r)
{
    size_t got = 1;
    while (r->raw_len - r->raw_pos < 2 && got > 0) {
        if (r->raw_pos > 0) {  /* keep the unread byte at the front */
            memmove(r->raw, r->raw + r->raw_pos, r->raw_len - r->raw_pos);
            r->raw_offset += (int64_t)r->raw_pos;
            r->raw_len -= r->raw_pos;
            r->raw_pos = 0;
        }
        RMENS_TRY(fill_raw(r, &got));
    }
    size_t left = r->raw_len - r->raw_pos;
    if (left == 0) {
        r->eof = 1;
        return RMENS_OK;
    }
    if (r->raw[r->raw_pos] == 0) {
        /* zeros padding the file to a block size: gzip -t accepts them, and so do we */
        for (;;) {
            while (r->raw_pos < r->raw_len && r->raw[r->raw_pos] == 0)
                r->raw_pos++;
            if (r->raw_pos < r->raw_len)
                break;
            RMENS_TRY(fill_raw(r, &got));
            if (got == 0) {
                r->eof = 1;
                return RMENS_OK;
            }
        }
        left = 0;  /* garbage after zeros */
    }
    if (left < 2 || r->raw[r->raw_pos] != 0x1f || r->raw[r->raw_pos + 1] != 0x8b) {
        r->fatal = 1;
        return rmens_fail(RMENS_ERR_INPUT, "%s: trailing garbage after gzip member %d, at byte %lld of the file: "
                          "not gzip data (gzip -t reports it too)", r->path, r->member,
                          (long long)(r->raw_offset + (int64_t)r->raw_pos));
    }
    if (inflateReset(&r->zs) != Z_OK)
        return gz_fail(r, "inflateReset");
    r->member++;
    return RMENS_OK;
}

/* Appends more text to buf (growing it when full); sets eof at the end. */
static rmens_status fill(rmens_records *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < (1 << 16)) {
        size_t cap = r->cap ? r->cap * 2 : 1 << 17;
        char *b = realloc(r->buf, cap);
        if (!b) {
            r->fatal = 1;
            return rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory at line %lld", r->path, (long long)r->line + 1);
        }
        r->buf = b;
        r->cap = cap;
    }
    size_t room = r->cap - r->len - 1, start = r->len;
    while (!r->eof && r->len == start) {
        if (!r->gzip) {
            ssize_t n;
            do
                n = read(r->fd, r->buf + r->len, room);
            while (n < 0 && errno == EINTR);
            if (n < 0)
                return read_error(r);
            r->eof = n == 0;
            r->len += (size_t)n;
            continue;
        }
        size_t got;
        if (r->raw_pos == r->raw_len)
            RMENS_TRY(fill_raw(r, &got));
        r->zs.next_in = r->raw + r->raw_pos;
        r->zs.avail_in = (uInt)(r->raw_len - r->raw_pos);
        r->zs.next_out = (Bytef *)r->buf + r->len;
        r->zs.avail_out = (uInt)room;
        int z = inflate(&r->zs, Z_NO_FLUSH);
        r->raw_pos = r->raw_len - r->zs.avail_in;
        r->len = r->cap - 1 - r->zs.avail_out;
        if (z == Z_STREAM_END)
            RMENS_TRY(next_member(r));
        else if (z == Z_BUF_ERROR && r->raw_eof && r->raw_pos == r->raw_len)
            return gz_fail(r, "unexpected end of file");
        else if (z != Z_OK && z != Z_BUF_ERROR)
            return gz_fail(r, r->zs.msg ? r->zs.msg : "inflate failed");
    }
    return RMENS_OK;
}

/* The next line (without its '\n'), by length: a NUL byte is data, not an end. *len = 0
 * and *line = NULL at the end. */
static rmens_status read_line(rmens_records *r, const char **line, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        char *nl = memchr(r->buf + r->pos + scanned, '\n', r->len - r->pos - scanned);
        if (nl || (r->eof && r->len > r->pos)) {
            size_t n = nl ? (size_t)(nl - (r->buf + r->pos)) + 1 : r->len - r->pos;
            *line = r->buf + r->pos;
            *len = n;
            r->pos += n;
            r->bytes += (int64_t)n;
            return RMENS_OK;
        }
        if (r->eof) {
            *line = NULL;
            *len = 0;
            return RMENS_OK;
        }
        scanned = r->len - r->pos;
        RMENS_TRY(fill(r));
    }
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = s[k], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

/* \u escapes of UTF-16 surrogates that are not a high one followed at once by a low one. */
static int64_t lone_surrogates(const char *s, size_t n)
{
    int64_t count = 0;
    int high = 0;  /* the escape just before was a high surrogate */
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (s[i] != '\\' || i + 1 >= n) {
            count += high, high = 0;
        } else if (s[i + 1] == 'u' && i + 6 <= n && hex4(s + i + 2, &v)) {
            if (v >= 0xD800 && v <= 0xDBFF)
                count += high, high = 1;
            else if (v >= 0xDC00 && v <= 0xDFFF)
                count += !high, high = 0;
            else
                count += high, high = 0;
            i += 5;
        } else {
            count += high, high = 0;
            i++;  /* an escaped character: \\ or \" */
        }
    }
    return count + high;
}

static void count_lone(rmens_records *r, const char *s, size_t n)
{
    int64_t k = memchr(s, '\\', n) ? lone_surrogates(s, n) : 0;
    if (k && !r->lone)
        r->first_lone_line = r->array ? 0 : r->line;
    r->lone += k;
}

int64_t rmens_records_lone_surrogates(const rmens_records *r, int64_t *first_line)
{
    *first_line = r->first_lone_line;
    return r->lone;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* What json-c accepts but JSON (RFC 8259) does not, found outside double-quoted strings:
 * single-quoted strings, NaN and Infinity, comments, a comma before a closing bracket, a
 * number with a leading zero. Returns why, with *at the 0-based offset, or NULL. */
static const char *not_json(const char *s, size_t n, size_t *at)
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        *at = i;
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"')
            in_string = 1;
        else if (c == '\'')
            return "a single-quoted string (JSON strings take double quotes)";
        else if (c == 'N' || c == 'I')
            return "NaN or Infinity is not a JSON number";
        else if (c == '/')
            return "a comment (JSON has none)";
        else if (c == '0' && i + 1 < n && isdigit((unsigned char)s[i + 1])) {
            size_t k = i > 0 && s[i - 1] == '-' ? i - 1 : i;  /* where the number starts */
            char p = k > 0 ? s[k - 1] : ' ';
            if (!(isalnum((unsigned char)p) || p == '.' || p == '+' || p == '-'))
                return "a number with a leading zero";
        }
        else if (c == ',') {
            size_t j = i + 1;
            while (j < n && isspace((unsigned char)s[j]))
                j++;
            if (j < n && (s[j] == ']' || s[j] == '}'))
                return "a comma before a closing bracket";
        }
    }
    return NULL;
}

static rmens_status parse(rmens_records *r, const char *s, size_t n, json_object **obj,
                          const char *what)
{
    size_t off;
    const char *why = not_json(s, n, &off);
    if (why)
        return rmens_fail(RMENS_ERR_INPUT, "%s: malformed JSON at byte %zu: %s", r->where, off + 1, why);
    json_tokener_reset(r->tok);
    json_object *o = json_tokener_parse_ex(r->tok, s, (int)n);
    enum json_tokener_error e = json_tokener_get_error(r->tok);
    if (!o || e != json_tokener_success) {
        json_object_put(o);
        size_t at = json_tokener_get_parse_end(r->tok);
        if (e == json_tokener_continue)
            return rmens_fail(RMENS_ERR_INPUT, "%s: malformed JSON: %s ends before the value does",
                              r->where, what);
        return rmens_fail(RMENS_ERR_INPUT, "%s: malformed JSON at byte %zu: %s", r->where, at + 1,
                          json_tokener_error_desc(e));
    }
    /* Anything but white space after the value is an error too. */
    size_t end = json_tokener_get_parse_end(r->tok);
    if (!blank(s + end, n - end)) {
        json_object_put(o);
        return rmens_fail(RMENS_ERR_INPUT, "%s: malformed JSON: unexpected text after the value at byte %zu",
                          r->where, end + 1);
    }
    *obj = o;
    return RMENS_OK;
}

rmens_status rmens_records_open(rmens_records **out, const char *path)
{
    *out = NULL;
    rmens_records *r = calloc(1, sizeof *r);
    if (!r)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->where, sizeof r->where, "%s", path);
    r->index = -1;
    if (!(r->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH))) {
        free(r);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    r->fd = -1;
    if (!(r->raw = malloc(RAW_CHUNK))) {
        rmens_records_close(r);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        rmens_records_close(r);
        return st;
    }
    /* gzip or not, by the first two bytes (read once: the input may be a pipe) */
    rmens_status st = RMENS_OK;
    size_t got = 1;
    while (st == RMENS_OK && r->raw_len < 2 && got > 0)
        st = fill_raw(r, &got);
    if (st == RMENS_OK && r->raw_len >= 2 && r->raw[0] == 0x1f && r->raw[1] == 0x8b) {
        r->gzip = 1;
        r->member = 1;
        if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK)
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        r->zinit = st == RMENS_OK;
    } else if (st == RMENS_OK && r->raw_len > 0) {
        /* plain text: what was read is the start of the text */
        r->cap = RAW_CHUNK;
        r->buf = (char *)r->raw;
        r->len = r->raw_len;
        if (!(r->raw = malloc(RAW_CHUNK)))
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        r->raw_len = 0;
    }
    /* A UTF-8 byte order mark (as Windows tools write) is not part of the JSON */
    while (st == RMENS_OK && r->len - r->pos < 3 && !r->eof)
        st = fill(r);
    if (st == RMENS_OK && r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xef\xbb\xbf", 3) == 0)
        r->pos += 3;
    /* Peek at the first non-blank byte without consuming it: '[' means one JSON array,
     * anything else lines. */
    size_t at = 0;
    while (st == RMENS_OK) {
        while (at < r->len - r->pos && isspace((unsigned char)r->buf[r->pos + at]))
            at++;
        if (at < r->len - r->pos || r->eof)
            break;
        st = fill(r);
    }
    if (st == RMENS_OK && at == r->len - r->pos)
        st = rmens_fail(RMENS_ERR_INPUT, "%s: the file is empty: no records", path);
    if (st != RMENS_OK) {
        rmens_records_close(r);
        return st;
    }
    if (r->buf[r->pos + at] == '[') {
        /* An array has to be parsed whole; read the (uncompressed) file into memory. */
        r->array = 1;
        while (st == RMENS_OK && !r->eof)
            st = fill(r);
        size_t n = r->len - r->pos;
        r->bytes = (int64_t)n;
        const char *nul = st == RMENS_OK ? memchr(r->buf + r->pos, '\0', n) : NULL;
        if (st == RMENS_OK && n > INT32_MAX)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: a JSON array larger than 2 GiB: convert it to JSON Lines", path);
        else if (nul)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: a NUL byte at byte %zu: not JSON text", path,
                            (size_t)(nul - (r->buf + r->pos)) + 1);
        if (st == RMENS_OK)
            st = parse(r, r->buf + r->pos, n, &r->current, "the array");
        if (st == RMENS_OK)
            count_lone(r, r->buf + r->pos, n);
        if (st == RMENS_OK && !json_object_is_type(r->current, json_type_array))
            st = rmens_fail(RMENS_ERR_INPUT, "%s: expected a JSON array of records", path);
        if (st == RMENS_OK && (r->nelem = json_object_array_length(r->current)) == 0)
            st = rmens_fail(RMENS_ERR_INPUT, "%s: the array is empty: no records", path);
        if (st != RMENS_OK) {
            rmens_records_close(r);
            return st;
        }
    }
    *out = r;
    return RMENS_OK;
}

rmens_status rmens_records_next(rmens_records *r, json_object **obj)
{
    *obj = NULL;
    if (r->array) {
        if (r->elem >= r->nelem)
            return RMENS_OK;
        r->index = (int64_t)r->elem;
        snprintf(r->where, sizeof r->where, "%s: element %zu", r->path, r->elem);
        *obj = json_object_array_get_idx(r->current, r->elem++);
        return RMENS_OK;
    }
    json_object_put(r->current);
    r->current = NULL;
    for (;;) {
        const char *s;
        size_t n = 0;
        RMENS_TRY(read_line(r, &s, &n));
        if (n == 0)
            return RMENS_OK;
        r->line++;
        if (blank(s, n))
            continue;
        r->index = r->line - 1;
        snprintf(r->where, sizeof r->where, "%s:%lld", r->path, (long long)r->line);
        const char *nul = memchr(s, '\0', n);
        if (nul)
            return rmens_fail(RMENS_ERR_INPUT, "%s: a NUL byte at byte %zu: not JSON text", r->where,
                              (size_t)(nul - s) + 1);
        RMENS_TRY(parse(r, s, n, &r->current, "the line"));
        count_lone(r, s, n);
        *obj = r->current;
        return RMENS_OK;
    }
}

const char *rmens_records_where(const rmens_records *r) { return r->where; }
int64_t rmens_records_index(const rmens_records *r) { return r->index; }
int64_t rmens_records_line(const rmens_records *r) { return r->array ? 0 : r->line; }
int64_t rmens_records_bytes(const rmens_records *r) { return r->bytes; }
int rmens_records_fatal(const rmens_records *r) { return r->fatal || r->array; }

void rmens_records_close(rmens_records *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->zinit)
        inflateEnd(&r->zs);
    free(r->raw);
    json_object_put(r->current);
    if (r->tok)
        json_tokener_free(r->tok);
    free(r->buf);
    free(r);
}
