#include "io/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "io/h5.h"

rmens_status rmens_stage_create(hid_t *file)
{
    rmens_h5_init();
    /* HDF5 refuses a second open file of one name, in memory too */
    static _Atomic unsigned long serial;
    char name[64];
    snprintf(name, sizeof name, "rmens-staged-%ld-%lu", (long)getpid(), serial++);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* grown 1 MiB at a time; nothing written to a backing file */
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
        (*file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rmens_h5_close(fapl);
        *file = -1;
        return rmens_h5_fail("cannot create a file in memory");
    }
    rmens_h5_close(fapl);
    return RMENS_OK;
}

/* The signals a batch scheduler or a user sends to end a run are held off across a
 * write and renames: caught (a mask would not do: MPI's own threads would take the
 * signal and end the process) and raised again, with the caller's disposition, after. */
static const int term_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
#define NTERM (sizeof term_signals / sizeof *term_signals)
static volatile sig_atomic_t held_signal;  /* process-wide, as signal dispositions are */
static void hold_handler(int sig) { held_signal = sig; }
static void hold_signals(struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hold_handler;
    sa.sa_flags = SA_RESTART;
    held_signal = 0;
    for (size_t i = 0; i < NTERM; i++)
        sigaction(term_signals[i], &sa, &old[i]);
}
static void release_signals(const struct sigaction *old)
{
    for (size_t i = 0; i < NTERM; i++)
        sigaction(term_signals[i], &old[i], NULL);
    int sig = held_signal;
    held_signal = 0;
    if (sig)
        raise(sig);
}

/* Closes the in-memory file and writes its image to tmp, reserved first; nothing is
 * left on disk on failure. */
static rmens_status write_image(hid_t file, const char *path, char *tmp, size_t tmpsize)
{
    snprintf(tmp, tmpsize, "%s.tmp.%ld", path, (long)getpid());
    ssize_t size = H5Fflush(file, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(file, NULL, 0);
    char *img = size > 0 ? malloc((size_t)size) : NULL;
    rmens_status st = RMENS_OK;
    if (size <= 0 || (img && H5Fget_file_image(file, img, (size_t)size) != size))
        st = rmens_h5_fail("%s: cannot take the file's image", path);
    else if (!img)
        st = rmens_fail(RMENS_ERR_NOMEM, "%s: out of memory (%.1f MiB)", path, (double)size / 1048576.0);
    if (H5Fclose(file) < 0 && st == RMENS_OK)
        st = rmens_h5_fail("%s: cannot close the file in memory", path);
    if (st == RMENS_OK)
        st = rmens_h5_reserve(tmp, (double)size);
    int fd = st == RMENS_OK ? open(tmp, O_WRONLY) : -1;
    if (st == RMENS_OK && fd < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", tmp, strerror(errno));
    for (ssize_t at = 0; st == RMENS_OK && at < size;) {
        ssize_t w = write(fd, img + at, (size_t)(size - at));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
        else
            at += w;
    }
    if (st == RMENS_OK && (ftruncate(fd, size) != 0 || fdatasync(fd) != 0))
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && st == RMENS_OK)
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (st != RMENS_OK)
        remove(tmp);
    free(img);
    return st;
}

rmens_status rmens_stage_finish(hid_t *files, const char *const *paths, int n)
{
    char(*tmps)[4200] = calloc((size_t)n, sizeof *tmps);
    if (!tmps) {
        for (int i = 0; i < n; i++)
            rmens_h5_close(files[i]);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    struct sigaction old[NTERM];
    hold_signals(old);
    rmens_status st = RMENS_OK;
    int written = 0, renamed = 0;  /* temporaries on disk: [renamed, written) */
    for (int i = 0; i < n; i++) {
        if (st == RMENS_OK && (st = write_image(files[i], paths[i], tmps[i], sizeof tmps[i])) == RMENS_OK)
            written++;
        else if (st != RMENS_OK && i > written)
            rmens_h5_close(files[i]);  /* not reached: still open */
        files[i] = -1;
    }
    while (st == RMENS_OK && renamed < n) {
        if (rename(tmps[renamed], paths[renamed]) != 0)
            st = rmens_fail(RMENS_ERR_IO, "cannot rename %s to %s: %s%s", tmps[renamed], paths[renamed],
                            strerror(errno), renamed ? " (the files before it were replaced)" : "");
        else
            renamed++;
    }
    if (st != RMENS_OK)
        for (int i = renamed; i < written; i++)
            remove(tmps[i]);
    for (int i = 0; i < n && st == RMENS_OK; i++)
        rmens_h5_sweep_stale(paths[i]);
    release_signals(old);
    free(tmps);
    return st;
}

rmens_status rmens_stage_write_all(int fd, const char *tmp, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
        p += w;
        n -= (size_t)w;
    }
    return RMENS_OK;
}

rmens_status rmens_stage_stream(const char *path, double size, rmens_stage_fill fill, void *arg)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return rmens_fail(RMENS_ERR_ARG, "%s: path too long", path);
    struct sigaction old[NTERM];
    hold_signals(old);
    rmens_status st = rmens_h5_reserve(tmp, size);
    int fd = st == RMENS_OK ? open(tmp, O_WRONLY) : -1;
    if (st == RMENS_OK && fd < 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", tmp, strerror(errno));
    if (st == RMENS_OK)
        st = fill(fd, tmp, arg);
    if (st == RMENS_OK && (ftruncate(fd, (off_t)size) != 0 || fdatasync(fd) != 0))
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && st == RMENS_OK)
        st = rmens_fail(RMENS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (st == RMENS_OK && rename(tmp, path) != 0)
        st = rmens_fail(RMENS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != RMENS_OK)
        remove(tmp);
    else
        rmens_h5_sweep_stale(path);
    release_signals(old);
    return st;
}
