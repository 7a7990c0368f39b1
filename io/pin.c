#include "io/pin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"
#include "comm/verdict.h"

static rmens_status pin_local(rmens_pin *p, const char *path)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    p->open = 1;
    if (fstat(p->fd, &p->sb) != 0) {
        rmens_status st = rmens_fail(RMENS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        rmens_pin_close(p);
        return st;
    }
    return RMENS_OK;
}

rmens_status rmens_pin_open(rmens_pin *p, const char *path, MPI_Comm comm)
{
    if (comm == MPI_COMM_NULL)
        return pin_local(p, path);
    for (int attempt = 0;; attempt++) {
        rmens_status st = rmens_verdict(comm, pin_local(p, path));
        if (st != RMENS_OK) {
            rmens_pin_close(p);
            return st;
        }
        /* rank 0's version; every rank compares its own */
        int64_t id[4] = {(int64_t)p->sb.st_ino, (int64_t)p->sb.st_size, (int64_t)p->sb.st_mtim.tv_sec,
                         (int64_t)p->sb.st_mtim.tv_nsec};
        int64_t mine[4];
        memcpy(mine, id, sizeof id);
        int differ = 0;
        st = rmens_mpi_check(MPI_Bcast(id, 4, MPI_INT64_T, 0, comm), "MPI_Bcast(pin)");
        differ = st == RMENS_OK && memcmp(id, mine, sizeof id) != 0;
        if (st == RMENS_OK)
            st = rmens_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce(pin)");
        if (st != RMENS_OK || !differ)
            return st;
        rmens_pin_close(p);
        if (attempt == RMENS_PIN_TRIES)
            return rmens_pin_gave_up(p);
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
}

void rmens_pin_close(rmens_pin *p)
{
    if (p->open)
        close(p->fd);
    p->open = 0;
    p->fd = -1;
}

rmens_status rmens_pin_held(const rmens_pin *p, MPI_Comm comm, int *held)
{
    struct stat now;
    *held = p->open && stat(p->path, &now) == 0 && now.st_dev == p->sb.st_dev && now.st_ino == p->sb.st_ino &&
            now.st_size == p->sb.st_size && now.st_mtim.tv_sec == p->sb.st_mtim.tv_sec &&
            now.st_mtim.tv_nsec == p->sb.st_mtim.tv_nsec;
    if (comm == MPI_COMM_NULL)
        return RMENS_OK;
    return rmens_mpi_check(MPI_Allreduce(MPI_IN_PLACE, held, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce(pin)");
}

rmens_status rmens_pin_gave_up(const rmens_pin *p)
{
    return rmens_fail(RMENS_ERR_IO, "%s: replaced by a save %d times while it was read: is it saved continuously? "
                      "(every read must be of one version)", p->path, RMENS_PIN_TRIES);
}

/* A Hugging Face model directory: its config.json, index and safetensors files (the
 * model, not its tokenizer), in name order. */
static int model_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return strcmp(e->d_name, "config.json") == 0 || (n > 12 && strcmp(e->d_name + n - 12, ".safetensors") == 0) ||
           strcmp(e->d_name, "model.safetensors.index.json") == 0;
}

static rmens_status dir_crc32(const rmens_pin *p, uint32_t *crc)
{
    struct dirent **list = NULL;
    int n = scandir(p->path, &list, model_file, alphasort);
    if (n < 0)
        return rmens_fail(RMENS_ERR_IO, "%s: %s", p->path, strerror(errno));
    uLong c = crc32(0L, Z_NULL, 0);
    rmens_status st = RMENS_OK;
    unsigned char *buf = malloc(1 << 20);
    if (!buf)
        st = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char f[2200];
        snprintf(f, sizeof f, "%s/%s", p->path, list[i]->d_name);
        FILE *in = st == RMENS_OK ? fopen(f, "rb") : NULL;
        size_t k;
        if (st == RMENS_OK && !in)
            st = rmens_fail(RMENS_ERR_IO, "%s: %s", f, strerror(errno));
        while (in && (k = fread(buf, 1, 1 << 20, in)) > 0)
            c = crc32(c, buf, (uInt)k);
        if (in && ferror(in) && st == RMENS_OK)
            st = rmens_fail(RMENS_ERR_IO, "%s: read error", f);
        if (in)
            fclose(in);
        free(list[i]);
    }
    free(list);
    free(buf);
    *crc = (uint32_t)c;
    return st;
}

rmens_status rmens_pin_crc32(const rmens_pin *p, uint32_t *crc)
{
    if (S_ISDIR(p->sb.st_mode))
        return dir_crc32(p, crc);
    uLong c = crc32(0L, Z_NULL, 0);
    unsigned char *buf = malloc(1 << 20);
    if (!buf)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    off_t at = 0;
    ssize_t n;
    while ((n = pread(p->fd, buf, 1 << 20, at)) > 0) {
        c = crc32(c, buf, (uInt)n);
        at += n;
    }
    free(buf);
    if (n < 0)
        return rmens_fail(RMENS_ERR_IO, "%s: read error: %s", p->path, strerror(errno));
    *crc = (uint32_t)c;
    return RMENS_OK;
}
