/* Status codes and the per-thread error message.
 * Library code never prints and never exits: it records what went wrong with
 * rmens_fail() and returns the code up the stack; only the program's top level
 * prints (rank 0) and exits. */
#ifndef RMENS_BASE_ERROR_H
#define RMENS_BASE_ERROR_H

#include "rmens.h"

/* Record a message for the calling thread and return code (printf-style). */
rmens_status rmens_fail(rmens_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("file.h5: " + old message). */
rmens_status rmens_fail_context(rmens_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Replace the message wholesale (used to copy a message received from another rank). */
void rmens_error_set_message(const char *msg);

/* Propagate a failing call: RMENS_TRY(x) returns x's status if it is not RMENS_OK. */
#define RMENS_TRY(call)                         \
    do {                                        \
        rmens_status rmens_try_st_ = (call);    \
        if (rmens_try_st_ != RMENS_OK)          \
            return rmens_try_st_;               \
    } while (0)

#endif
