/* Fault injection for the tests, in one place. Compiled in only by configure
 * --enable-fault-injection (the test build and CI turn it on; tests needing it skip
 * otherwise, and fail under RMENS_NO_SKIP); in any other build every hook is a constant
 * that does nothing, so no RMENS_FAULT_* variable can change what the library does. */
#ifndef RMENS_BASE_FAULT_H
#define RMENS_BASE_FAULT_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#ifdef RMENS_FAULT_INJECTION
/* RMENS_FAULT_NOFALLOCATE=1: space reservation behaves as on a file system without
 * fallocate (the free space is checked instead). */
int rmens_fault_nofallocate(void);
/* RMENS_FAULT_SAVE="R:N": rank R dies (exit status 9) in the middle of its N-th save of
 * this process, after its data went into the temporary file. */
void rmens_fault_save(int rank);
/* RMENS_FAULT_NAN="k:s" or "k:s:i": the flat index of the parameter of member k to set to
 * NaN after step s (1-based): i, or dflt (the score head) without it; -1: none. */
int64_t rmens_fault_nan(int64_t member, int64_t step, size_t nparams, size_t dflt);
/* RMENS_FAULT_FSIZE=BYTES: the size limit of files this process writes from here on,
 * so writes fail as on a full disk (the program calls it after MPI_Init). */
void rmens_fault_fsize(void);
#else
static inline int rmens_fault_nofallocate(void) { return 0; }
static inline void rmens_fault_save(int rank) { (void)rank; }
static inline int64_t rmens_fault_nan(int64_t member, int64_t step, size_t nparams, size_t dflt)
{
    (void)member, (void)step, (void)nparams, (void)dflt;
    return -1;
}
static inline void rmens_fault_fsize(void) {}
#endif

#endif
