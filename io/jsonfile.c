#include "io/jsonfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

rmens_status rmens_json_parse(const char *path, const char *what, const char *buf, size_t len, json_object **out)
{
    *out = NULL;
    if (len > INT32_MAX)
        return rmens_fail(RMENS_ERR_INPUT, "%s: the %s is over 2 GiB", path, what);
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    rmens_status s = RMENS_OK;
    if (!o || e != json_tokener_success)
        s = rmens_fail(RMENS_ERR_INPUT, "%s: the %s is not valid JSON (byte %zu: %s)", path, what, end,
                       e == json_tokener_continue || e == json_tokener_success ? "it ends early"
                                                                                : json_tokener_error_desc(e));
    for (; s == RMENS_OK && end < len; end++)
        if (!strchr(" \t\r\n", buf[end]) || !buf[end])
            s = rmens_fail(RMENS_ERR_INPUT, "%s: the %s has text after its JSON value (byte %zu)", path, what, end);
    if (s == RMENS_OK && !json_object_is_type(o, json_type_object))
        s = rmens_fail(RMENS_ERR_INPUT, "%s: the %s is not a JSON object", path, what);
    if (s != RMENS_OK) {
        json_object_put(o);
        return s;
    }
    *out = o;
    return RMENS_OK;
}

rmens_status rmens_json_read(const char *path, size_t max, json_object **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > max) {
        fclose(f);
        return rmens_fail(RMENS_ERR_INPUT, "%s: not a regular file of at most %zu bytes", path, max);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
    int bad = !buf || ferror(f) || n != (size_t)sb.st_size;
    fclose(f);
    rmens_status s = bad ? rmens_fail(buf ? RMENS_ERR_IO : RMENS_ERR_NOMEM, "cannot read %s", path)
                         : rmens_json_parse(path, "file", buf, n, out);
    free(buf);
    return s;
}
