#include "io/records.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/error.h"

struct rmens_records {
    char path[1024];
    char where[1100];
    gzFile gz;
    int array;              /* 1: the file is one JSON array */
    json_object *current;   /* record returned last (JSON Lines), or the whole array */
    size_t elem, nelem;     /* array mode */
    int64_t line, index, bytes;
    int fatal;              /* an error the reader cannot step over (I/O, gzip) */
    char *buf;              /* JSON Lines line buffer */
    size_t cap;
    json_tokener *tok;
};

static rmens_status gz_error(rmens_records *r)
{
    int code = 0;
    r->fatal = 1;
    const char *msg = gzerror(r->gz, &code);
    if (code == Z_ERRNO)
        return rmens_fail(RMENS_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    return rmens_fail(RMENS_ERR_INPUT, "%s: corrupt or truncated gzip data near line %lld (%s)",
                      r->path, (long long)r->line + 1, msg);
}

/* Reads one whole line (any length) into r->buf; *len = 0 and returns 0 at the end. */
static rmens_status read_line(rmens_records *r, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (r->cap - n < 2) {
            size_t cap = r->cap ? r->cap * 2 : 1 << 16;
            char *b = realloc(r->buf, cap);
            if (!b)
                return rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory at line %lld", r->path,
                                  (long long)r->line + 1);
            r->buf = b;
            r->cap = cap;
        }
        if (!gzgets(r->gz, r->buf + n, (int)(r->cap - n)))
            break;
        /* gzgets stops after '\n' or when the buffer is full; NUL bytes inside a line are
         * not JSON anyway, so strlen is the amount read. */
        n += strlen(r->buf + n);
        if (n > 0 && r->buf[n - 1] == '\n')
            break;
    }
    int code = 0;
    gzerror(r->gz, &code);  /* Z_BUF_ERROR here is zlib's "unexpected end of file" */
    if (code != Z_OK)
        return gz_error(r);
    r->buf[n] = '\0';
    r->bytes += (int64_t)n;
    *len = n;
    return RMENS_OK;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

static rmens_status parse(rmens_records *r, const char *s, size_t n, json_object **obj,
                          const char *what)
{
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
    if (!(r->gz = gzopen(path, "rb"))) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "%s: cannot open: %s", path,
                                     errno ? strerror(errno) : "gzopen failed");
        rmens_records_close(r);
        return st;
    }
    gzbuffer(r->gz, 1 << 17);
    /* Peek at the first non-blank byte: '[' means one JSON array, anything else lines. */
    int c;
    while ((c = gzgetc(r->gz)) != -1 && isspace(c))
        ;
    if (c == -1) {
        int code = 0;
        gzerror(r->gz, &code);
        rmens_status st = code != Z_OK ? gz_error(r)
                        : rmens_fail(RMENS_ERR_INPUT, "%s: the file is empty: no records", path);
        rmens_records_close(r);
        return st;
    }
    gzrewind(r->gz);
    if (c == '[') {
        /* An array has to be parsed whole; read the (uncompressed) file into memory. */
        r->array = 1;
        size_t n = 0;
        for (;;) {
            if (r->cap - n < (1 << 16)) {
                size_t cap = r->cap ? r->cap * 2 : 1 << 20;
                char *b = realloc(r->buf, cap);
                if (!b) {
                    rmens_records_close(r);
                    return rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory", path);
                }
                r->buf = b;
                r->cap = cap;
            }
            int got = gzread(r->gz, r->buf + n, (unsigned)(r->cap - n - 1));
            if (got < 0) {
                rmens_status st = gz_error(r);
                rmens_records_close(r);
                return st;
            }
            if (got == 0)
                break;
            n += (size_t)got;
        }
        r->bytes = (int64_t)n;
        if (n > INT32_MAX) {
            rmens_records_close(r);
            return rmens_fail(RMENS_ERR_INPUT, "%s: a JSON array larger than 2 GiB: convert it to "
                              "JSON Lines", path);
        }
        rmens_status st = parse(r, r->buf, n, &r->current, "the array");
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
        size_t n = 0;
        RMENS_TRY(read_line(r, &n));
        if (n == 0)
            return RMENS_OK;
        r->line++;
        if (blank(r->buf, n))
            continue;
        r->index = r->line - 1;
        snprintf(r->where, sizeof r->where, "%s:%lld", r->path, (long long)r->line);
        RMENS_TRY(parse(r, r->buf, n, &r->current, "the line"));
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
    if (r->gz)
        gzclose(r->gz);
    json_object_put(r->current);
    if (r->tok)
        json_tokener_free(r->tok);
    free(r->buf);
    free(r);
}
