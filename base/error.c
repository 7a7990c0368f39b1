#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RMENS_ERRMSG_MAX 2048

/* One message per thread, so concurrent scoring threads do not clobber each other. */
static _Thread_local char errmsg[RMENS_ERRMSG_MAX];

static const char *const status_names[] = {
    [RMENS_OK] = "success",
    [RMENS_ERR_NOMEM] = "out of memory",
    [RMENS_ERR_IO] = "input/output error",
    [RMENS_ERR_HDF5] = "HDF5 error",
    [RMENS_ERR_FORMAT] = "invalid rmens file",
    [RMENS_ERR_INPUT] = "invalid input data",
    [RMENS_ERR_ARG] = "invalid argument",
    [RMENS_ERR_MPI] = "MPI error",
    [RMENS_ERR_NUMERIC] = "non-finite value",
    [RMENS_ERR_INTERNAL] = "internal error",
};

const char *rmens_strerror(rmens_status code)
{
    if ((int)code < 0 || (size_t)code >= sizeof status_names / sizeof *status_names ||
        !status_names[code])
        return "unknown error";
    return status_names[code];
}

const char *rmens_last_error(void) { return errmsg[0] ? errmsg : "no error message recorded"; }

void rmens_error_set_message(const char *msg) { snprintf(errmsg, sizeof errmsg, "%s", msg); }

rmens_status rmens_fail(rmens_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

rmens_status rmens_fail_context(rmens_status code, const char *fmt, ...)
{
    char old[RMENS_ERRMSG_MAX];
    memcpy(old, errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errmsg) {
        size_t room = sizeof errmsg - (size_t)n;
        memcpy(errmsg + n, old, room - 1);
        errmsg[sizeof errmsg - 1] = '\0';
    }
    return code;
}
