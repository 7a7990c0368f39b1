/* One version of a file read by name several times. A checkpoint is saved by renaming
 * a new file over the old one, so reading it by name (its header, then each member on
 * each rank, then its checksum) may read several versions. A pin holds the version
 * first opened; after the reads, if the path still names it, every read in between
 * read it: a save renames a new file onto the path, and the pinned one, held open
 * (its inode cannot be reused), never comes back. Otherwise the reader reads again. */
#ifndef RMENS_IO_PIN_H
#define RMENS_IO_PIN_H

#include <sys/stat.h>

#include <mpi.h>

#include "rmens.h"

/* Times a reader reads again before giving up on a file replaced faster than it reads. */
#define RMENS_PIN_TRIES 100

typedef struct {
    int open;
    int fd;
    char path[1024];
    struct stat sb;
} rmens_pin;

/* Collective over comm (MPI_COMM_NULL: serial): every rank pins the same version of path
 * (inode, size and modification time agree), trying again while saves replace it. */
rmens_status rmens_pin_open(rmens_pin *p, const char *path, MPI_Comm comm);
/* Collective: *held = 1 on every rank if path still names the pinned version on every
 * rank (so every read of path since rmens_pin_open read it). */
rmens_status rmens_pin_held(const rmens_pin *p, MPI_Comm comm, int *held);
void rmens_pin_close(rmens_pin *p);
/* CRC-32 of the pinned version's bytes. */
rmens_status rmens_pin_crc32(const rmens_pin *p, uint32_t *crc);
/* The message for a file replaced RMENS_PIN_TRIES times while it was read. */
rmens_status rmens_pin_gave_up(const rmens_pin *p);

#endif
