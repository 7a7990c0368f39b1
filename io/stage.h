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

#endif
