/* memfd_create */
#define _GNU_SOURCE
#include "io/h5.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fault.h"

/* Elements per chunk of large 1-d datasets (256 KiB of int32). */
#define H5_CHUNK 65536
/* Below this many elements a dataset is one uncompressed chunk: compression would not pay. */
#define H5_COMPRESS_MIN 4096

static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
/* When this process first used HDF5 through rmens: a temporary last modified before
 * then belongs to a save that is no longer running (rmens_h5_sweep_stale). Read from
 * the coarse clock that file times come from, less a margin: a file written just after
 * this moment must never look older than it. */
static struct timespec h5_started;
#define H5_STARTED_MARGIN_NS 100000000L
static void h5_init_once(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    clock_gettime(CLOCK_REALTIME_COARSE, &h5_started);
    h5_started.tv_nsec -= H5_STARTED_MARGIN_NS;
    if (h5_started.tv_nsec < 0) {
        h5_started.tv_nsec += 1000000000L;
        h5_started.tv_sec--;
    }
}
static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}
void rmens_h5_init(void) { pthread_once(&h5_once, h5_init_once); }

static pthread_mutex_t h5_lock;
static pthread_once_t h5_lock_once = PTHREAD_ONCE_INIT;
static void h5_lock_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_lock, &a);
    pthread_mutexattr_destroy(&a);
}
void rmens_h5_lock(void)
{
    pthread_once(&h5_lock_once, h5_lock_init);
    pthread_mutex_lock(&h5_lock);
}
void rmens_h5_unlock(void) { pthread_mutex_unlock(&h5_lock); }

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    /* H5E_WALK_UPWARD visits the innermost (most specific) record first. A failed
     * write or read names the system error inside a long dump: keep just that. */
    if (n != 0 || !e->desc)
        return 0;
    const char *m = strstr(e->desc, "error message = '");
    const char *end = m ? strchr(m + 17, '\'') : NULL;
    if (m && end)
        snprintf((char *)data, 256, "%.*s: %.*s", (int)strcspn(e->desc, ":"), e->desc, (int)(end - m - 17), m + 17);
    else
        snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}

rmens_status rmens_h5_fail(const char *fmt, ...)
{
    char what[1024], inner[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, inner);
    H5Eclear2(H5E_DEFAULT);
    if (inner[0])
        return rmens_fail(RMENS_ERR_HDF5, "%s (HDF5: %s)", what, inner);
    return rmens_fail(RMENS_ERR_HDF5, "%s", what);
}

void rmens_h5_close(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

int rmens_h5_exists(hid_t loc, const char *path)
{
    /* H5Lexists needs every parent to exist, so walk the path one component at a time. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + (buf[0] == '/'); ; p++) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
            return 0;
        if (!slash)
            return 1;
        *slash = '/';
        p = slash;
    }
}

int rmens_h5_is_hdf5(const char *path)
{
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(path, H5P_DEFAULT) > 0;
#else
    return H5Fis_hdf5(path) > 0;
#endif
}

rmens_status rmens_h5_open_ro(const char *path, hid_t fapl, hid_t *file)
{
    rmens_h5_init();
    *file = -1;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return rmens_fail(RMENS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    if (!rmens_h5_is_hdf5(path))
        return rmens_fail(RMENS_ERR_FORMAT, "%s: not an HDF5 file (or truncated/corrupted)", path);
    if ((*file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0)
        return rmens_h5_fail("%s: cannot open", path);
    return RMENS_OK;
}

int rmens_h5_has_attr(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

static rmens_status attr_write(hid_t obj, const char *name, hid_t filetype, hid_t memtype,
                               const void *value)
{
    rmens_status st = RMENS_OK;
    hid_t space = -1, attr = -1;
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) {
        st = rmens_h5_fail("cannot replace attribute %s", name);
        goto exit;
    }
    if ((space = H5Screate(H5S_SCALAR)) < 0 ||
        (attr = H5Acreate2(obj, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, memtype, value) < 0)
        st = rmens_h5_fail("cannot write attribute %s", name);
exit:
    rmens_h5_close(attr);
    rmens_h5_close(space);
    return st;
}

rmens_status rmens_h5_attr_write_str(hid_t obj, const char *name, const char *value)
{
    /* Variable-length UTF-8, so h5py reads it back as str, not bytes. */
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        rmens_h5_close(t);
        return rmens_h5_fail("cannot make string type for attribute %s", name);
    }
    rmens_status st = attr_write(obj, name, t, t, &value);
    H5Tclose(t);
    return st;
}

rmens_status rmens_h5_attr_write_i64(hid_t obj, const char *name, int64_t value)
{
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

rmens_status rmens_h5_attr_write_f64(hid_t obj, const char *name, double value)
{
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

rmens_status rmens_h5_attr_write_u32(hid_t obj, const char *name, uint32_t value)
{
    return attr_write(obj, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &value);
}

rmens_status rmens_h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t size)
{
    rmens_status st = RMENS_OK;
    hid_t attr = -1, ftype = -1, mtype = -1, space = -1;
    buf[0] = '\0';
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s is missing", name);
        goto exit;
    }
    if ((ftype = H5Aget_type(attr)) < 0 || (space = H5Aget_space(attr)) < 0) {
        st = rmens_h5_fail("cannot inspect attribute %s", name);
        goto exit;
    }
    if (H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s must be a scalar string", name);
        goto exit;
    }
    if (H5Tis_variable_str(ftype) > 0) {
        char *s = NULL;
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
            H5Aread(attr, mtype, &s) < 0) {
            st = rmens_h5_fail("cannot read attribute %s", name);
            goto exit;
        }
        snprintf(buf, size, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(ftype);
        char *tmp = calloc(n + 1, 1);
        if (!tmp) {
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading attribute %s", name);
            goto exit;
        }
        /* One byte more than stored: a NUL-padded string that fills its field (h5py's
         * numpy bytes) would otherwise lose its last character to the terminator. */
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, n + 1) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
            H5Aread(attr, mtype, tmp) < 0) {
            free(tmp);
            st = rmens_h5_fail("cannot read attribute %s", name);
            goto exit;
        }
        snprintf(buf, size, "%s", tmp);
        free(tmp);
    }
exit:
    rmens_h5_close(mtype);
    rmens_h5_close(ftype);
    rmens_h5_close(space);
    rmens_h5_close(attr);
    return st;
}

rmens_status rmens_h5_attr_read_f64(hid_t obj, const char *name, double *value)
{
    rmens_status st = RMENS_OK;
    hid_t attr = -1, ftype = -1, space = -1;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (ftype = H5Aget_type(attr)) < 0 ||
        (space = H5Aget_space(attr)) < 0)
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s is missing", name);
    else if ((H5Tget_class(ftype) != H5T_INTEGER && H5Tget_class(ftype) != H5T_FLOAT) ||
             H5Sget_simple_extent_npoints(space) != 1)  /* an array would overrun value */
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s must be a scalar number", name);
    else if (H5Aread(attr, H5T_NATIVE_DOUBLE, value) < 0)
        st = rmens_h5_fail("cannot read attribute %s", name);
    rmens_h5_close(ftype);
    rmens_h5_close(space);
    rmens_h5_close(attr);
    return st;
}

rmens_status rmens_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value)
{
    rmens_status st = RMENS_OK;
    hid_t attr = -1, ftype = -1, space = -1;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0) {
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s is missing", name);
        goto exit;
    }
    if ((ftype = H5Aget_type(attr)) < 0 || (space = H5Aget_space(attr)) < 0) {
        st = rmens_h5_fail("cannot inspect attribute %s", name);
        goto exit;
    }
    if (H5Tget_class(ftype) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1) {
        st = rmens_fail(RMENS_ERR_FORMAT, "attribute %s must be a scalar integer", name);
        goto exit;
    }
    if (H5Aread(attr, H5T_NATIVE_INT64, value) < 0)
        st = rmens_h5_fail("cannot read attribute %s", name);
exit:
    rmens_h5_close(ftype);
    rmens_h5_close(space);
    rmens_h5_close(attr);
    return st;
}

rmens_status rmens_h5_write_1d(hid_t file, const char *path, hid_t filetype, hid_t memtype,
                               const void *data, int64_t n)
{
    rmens_status st = RMENS_OK;
    hid_t space = -1, lcpl = -1, dcpl = -1, dset = -1;
    hsize_t dims[1] = {(hsize_t)n};
    if ((space = H5Screate_simple(1, dims, NULL)) < 0 || (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0) {  /* no clock in the file: equal data, equal bytes */
        st = rmens_h5_fail("cannot set up dataset %s", path);
        goto exit;
    }
    /* Every chunk carries a Fletcher-32 checksum: a flipped bit is an error on reading,
     * never a silently different token. */
    hsize_t chunk[1] = {n < 1 ? 1 : n < H5_CHUNK ? (hsize_t)n : H5_CHUNK};
    if (H5Pset_chunk(dcpl, 1, chunk) < 0 || (n >= H5_COMPRESS_MIN && (H5Pset_shuffle(dcpl) < 0 ||
        H5Pset_deflate(dcpl, 4) < 0)) || H5Pset_fletcher32(dcpl) < 0) {
        st = rmens_h5_fail("cannot set the storage of %s", path);
        goto exit;
    }
    if ((dset = H5Dcreate2(file, path, filetype, space, lcpl, dcpl, H5P_DEFAULT)) < 0) {
        st = rmens_h5_fail("cannot create dataset %s", path);
        goto exit;
    }
    if (n > 0 && H5Dwrite(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = rmens_h5_fail("cannot write dataset %s", path);
exit:
    rmens_h5_close(dset);
    rmens_h5_close(dcpl);
    rmens_h5_close(lcpl);
    rmens_h5_close(space);
    return st;
}

rmens_status rmens_h5_write_nd(hid_t file, const char *path, hid_t filetype, hid_t memtype,
                               const void *data, int rank, const int64_t *dims)
{
    rmens_status st = RMENS_OK;
    hid_t space = -1, lcpl = -1, dcpl = H5P_DEFAULT, dset = -1;
    hsize_t d[8], chunk[8];
    double bytes = (double)H5Tget_size(filetype);
    for (int i = 0; i < rank && i < 8; i++) {
        d[i] = (hsize_t)dims[i];
        chunk[i] = d[i] > 0 ? d[i] : 1;
        bytes *= (double)chunk[i];
    }
    /* Written here in one piece (a model file, scores): checksummed chunks of at most
     * 64 MiB. Created empty for parallel filling (a checkpoint): contiguous, as parallel
     * HDF5 applies no filter to independent writes. */
    while (data && bytes > 64.0 * 1048576 && chunk[0] > 1) {
        bytes /= (double)chunk[0];
        chunk[0] = (chunk[0] + 1) / 2;
        bytes *= (double)chunk[0];
    }
    if ((space = H5Screate_simple(rank, d, NULL)) < 0 || (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        (data && ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 ||
                  H5Pset_fletcher32(dcpl) < 0)) ||
        (dset = H5Dcreate2(file, path, filetype, space, lcpl, dcpl, H5P_DEFAULT)) < 0) {
        st = rmens_h5_fail("cannot create dataset %s", path);
        goto exit;
    }
    if (data && H5Dwrite(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = rmens_h5_fail("cannot write dataset %s", path);
exit:
    rmens_h5_close(dset);
    if (dcpl != H5P_DEFAULT)
        rmens_h5_close(dcpl);
    rmens_h5_close(lcpl);
    rmens_h5_close(space);
    return st;
}

rmens_status rmens_h5_fill(hid_t file, const char *path, hid_t memtype, const void *data)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    rmens_status st = RMENS_OK;
    if (d < 0 || H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = rmens_h5_fail("cannot write dataset %s", path);
    rmens_h5_close(d);
    return st;
}

rmens_status rmens_h5_read_floats(hid_t file, const char *path, int rank, const int64_t *dims, float *out)
{
    rmens_status st = RMENS_OK;
    hid_t dset = -1, ftype = -1, space = -1;
    if (!rmens_h5_exists(file, path)) {
        st = rmens_fail(RMENS_ERR_FORMAT, "tensor %s is missing", path);
        goto exit;
    }
    if ((dset = H5Dopen2(file, path, H5P_DEFAULT)) < 0 || (ftype = H5Dget_type(dset)) < 0 ||
        (space = H5Dget_space(dset)) < 0) {
        st = rmens_h5_fail("cannot open tensor %s", path);
        goto exit;
    }
    if (H5Tget_class(ftype) != H5T_FLOAT || H5Tget_size(ftype) > 4) {
        st = rmens_fail(RMENS_ERR_FORMAT, "tensor %s is stored as %s%zu-bit, expected float32", path,
                        H5Tget_class(ftype) == H5T_FLOAT ? "float" : "non-float ", H5Tget_size(ftype) * 8);
        goto exit;
    }
    hsize_t got[8];
    int r = H5Sget_simple_extent_ndims(space);
    int ok = r == rank;
    if (r >= 0 && r <= 8)
        H5Sget_simple_extent_dims(space, got, NULL);
    for (int i = 0; ok && i < rank; i++)
        ok = got[i] == (hsize_t)dims[i];
    if (!ok) {
        char want[64] = "", have[64] = "";
        for (int i = 0; i < rank; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)dims[i]);
        for (int i = 0; i < r && i < 8; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? ", " : "",
                     (unsigned long long)got[i]);
        st = rmens_fail(RMENS_ERR_FORMAT, "tensor %s has shape [%s], expected [%s]", path, have, want);
        goto exit;
    }
    if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        st = rmens_h5_fail("cannot read tensor %s", path);
exit:
    rmens_h5_close(space);
    rmens_h5_close(ftype);
    rmens_h5_close(dset);
    return st;
}

rmens_status rmens_h5_open_1d(hid_t file, const char *path, H5T_class_t want_class, hid_t memtype,
                              hid_t *dset, int64_t *n)
{
    rmens_status st = RMENS_OK;
    hid_t d = -1, ftype = -1, space = -1;
    *dset = -1;
    *n = 0;
    if (!rmens_h5_exists(file, path)) {
        st = rmens_fail(RMENS_ERR_FORMAT, "dataset %s is missing", path);
        goto exit;
    }
    if ((d = H5Dopen2(file, path, H5P_DEFAULT)) < 0 || (ftype = H5Dget_type(d)) < 0 ||
        (space = H5Dget_space(d)) < 0) {
        st = rmens_h5_fail("cannot open dataset %s", path);
        goto exit;
    }
    if (H5Sget_simple_extent_ndims(space) != 1) {
        st = rmens_fail(RMENS_ERR_FORMAT, "dataset %s must be one-dimensional", path);
        goto exit;
    }
    H5T_class_t cls = H5Tget_class(ftype);
    size_t fsize = H5Tget_size(ftype), msize = H5Tget_size(memtype);
    int lossy = cls != want_class || fsize > msize;
    if (!lossy && cls == H5T_INTEGER)  /* an unsigned type as wide as memtype may overflow it */
        lossy = H5Tget_sign(ftype) == H5T_SGN_NONE && fsize == msize;
    if (lossy) {
        st = rmens_fail(RMENS_ERR_FORMAT, "dataset %s has type %s%zu-bit, expected %s of at most %zu bits",
                        path, cls == H5T_INTEGER ? (H5Tget_sign(ftype) == H5T_SGN_NONE ? "unsigned integer " : "integer ")
                                                 : cls == H5T_FLOAT ? "float " : "non-numeric ",
                        fsize * 8, want_class == H5T_INTEGER ? "integer" : "float", msize * 8);
        goto exit;
    }
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (np < 0) {
        st = rmens_h5_fail("cannot size dataset %s", path);
        goto exit;
    }
    /* A damaged header can declare any length: check it against what is stored before
     * allocating for it (found by tests/fuzz). Deflate compresses at most about 1032:1. */
    hsize_t stored = H5Dget_storage_size(d), filesize = 0;
    hid_t fid = H5Iget_file_id(d);
    if (fid >= 0)
        H5Fget_filesize(fid, &filesize);
    rmens_h5_close(fid);
    if (np > 0 && (stored == 0 || (double)np * (double)fsize > 1100.0 * (double)stored + 65536.0 ||
                   (filesize > 0 && stored > filesize))) {
        st = rmens_fail(RMENS_ERR_FORMAT, "dataset %s declares %lld elements but %llu bytes are stored for it: "
                        "the file is damaged", path, (long long)np, (unsigned long long)stored);
        goto exit;
    }
    *dset = d;
    *n = np;
    d = -1;
exit:
    rmens_h5_close(space);
    rmens_h5_close(ftype);
    rmens_h5_close(d);
    return st;
}

rmens_status rmens_h5_read_range(hid_t dset, hid_t memtype, hid_t dxpl, int64_t lo, int64_t n, void *buf)
{
    rmens_status st = RMENS_OK;
    hid_t fspace = -1, mspace = -1;
    hsize_t start = (hsize_t)lo, count = (hsize_t)n;
    if (n <= 0)
        return RMENS_OK;
    if ((fspace = H5Dget_space(dset)) < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
        (mspace = H5Screate_simple(1, &count, NULL)) < 0 || H5Dread(dset, memtype, mspace, fspace, dxpl, buf) < 0)
        st = rmens_h5_fail("cannot read elements [%lld, %lld)", (long long)lo, (long long)(lo + n));
    rmens_h5_close(mspace);
    rmens_h5_close(fspace);
    return st;
}

rmens_status rmens_h5_read_1d(hid_t file, const char *path, H5T_class_t want_class,
                              hid_t memtype, hid_t dxpl, void **data, int64_t *n)
{
    hid_t dset = -1;
    void *buf = NULL;
    *data = NULL;
    rmens_status st = rmens_h5_open_1d(file, path, want_class, memtype, &dset, n);
    if (st == RMENS_OK && *n > 0) {
        if (!(buf = malloc((size_t)*n * H5Tget_size(memtype))))
            st = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s (%lld elements)", path, (long long)*n);
        else if (H5Dread(dset, memtype, H5S_ALL, H5S_ALL, dxpl, buf) < 0)
            st = rmens_h5_fail("cannot read dataset %s", path);
    }
    rmens_h5_close(dset);
    if (st != RMENS_OK) {
        free(buf);
        *n = 0;
        return st;
    }
    *data = buf;
    return RMENS_OK;
}

rmens_status rmens_h5_reserve(const char *path, double bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    /* fallocate, not posix_fallocate: where the file system cannot reserve (some network
     * file systems) the latter would write zeros. There, the free space is checked
     * instead: no reservation, but a disk that is already full is still an error here
     * rather than a failed write inside HDF5. RMENS_FAULT_NOFALLOCATE=1 takes that path
     * (tests/faults.sh, base/fault.h). */
    int rc = rmens_fault_nofallocate() ? (errno = EOPNOTSUPP, -1) : fallocate(fd, 0, 0, (off_t)bytes), e = errno;
    struct statvfs vfs;
    int have_vfs = rc != 0 && fstatvfs(fd, &vfs) == 0;
    close(fd);
    if (rc != 0 && e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
        return rmens_fail(RMENS_ERR_IO, "cannot reserve %.1f MiB for %s: %s", bytes / 1048576.0, path, strerror(e));
    if (rc != 0 && have_vfs && (double)vfs.f_bavail * (double)vfs.f_frsize < bytes)
        return rmens_fail(RMENS_ERR_IO, "cannot write %s: %.1f MiB free on its file system, %.1f MiB needed (%s)",
                          path, (double)vfs.f_bavail * (double)vfs.f_frsize / 1048576.0, bytes / 1048576.0,
                          "No space left on device");
    return RMENS_OK;
}

rmens_status rmens_h5_trim(const char *path)
{
    /* The superblock (HDF5 file format specification): after the signature and version,
     * versions 0 and 1 hold the base address at byte 24 or 28 and the end-of-file
     * address 16 bytes later; versions 2 and 3 hold them at bytes 12 and 28. */
    unsigned char sb[64];
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    rmens_status s = RMENS_OK;
    if (pread(fd, sb, sizeof sb, 0) == (ssize_t)sizeof sb && memcmp(sb, "\211HDF\r\n\032\n", 8) == 0 &&
        sb[8] <= 3 && (sb[8] >= 2 ? sb[9] : sb[13]) == 8 && fstat(fd, &st) == 0) {
        int at_base = sb[8] >= 2 ? 12 : sb[8] == 1 ? 28 : 24, at_eof = sb[8] >= 2 ? 28 : at_base + 16;
        uint64_t base = 0, eof = 0;
        for (int i = 7; i >= 0; i--) {
            base = base << 8 | sb[at_base + i];
            eof = eof << 8 | sb[at_eof + i];
        }
        if (base == 0 && eof > 0 && (off_t)eof < st.st_size && ftruncate(fd, (off_t)eof) != 0)
            s = rmens_fail(RMENS_ERR_IO, "cannot trim %s: %s", path, strerror(errno));
    }
    close(fd);
    return s;
}

rmens_status rmens_h5_create_tmp(const char *path, int overwrite, double bytes, hid_t *file, char *tmp,
                                 size_t tmpsize)
{
    rmens_h5_init();
    *file = -1;
    if (!overwrite && access(path, F_OK) == 0)
        return rmens_fail(RMENS_ERR_ARG, "%s already exists (set `force` to replace it)", path);
    snprintf(tmp, tmpsize, "%s.tmp.%ld", path, (long)getpid());
    /* The earliest file format: the 1.8 format's object headers would carry checksums,
     * but HDF5 1.10.8 leaks memory writing it (LeakSanitizer, every dataset created). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        rmens_h5_close(fapl);
        return rmens_h5_fail("cannot set up %s", tmp);
    }
    /* Reserved before HDF5 writes anything (so a failure leaves no open file to close),
     * and again after the create, which truncates. */
    rmens_status st = rmens_h5_reserve(tmp, bytes);
    if (st != RMENS_OK) {
        rmens_h5_close(fapl);
        remove(tmp);
        return st;
    }
    *file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    rmens_h5_close(fapl);
    if (*file < 0) {
        st = rmens_h5_fail("cannot create %s", tmp);
        remove(tmp);
        return st;
    }
    if ((st = rmens_h5_reserve(tmp, bytes)) != RMENS_OK) {
        rmens_h5_abandon(*file, tmp);
        *file = -1;
    }
    return st;
}

/* HDF5 1.10 cannot close a file whose writes fail (a full disk): the close fails, and
 * the library crashes at exit closing it again. An abandoned serial file's descriptor
 * is pointed at an anonymous in-memory file first (writes past the end of a sparse
 * file cost only what is written), so that its close completes; the real file is
 * removed anyway. */
static void close_abandoned(hid_t file)
{
    if (H5Iis_valid(file) <= 0)
        return;
    hid_t fapl = H5Fget_access_plist(file);
    void *handle = NULL;
    struct rlimit lim, saved;
    int raised = 0;
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 &&
        handle) {
        int mem = memfd_create("rmens-abandoned", 0);
        if (mem >= 0) {
            dup2(mem, *(int *)handle);
            close(mem);
        }
        /* a file-size limit applies to the in-memory file too: lift it for the close */
        if (getrlimit(RLIMIT_FSIZE, &saved) == 0 && saved.rlim_cur != saved.rlim_max) {
            lim = saved;
            lim.rlim_cur = lim.rlim_max;
            raised = setrlimit(RLIMIT_FSIZE, &lim) == 0;
        }
    }
    rmens_h5_close(fapl);
    H5Fclose(file);
    if (raised)
        setrlimit(RLIMIT_FSIZE, &saved);
}

rmens_status rmens_h5_commit(hid_t file, const char *tmp, const char *path)
{
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0 || H5Fclose(file) < 0) {
        rmens_status st = rmens_h5_fail("cannot finish writing %s", tmp);
        close_abandoned(file);
        remove(tmp);
        return st;
    }
    rmens_status st = rmens_h5_trim(tmp);
    if (st != RMENS_OK) {
        remove(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return rmens_fail(RMENS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    rmens_h5_sweep_stale(path);
    return RMENS_OK;
}

int rmens_h5_sweep_stale(const char *path)
{
    rmens_h5_init();
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".") >= (int)sizeof dir)
        return 0;
    const char *base = slash ? slash + 1 : path;
    size_t nb = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    long self = (long)getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, base, nb) != 0 || strncmp(name + nb, ".tmp.", 5) != 0)
            continue;
        const char *digits = name + nb + 5, *q = digits;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q == digits || *q || strtol(digits, NULL, 10) == self)
            continue;
        char full[8192];
        struct stat sb;
        snprintf(full, sizeof full, "%s%s%s", dir, slash ? "" : "/", name);
        if (lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) && before(&sb.st_mtim, &h5_started) && unlink(full) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

void rmens_h5_abandon(hid_t file, const char *tmp)
{
    if (file >= 0)
        close_abandoned(file);
    if (tmp && tmp[0])
        remove(tmp);
}
