/* A file staged in memory and written to disk at its exact size: an HDF5 file built by
 * the core driver, then reserved (a full disk fails before a byte is written, with no
 * HDF5 file open) and written under "<path>.tmp.<pid>", then renamed. Compressed files
 * (prep, synth) reserve what they take, not their uncompressed size; several files
 * written together are renamed together, with termination signals held off, so a run
 * leaves all of them or none. */
#ifndef RMENS_IO_STAGE_H
#define RMENS_IO_STAGE_H

#include <hdf5.h>

#include "rmens.h"

/* An empty HDF5 file in memory (the earliest file format, as every rmens file). */
rmens_status rmens_stage_create(hid_t *file);
/* Writes the in-memory files[0..n) to paths[0..n) and closes them: each image to
 * "<path>.tmp.<pid>", its size reserved first, then every rename; SIGTERM, SIGINT, SIGHUP
 * and SIGUSR1 are held meanwhile and raised again after. On failure no temporary is
 * left and no path is touched (unless a rename itself fails: the message says which
 * files were replaced). */
rmens_status rmens_stage_finish(hid_t *files, const char *const *paths, int n);

/* A file that is not HDF5 (safetensors, config.json), streamed: fill(fd, tmp, arg) writes
 * exactly size bytes to "<path>.tmp.<pid>" after the whole size is reserved; the file is
 * then synced and renamed onto path, with the termination signals held as above. On
 * failure no temporary is left and path is untouched. */
typedef rmens_status (*rmens_stage_fill)(int fd, const char *tmp, void *arg);
rmens_status rmens_stage_stream(const char *path, double size, rmens_stage_fill fill, void *arg);
/* Writes all n bytes of buf to fd (retrying interrupted writes); the message names tmp. */
rmens_status rmens_stage_write_all(int fd, const char *tmp, const void *buf, size_t n);

#endif
