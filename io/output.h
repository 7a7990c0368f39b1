/* The files a command writes, checked before any work and guarded against a second
 * writer (docs/RELIABILITY.md): hours of training must not end at a save that cannot
 * happen, and nothing a user had may be overwritten by mistake. */
#ifndef RMENS_IO_OUTPUT_H
#define RMENS_IO_OUTPUT_H

#include "rmens.h"

/* One file named on a command line. */
typedef struct {
    const char *flag;  /* "--out", "--data", ... for messages */
    const char *path;  /* NULL: not given (skipped) */
    int may_exist;     /* outputs: an existing file is replaced (--force) or continued (--resume) */
} rmens_file_use;

/* Serial (rank 0 of a command, or a library caller), before any work:
 *  - every output's folder exists and is writable;
 *  - an existing output (a dangling symbolic link too) is refused unless may_exist;
 *  - no output is the same file as an input or as another output, compared by identity
 *    (device and inode of existing files, the resolved path of files not yet created),
 *    whatever --force says. */
rmens_status rmens_output_check(const rmens_file_use *in, int nin, const rmens_file_use *out, int nout);

/* 1 if a and b name the same file (existing: same device and inode; otherwise the same
 * resolved path). */
int rmens_output_same_file(const char *a, const char *b);

/* An advisory lock held by the one process writing path: flock on "<path>.lock", which
 * records "pid N on host H since T". A second writer is refused with that line. The lock
 * file is removed when released; one left by a killed writer holds no lock and is
 * taken over. */
typedef struct {
    int fd;  /* -1: none held */
    char path[4200];
} rmens_output_lock;

rmens_status rmens_output_lock_take(rmens_output_lock *l, const char *path);
void rmens_output_lock_release(rmens_output_lock *l);

#endif
