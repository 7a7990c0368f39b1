/* Small checked wrappers over the HDF5 C API, netCDF-C style: every hid_t starts at -1,
 * every call is checked, one exit: label closes what is open, and failures come back
 * as rmens_status with the HDF5 error stack's innermost message attached. */
#ifndef RMENS_IO_H5_H
#define RMENS_IO_H5_H

#include <hdf5.h>

#include "rmens.h"

/* Turns off HDF5's automatic error printing, once per process. */
void rmens_h5_init(void);

/* HDF5 as Debian builds it is not thread-safe: every library entry point that calls it
 * (reading or writing any rmens file, a streamed data set's reads and its close) holds
 * this one process-wide lock, recursive so entry points may call each other. */
void rmens_h5_lock(void);
void rmens_h5_unlock(void);
/* Returns `call` (an rmens_status expression) evaluated under the lock. */
#define RMENS_H5_LOCKED(call)                  \
    do {                                       \
        rmens_h5_lock();                       \
        rmens_status locked_st_ = (call);      \
        rmens_h5_unlock();                     \
        return locked_st_;                     \
    } while (0)

/* Records "what: <innermost HDF5 message>" and returns RMENS_ERR_HDF5. */
rmens_status rmens_h5_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Closes any kind of HDF5 id if it is valid; always safe on -1. */
void rmens_h5_close(hid_t id);

/* Opens path read-only with fapl (H5P_DEFAULT for serial), saying plainly when the file
 * is missing or not HDF5 (HDF5's own messages say neither). *file is -1 on failure. */
rmens_status rmens_h5_open_ro(const char *path, hid_t fapl, hid_t *file);

/* 1 if path is a readable HDF5 file (any HDF5 version this library reads). */
int rmens_h5_is_hdf5(const char *path);

int rmens_h5_exists(hid_t loc, const char *path);  /* 1 if a link path exists (groups too) */
int rmens_h5_has_attr(hid_t obj, const char *name);

rmens_status rmens_h5_attr_write_str(hid_t obj, const char *name, const char *value);
rmens_status rmens_h5_attr_write_i64(hid_t obj, const char *name, int64_t value);
rmens_status rmens_h5_attr_write_f64(hid_t obj, const char *name, double value);
rmens_status rmens_h5_attr_write_u32(hid_t obj, const char *name, uint32_t value);
/* Reads a fixed- or variable-length string attribute into buf (truncated to size). */
rmens_status rmens_h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t size);
/* Reads a scalar integer or float attribute as a double. */
rmens_status rmens_h5_attr_read_f64(hid_t obj, const char *name, double *value);
/* Reads any scalar integer attribute. */
rmens_status rmens_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value);

/* Creates a 1-d dataset at path (intermediate groups too) from n elements of memtype
 * stored as filetype; chunked with a Fletcher-32 checksum per chunk, and shuffle +
 * deflate when it is large enough to pay. */
rmens_status rmens_h5_write_1d(hid_t file, const char *path, hid_t filetype, hid_t memtype,
                               const void *data, int64_t n);

/* The same for an n-d dataset of dims[0..rank), uncompressed (weights do not compress):
 * checksummed chunks of at most 64 MiB. data NULL: create only, contiguous (parallel
 * HDF5 creates collectively; the owner then writes its data alone, unfiltered). */
rmens_status rmens_h5_write_nd(hid_t file, const char *path, hid_t filetype, hid_t memtype,
                               const void *data, int rank, const int64_t *dims);

/* Writes all of an existing dataset from data (memtype). */
rmens_status rmens_h5_fill(hid_t file, const char *path, hid_t memtype, const void *data);

/* Reads a float dataset that must have exactly rank and dims (the message names the
 * dataset and the shape found) and be stored as float of at most 32 bits, into out. */
rmens_status rmens_h5_read_floats(hid_t file, const char *path, int rank, const int64_t *dims,
                                  float *out);

/* Reads a whole 1-d dataset. The stored type must be of class want_class (H5T_INTEGER or
 * H5T_FLOAT) and fit memtype without loss; *data is malloc'ed (NULL when n == 0). */
rmens_status rmens_h5_read_1d(hid_t file, const char *path, H5T_class_t want_class,
                              hid_t memtype, hid_t dxpl, void **data, int64_t *n);

/* Opens a 1-d dataset with the same type checks as rmens_h5_read_1d, for reading in
 * ranges; *n is its length. *dset is -1 on failure; close it with rmens_h5_close. */
rmens_status rmens_h5_open_1d(hid_t file, const char *path, H5T_class_t want_class, hid_t memtype,
                              hid_t *dset, int64_t *n);
/* Reads elements [lo, lo + n) of an open 1-d dataset into buf (memtype). */
rmens_status rmens_h5_read_range(hid_t dset, hid_t memtype, hid_t dxpl, int64_t lo, int64_t n, void *buf);

/* A writable file at "<path>.tmp.<pid>", with bytes (an upper bound of its final size)
 * reserved; rmens_h5_commit closes it and
 * renames it onto path, rmens_h5_abandon closes and removes it. */
rmens_status rmens_h5_create_tmp(const char *path, int overwrite, double bytes, hid_t *file, char *tmp,
                                 size_t tmpsize);
/* Reserves disk space for the first bytes of a file (fallocate; created if need be), so that a full
 * disk or a file-size limit shows here, before any data is written, rather than in the
 * middle of HDF5's writes, after which HDF5 1.10 cannot close the file (and a parallel
 * close can deadlock). A file system that cannot reserve is not an error. */
rmens_status rmens_h5_reserve(const char *path, double bytes);
/* Gives back what rmens_h5_reserve reserved beyond the end of a closed file (its
 * superblock's end-of-file address; files with 8-byte addresses). */
rmens_status rmens_h5_trim(const char *path);
/* Room for the metadata of a file of n datasets beside their data. */
#define RMENS_H5_OVERHEAD(n) (1048576.0 + 65536.0 * (double)(n))
rmens_status rmens_h5_commit(hid_t file, const char *tmp, const char *path);
void rmens_h5_abandon(hid_t file, const char *tmp);
/* After a save of path succeeded: removes "<path>.tmp.<pid>" files that a killed save
 * left behind (SIGKILL or a failed node skips every cleanup): those last modified
 * before this process first used HDF5, so not one a running save is filling. Returns
 * how many it removed. */
int rmens_h5_sweep_stale(const char *path);

#endif
