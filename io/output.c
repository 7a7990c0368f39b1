/* _GNU_SOURCE: O_CLOEXEC, realpath's companions */
#define _GNU_SOURCE
#include "io/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"

/* The folder a path's file lives in ("." for a bare name). */
static void folder_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == path)
        snprintf(dir, n, "/");
    else
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* Where a file not yet created will be: its folder resolved, then its name. */
static void resolved(const char *path, char *out, size_t n)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    folder_of(path, dir, sizeof dir);
    if (realpath(dir, real))
        snprintf(out, n, "%s/%s", strcmp(real, "/") == 0 ? "" : real, slash ? slash + 1 : path);
    else
        snprintf(out, n, "%s", path);
}

int rmens_output_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb)
        return 0;
    char ra[PATH_MAX + 256], rb[PATH_MAX + 256];
    resolved(a, ra, sizeof ra);
    resolved(b, rb, sizeof rb);
    return strcmp(ra, rb) == 0;
}

static rmens_status check_folder(const rmens_file_use *o)
{
    char dir[PATH_MAX];
    struct stat sb;
    folder_of(o->path, dir, sizeof dir);
    if (stat(dir, &sb) != 0)
        return rmens_fail(RMENS_ERR_ARG, "%s %s: the folder %s does not exist (%s)", o->flag, o->path, dir,
                          strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return rmens_fail(RMENS_ERR_ARG, "%s %s: %s is not a folder", o->flag, o->path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rmens_fail(RMENS_ERR_ARG, "%s %s: cannot write in the folder %s (%s)", o->flag, o->path, dir,
                          strerror(errno));
    return RMENS_OK;
}

rmens_status rmens_output_check(const rmens_file_use *in, int nin, const rmens_file_use *out, int nout)
{
    for (int j = 0; j < nin; j++)
        if (in[j].path && access(in[j].path, R_OK) != 0)
            return rmens_fail(RMENS_ERR_IO, "%s: cannot open: %s", in[j].path, strerror(errno));
    for (int i = 0; i < nout; i++) {
        const rmens_file_use *o = &out[i];
        if (!o->path)
            continue;
        RMENS_TRY(check_folder(o));
        for (int j = 0; j < nin; j++)
            if (in[j].path && rmens_output_same_file(o->path, in[j].path))
                return rmens_fail(RMENS_ERR_ARG, "%s %s is the same file as %s %s: it would be overwritten", o->flag,
                                  o->path, in[j].flag, in[j].path);
        for (int j = 0; j < i; j++)
            if (out[j].path && rmens_output_same_file(o->path, out[j].path))
                return rmens_fail(RMENS_ERR_ARG, "%s %s and %s %s are the same file", out[j].flag, out[j].path,
                                  o->flag, o->path);
        struct stat sb;
        /* lstat: a dangling symbolic link is something the user had, too */
        if (!o->may_exist && lstat(o->path, &sb) == 0)
            return rmens_fail(RMENS_ERR_ARG, "%s %s already exists%s (set `force` to replace it)", o->flag, o->path,
                              S_ISLNK(sb.st_mode) && stat(o->path, &sb) != 0 ? " as a dangling symbolic link" : "");
        if (o->may_exist && stat(o->path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return rmens_fail(RMENS_ERR_ARG, "%s %s is a folder", o->flag, o->path);
    }
    return RMENS_OK;
}

rmens_status rmens_output_lock_take(rmens_output_lock *l, const char *path)
{
    l->fd = -1;
    snprintf(l->path, sizeof l->path, "%s.lock", path);
    /* The lock file is removed at release: a writer that opened it just before must see
     * that its file is no longer the one at the path, and try again. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return rmens_fail(RMENS_ERR_IO, "cannot create the lock file %s: %s", l->path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char holder[256] = "";
            ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
            close(fd);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            if (e != EWOULDBLOCK)
                return rmens_fail(RMENS_ERR_IO, "cannot lock %s: %s", l->path, strerror(e));
            return rmens_fail(RMENS_ERR_ARG, "%s is being written by another rmens (%s; lock %s): wait for it to end, "
                              "or stop it first", path, holder[0] ? holder : "holder unknown", l->path);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char host[256] = "?", line[512];
            gethostname(host, sizeof host - 1);
            time_t now = time(NULL);
            struct tm tm;
            gmtime_r(&now, &tm);
            int len = snprintf(line, sizeof line, "pid %ld on host %s since %04d-%02d-%02d %02d:%02d:%02d UTC\n",
                               (long)getpid(), host, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec);
            if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
                rmens_status st = rmens_fail(RMENS_ERR_IO, "cannot write the lock file %s: %s", l->path,
                                             strerror(errno));
                unlink(l->path);
                close(fd);
                return st;
            }
            l->fd = fd;
            return RMENS_OK;
        }
        close(fd);  /* released and removed meanwhile: take the new one */
    }
    return rmens_fail(RMENS_ERR_IO, "cannot lock %s: it keeps changing", l->path);
}

void rmens_output_lock_release(rmens_output_lock *l)
{
    if (l->fd < 0)
        return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}
