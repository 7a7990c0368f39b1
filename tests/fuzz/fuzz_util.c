#include "tests/fuzz/fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/h5.h"

/* ------------------------------------------------------------ input reader */

uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* Little endian; one draw per statement, since C leaves the order within an expression open. */
uint16_t fz_u16(fz_in *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (unsigned)fz_u8(in) << 8);
}

uint32_t fz_u32(fz_in *in)
{
    uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}

uint64_t fz_u64(fz_in *in)
{
    uint64_t lo = fz_u32(in);
    return lo | (uint64_t)fz_u32(in) << 32;
}
int fz_bit(fz_in *in) { return fz_u8(in) & 1; }
int fz_chance(fz_in *in, int per256) { return fz_u8(in) >= 256 - per256; }

int64_t fz_range(fz_in *in, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1, x;
    if (span <= 0x100)
        x = fz_u8(in);
    else if (span <= 0x10000)
        x = fz_u16(in);
    else if (span <= 0x100000000ull)
        x = fz_u32(in);
    else
        x = fz_u64(in);
    return (int64_t)((uint64_t)lo + (span ? x % span : x));
}

int64_t fz_int(fz_in *in, int64_t want) { return fz_u8(in) < 240 ? want : fz_int_other(in, want); }

int64_t fz_int_other(fz_in *in, int64_t want)
{
    switch (fz_u8(in) % 14) {
    case 0: return 0;
    case 1: return -1;
    case 2: return (int64_t)((uint64_t)want + 1);  /* wraps instead of overflowing */
    case 3: return (int64_t)((uint64_t)want - 1);
    case 4: return INT32_MAX;
    case 5: return INT32_MIN;
    case 6: return INT64_MAX;
    case 7: return INT64_MIN;
    case 8: return (int64_t)1 << fz_range(in, 0, 62);
    case 9: return -((int64_t)1 << fz_range(in, 0, 62));
    case 10: return (int64_t)fz_u64(in);
    case 11: return (int64_t)fz_u8(in);
    case 12: return (int64_t)UINT32_MAX;
    default: return (int64_t)((uint64_t)want * 2);
    }
}

float fz_float(fz_in *in, float want) { return fz_u8(in) < 240 ? want : fz_float_other(in, want); }

float fz_float_other(fz_in *in, float want)
{
    switch (fz_u8(in) % 10) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 0.0f;
    case 4: return 3.0e38f;
    case 5: return -3.0e38f;
    case 6: return 1e-45f;
    case 7: {
        uint32_t u = fz_u32(in);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    case 8: return -want;
    default: return (float)fz_range(in, -1000, 1000) / 8.0f;
    }
}

double fz_double(fz_in *in, double want)
{
    if (fz_u8(in) < 240)
        return want;
    switch (fz_u8(in) % 8) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 0.0;
    case 4: return 1e308;
    case 5: return -1.0;
    case 6: {
        uint64_t u = fz_u64(in);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    default: return (double)fz_range(in, -1000, 1000) / 8.0;
    }
}

size_t fz_bytes(fz_in *in, void *out, size_t max)
{
    size_t n = max < in->n ? max : in->n;
    memcpy(out, in->p, n);
    in->p += n;
    in->n -= n;
    return n;
}

/* ------------------------------------------------------- scratch directory */

static char dir[512];

static void remove_dir(void)
{
    if (!dir[0])
        return;
    fuzz_clean_dir();
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (dir[0])
        return dir;
    const char *bases[4] = {getenv("RMENS_FUZZ_TMPDIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 4; i++) {
        if (!bases[i] || !bases[i][0] || access(bases[i], W_OK) != 0)
            continue;
        snprintf(dir, sizeof dir, "%s/rmens-fuzz.%ld", bases[i], (long)getpid());
        if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
            atexit(remove_dir);
            return dir;
        }
    }
    fprintf(stderr, "fuzz: cannot create a scratch directory (set RMENS_FUZZ_TMPDIR)\n");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rmens_h5_init();
    fuzz_dir();
    return 0;
}

const char *fuzz_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fuzz_dir(), name);
    return buf;
}

void fuzz_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        fuzz_fail("cannot write %s: %s", path, strerror(errno));
}

void fuzz_save_built(const char *path)
{
    const char *to = getenv("RMENS_FUZZ_SAVE");
    if (!to || !to[0])
        return;
    FILE *in = fopen(path, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    if (!in || !out)
        fuzz_fail("cannot copy %s to %s", path, to);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            fuzz_fail("cannot write %s", to);
    fclose(in);
    if (fclose(out) != 0)
        fuzz_fail("cannot write %s", to);
}

static int walk_dir(const char *keep1, const char *keep2, int remove_them)
{
    DIR *d = opendir(fuzz_dir());
    if (!d)
        fuzz_fail("cannot list %s: %s", fuzz_dir(), strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((keep1 && strcmp(e->d_name, keep1) == 0) || (keep2 && strcmp(e->d_name, keep2) == 0))
            continue;
        n++;
        if (remove_them) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", fuzz_dir(), e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    return n;
}

int fuzz_clean_dir(void) { return walk_dir(NULL, NULL, 1); }
int fuzz_count_files_except(const char *keep1, const char *keep2) { return walk_dir(keep1, keep2, 0); }

/* ----------------------------------------------------------------- oracles */

FILE *fuzz_devnull(void)
{
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w")))
        fuzz_fail("cannot open /dev/null");
    return f;
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\n==fuzz== oracle failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n==fuzz== last rmens message: %s\n", rmens_last_error());
    va_end(ap);
    abort();
}

void fuzz_trace(rmens_status st, const char *what)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("RMENS_FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fuzz: %s -> %s%s%s\n", what, rmens_strerror(st), st ? ": " : "",
                st ? rmens_last_error() : "");
}

void fuzz_check_status(rmens_status st, const char *what)
{
    fuzz_trace(st, what);
    if (st == RMENS_OK)
        return;
    if ((int)st < 0 || st > RMENS_ERR_INTERNAL)
        fuzz_fail("%s returned an unknown status %d", what, (int)st);
    if (st == RMENS_ERR_INTERNAL)
        fuzz_fail("%s returned RMENS_ERR_INTERNAL: an input reached a state the library thinks impossible",
                  what);
    /* Inputs are small and run.sh caps single allocations at 4 GiB (replay_main.c caps the
     * address space): running out means rmens sized an allocation by what a file declares
     * rather than by what it holds. */
    if (st == RMENS_ERR_NOMEM)
        fuzz_fail("%s ran out of memory on a small input", what);
    if (strcmp(rmens_last_error(), "no error message recorded") == 0 || !rmens_last_error()[0])
        fuzz_fail("%s failed (%s) without a message", what, rmens_strerror(st));
}

static const H5I_type_t h5_types[] = {H5I_FILE, H5I_GROUP, H5I_DATASET, H5I_ATTR, H5I_DATASPACE,
                                      H5I_DATATYPE, H5I_GENPROP_LST};
#define N_H5_TYPES (sizeof h5_types / sizeof *h5_types)
static hsize_t h5_marked[N_H5_TYPES];

static hsize_t h5_count(H5I_type_t t)
{
    hsize_t n = 0;
    if (H5Inmembers(t, &n) < 0)
        return 0;
    return n;
}

void fuzz_h5_mark(void)
{
    for (size_t i = 0; i < N_H5_TYPES; i++)
        h5_marked[i] = h5_count(h5_types[i]);
}

void fuzz_h5_check_closed(const char *what)
{
    static const char *const names[] = {"files", "groups", "datasets", "attributes", "dataspaces",
                                        "datatypes", "property lists"};
    for (size_t i = 0; i < N_H5_TYPES; i++) {
        hsize_t now = h5_count(h5_types[i]);
        if (now > h5_marked[i])
            fuzz_fail("%s left %llu HDF5 %s open (%llu before the call)", what, (unsigned long long)now,
                      names[i], (unsigned long long)h5_marked[i]);
    }
}

/* ------------------------------------------ HDF5 writers that may break rules */

static void h5_check(int64_t rc, const char *what, const char *name)
{
    if (rc < 0) {
        H5Eprint2(H5E_DEFAULT, stderr);
        fuzz_fail("the fuzz target's own HDF5 call failed: %s %s", what, name);
    }
}

hid_t fuzz_h5_create(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5_check(f, "H5Fcreate", path);
    return f;
}

void fuzz_h5_close_file(hid_t f) { h5_check(H5Fclose(f), "H5Fclose", ""); }

fza_kind fz_attr_kind(fz_in *in, int is_float, int wrong_per256)
{
    if (!fz_chance(in, wrong_per256))
        return is_float ? FZA_F64 : FZA_I64;
    return (fza_kind)fz_range(in, 0, FZA_NKINDS - 1);
}

/* Creates attribute name of type t and space s and writes buf (memory type mt). */
static void attr_put(hid_t obj, const char *name, hid_t t, hid_t s, hid_t mt, const void *buf)
{
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    h5_check(a, "H5Acreate2", name);
    if (buf)
        h5_check(H5Awrite(a, mt, buf), "H5Awrite", name);
    H5Aclose(a);
}

void fuzz_attr_num(hid_t obj, const char *name, fza_kind kind, double value, int64_t ivalue)
{
    static const struct {
        fza_kind k;
        hid_t *t;
    } ints[] = {{FZA_I64, &H5T_STD_I64LE_g}, {FZA_I32, &H5T_STD_I32LE_g}, {FZA_I8, &H5T_STD_I8LE_g},
                {FZA_U8, &H5T_STD_U8LE_g},   {FZA_U16, &H5T_STD_U16LE_g}, {FZA_U32, &H5T_STD_U32LE_g},
                {FZA_U64, &H5T_STD_U64LE_g}, {FZA_I64BE, &H5T_STD_I64BE_g}};
    (void)H5open();  /* the H5T_*_g globals are set when the library initialises */
    if (kind == FZA_MISSING)
        return;
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t s = -1;
    if (kind == FZA_NULLSPACE) {
        s = H5Screate(H5S_NULL);
        attr_put(obj, name, H5T_STD_I64LE, s, H5T_NATIVE_INT64, NULL);
    } else if (kind == FZA_ARRAY2 || kind == FZA_ARRAY0 || kind == FZA_ARRAY999) {
        /* An array where a scalar belongs: a reader that does not check reads them all. */
        static double v[999];
        hsize_t d[1] = {kind == FZA_ARRAY2 ? 2u : kind == FZA_ARRAY999 ? 999u : 0u};
        for (hsize_t i = 0; i < d[0]; i++)
            v[i] = value;
        s = H5Screate_simple(1, d, NULL);
        attr_put(obj, name, H5T_IEEE_F64LE, s, H5T_NATIVE_DOUBLE, d[0] ? v : NULL);
    } else if (kind == FZA_F64 || kind == FZA_F32) {
        s = H5Screate(H5S_SCALAR);
        attr_put(obj, name, kind == FZA_F64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, s, H5T_NATIVE_DOUBLE, &value);
    } else if (kind == FZA_STRING) {
        char buf[64];
        snprintf(buf, sizeof buf, "%lld", (long long)ivalue);
        fuzz_attr_str(obj, name, FZS_VLEN_UTF8, buf, strlen(buf));
        return;
    } else {
        s = H5Screate(H5S_SCALAR);
        for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
            if (ints[i].k == kind)
                attr_put(obj, name, *ints[i].t, s, H5T_NATIVE_INT64, &ivalue);
    }
    H5Sclose(s);
}

fzs_kind fz_str_kind(fz_in *in, int wrong_per256)
{
    if (!fz_chance(in, wrong_per256))
        return fz_bit(in) ? FZS_VLEN_UTF8 : FZS_FIXED_NUL;
    return (fzs_kind)fz_range(in, 0, FZS_NKINDS - 1);
}

void fuzz_attr_str(hid_t obj, const char *name, fzs_kind kind, const char *value, size_t len)
{
    if (kind == FZS_MISSING)
        return;
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    if (kind == FZS_INT) {
        fuzz_attr_num(obj, name, FZA_I64, 0, (int64_t)len);
        return;
    }
    char *z = malloc(len + 2);
    if (!z)
        fuzz_fail("out of memory");
    memcpy(z, value, len);
    z[len] = z[len + 1] = '\0';
    hid_t t = H5Tcopy(H5T_C_S1), s = -1;
    if (kind == FZS_VLEN_UTF8 || kind == FZS_VLEN_ASCII || kind == FZS_ARRAY2) {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, kind == FZS_VLEN_ASCII ? H5T_CSET_ASCII : H5T_CSET_UTF8);
        const char *v[2] = {z, z};
        hsize_t d[1] = {2};
        s = kind == FZS_ARRAY2 ? H5Screate_simple(1, d, NULL) : H5Screate(H5S_SCALAR);
        attr_put(obj, name, t, s, t, v);
    } else if (kind == FZS_NULLSPACE) {
        H5Tset_size(t, H5T_VARIABLE);
        s = H5Screate(H5S_NULL);
        attr_put(obj, name, t, s, t, NULL);
    } else {
        /* Fixed length: NUL-terminated (one spare byte), exactly full, or space padded. */
        size_t size = len + (kind == FZS_FIXED_NUL);
        if (size == 0)
            size = 1;
        H5Tset_size(t, size);
        if (kind == FZS_FIXED_SPACEPAD)
            H5Tset_strpad(t, H5T_STR_SPACEPAD);
        s = H5Screate(H5S_SCALAR);
        attr_put(obj, name, t, s, t, z);
    }
    H5Sclose(s);
    H5Tclose(t);
    free(z);
}

void fz_layout(fz_in *in, hid_t memtype, int wrong_per256, fzd_layout *l)
{
    memset(l, 0, sizeof *l);
    l->filetype = -1;
    l->rank = 1;
    l->chunked = fz_chance(in, 32);
    if (!fz_chance(in, wrong_per256))
        return;
    static hid_t *const types[] = {&H5T_STD_I8LE_g,  &H5T_STD_U8LE_g,   &H5T_STD_I16LE_g, &H5T_STD_U16LE_g,
                                   &H5T_STD_I32LE_g, &H5T_STD_U32LE_g,  &H5T_STD_I64LE_g, &H5T_STD_U64LE_g,
                                   &H5T_STD_I32BE_g, &H5T_IEEE_F32LE_g, &H5T_IEEE_F64LE_g, &H5T_IEEE_F32BE_g,
                                   &H5T_C_S1_g};
    (void)H5open();
    switch (fz_range(in, 0, 3)) {
    case 0:
    case 1: l->filetype = *types[fz_range(in, 0, sizeof types / sizeof *types - 1)]; break;
    case 2: l->rank = fz_bit(in) ? 0 : 2; break;
    default: l->as_group = 1; break;
    }
}

void fuzz_write_dataset(hid_t file, const char *path, hid_t memtype, const void *data, int64_t n,
                        const fzd_layout *l)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    h5_check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", path);
    if (l->as_group) {
        hid_t g = H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        h5_check(g, "H5Gcreate2", path);
        H5Gclose(g);
        H5Pclose(lcpl);
        return;
    }
    hsize_t d[2] = {(hsize_t)n, 1};
    hid_t space = l->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(l->rank, d, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (l->chunked && l->rank > 0 && n > 0) {
        hsize_t c[2] = {(hsize_t)(n < 7 ? n : 7), 1};
        h5_check(H5Pset_chunk(dcpl, l->rank, c), "H5Pset_chunk", path);
        h5_check(H5Pset_shuffle(dcpl), "H5Pset_shuffle", path);
        h5_check(H5Pset_deflate(dcpl, 1), "H5Pset_deflate", path);
    }
    hid_t ft = l->filetype >= 0 ? l->filetype : memtype, mt = memtype;
    hid_t strtype = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        /* Numbers cannot be converted to strings: store their bytes as fixed strings. */
        strtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(strtype, H5Tget_size(memtype));
        ft = mt = strtype;
    }
    hid_t dset = H5Dcreate2(file, path, ft, space, lcpl, dcpl, H5P_DEFAULT);
    h5_check(dset, "H5Dcreate2", path);
    /* A scalar takes one element; an empty dataset has nothing to write. */
    int64_t want = l->rank == 0 ? 1 : n;
    if (want > 0 && (l->rank > 0 || n > 0))
        h5_check(H5Dwrite(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite", path);
    H5Dclose(dset);
    if (strtype >= 0)
        H5Tclose(strtype);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Pclose(lcpl);
}

/* ------------------------------------------------------- dataset walker */

void fuzz_walk_dataset(const rmens_dataset *ds, FILE *out)
{
    int64_t n = rmens_dataset_count(ds), sum = 0, ntok = 0;
    int ns = rmens_dataset_kind(ds) == RMENS_DATA_PAIRS ? 2 : 1;
    if (n < 1)
        fuzz_fail("the reader accepted a file with %lld records", (long long)n);
    if (ds->vocab_size < 1 || ds->eot < 0 || ds->eot >= ds->vocab_size)
        fuzz_fail("accepted: vocab_size %d, eot_token %d", ds->vocab_size, ds->eot);
    if (ns == 1 && (ds->has & (RMENS_HAS_MARGIN | RMENS_HAS_TRAP | RMENS_HAS_WEIGHT)))
        fuzz_fail("accepted: a responses file with /margin, /trap or /weight");
    for (int s = 0; s < ns; s++) {
        const rmens_seqs *q = &ds->side[s];
        if (q->offsets[0] != 0 || q->offsets[n] != q->ntok)
            fuzz_fail("accepted: side %d offsets run from %lld to %lld over %lld tokens", s,
                      (long long)q->offsets[0], (long long)q->offsets[n], (long long)q->ntok);
        if ((ds->has & RMENS_HAS_STEPS) && (q->step_offsets[0] != 0 || q->step_offsets[n] != q->nsteps))
            fuzz_fail("accepted: side %d step_offsets run from %lld to %lld over %lld steps", s,
                      (long long)q->step_offsets[0], (long long)q->step_offsets[n], (long long)q->nsteps);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t len[2] = {0, 0};
        const int32_t *t[2];
        for (int s = 0; s < ns; s++) {
            const rmens_seqs *q = &ds->side[s];
            t[s] = rmens_dataset_seq(ds, (rmens_side)s, i, &len[s]);
            if (!t[s] || len[s] < 1 || q->offsets[i] < 0 || q->offsets[i + 1] > q->ntok)
                fuzz_fail("accepted: record %lld side %d has no sequence within the tokens", (long long)i, s);
            if (t[s][len[s] - 1] != ds->eot)
                fuzz_fail("accepted: record %lld side %d does not end with end-of-text", (long long)i, s);
            for (int64_t k = 0; k < len[s]; k++) {
                if (t[s][k] < 0 || t[s][k] >= ds->vocab_size)
                    fuzz_fail("accepted: record %lld side %d token %d outside the vocabulary", (long long)i, s,
                              t[s][k]);
                sum += t[s][k];
            }
            ntok += len[s];
            if ((ds->has & RMENS_HAS_GOLD) && !isfinite(q->gold[i]))
                fuzz_fail("accepted: record %lld side %d gold is not finite", (long long)i, s);
            if (ds->has & RMENS_HAS_STEPS) {
                int64_t a = q->step_offsets[i], b = q->step_offsets[i + 1];
                if (a < 0 || b < a || b > q->nsteps)
                    fuzz_fail("accepted: record %lld side %d steps [%lld, %lld) of %lld", (long long)i, s,
                              (long long)a, (long long)b, (long long)q->nsteps);
                for (int64_t k = a; k < b; k++)
                    if (q->step_end[k] < 1 || q->step_end[k] > len[s] || (k > a && q->step_end[k] <= q->step_end[k - 1]) ||
                        (q->step_label[k] != 0 && q->step_label[k] != 1))
                        fuzz_fail("accepted: record %lld side %d step %lld (end %d, label %d)", (long long)i, s,
                                  (long long)k, q->step_end[k], q->step_label[k]);
            }
        }
        int32_t p = rmens_dataset_prompt_len(ds, i);
        if (p < 0 || p >= len[0] || (ns == 2 && (p >= len[1] || memcmp(t[0], t[1], (size_t)p * 4) != 0)))
            fuzz_fail("accepted: record %lld prompt_len %d is inconsistent with its sequences", (long long)i, p);
        if ((ds->has & RMENS_HAS_MARGIN) && !isfinite(rmens_dataset_margin(ds, i)))
            fuzz_fail("accepted: record %lld margin is not finite", (long long)i);
        if ((ds->has & RMENS_HAS_WEIGHT) && !(isfinite(ds->weight[i]) && ds->weight[i] > 0))
            fuzz_fail("accepted: record %lld weight %g", (long long)i, (double)ds->weight[i]);
        if ((ds->has & RMENS_HAS_TRAP) && (ds->trap[i] < 0 || ds->trap[i] > RMENS_TRAP_SYCOPHANCY))
            fuzz_fail("accepted: record %lld trap %d", (long long)i, ds->trap[i]);
        if ((ds->has & RMENS_HAS_SOURCE) && ds->source_record[i] < 0)
            fuzz_fail("accepted: record %lld source_record %lld", (long long)i, (long long)ds->source_record[i]);
    }
    rmens_dataset_stats st;
    fuzz_check_status(rmens_dataset_stats_compute(ds, &st), "rmens_dataset_stats_compute");
    if (st.n_records != n || st.n_tokens != ntok || st.len_min < 1 || st.len_max < st.len_median ||
        st.len_p90 < st.len_median || st.len_median < st.len_min || !(st.prompt_frac >= 0 && st.prompt_frac < 1))
        fuzz_fail("inconsistent statistics: %lld records, %lld tokens (walked %lld), lengths %lld/%lld/%lld/%lld, "
                  "prompt share %g", (long long)st.n_records, (long long)st.n_tokens, (long long)ntok,
                  (long long)st.len_min, (long long)st.len_median, (long long)st.len_p90, (long long)st.len_max,
                  st.prompt_frac);
    fprintf(out, "%lld\n", (long long)sum);
}

static void compare(const rmens_dataset *a, const rmens_dataset *b)
{
    if (a->kind != b->kind || a->has != b->has || a->n != b->n || a->vocab_size != b->vocab_size ||
        a->eot != b->eot || strcmp(a->tokenizer, b->tokenizer) != 0 || strcmp(a->task, b->task) != 0 ||
        strcmp(a->source, b->source) != 0 || a->seed != b->seed)
        fuzz_fail("written back, the file reads differently (header: kind %d/%d, has %u/%u, n %lld/%lld, "
                  "vocab %d/%d, eot %d/%d, seed %lld/%lld)", a->kind, b->kind, a->has, b->has, (long long)a->n,
                  (long long)b->n, a->vocab_size, b->vocab_size, a->eot, b->eot, (long long)a->seed,
                  (long long)b->seed);
    int64_t n = a->n;
    for (int s = 0; s < rmens_dataset_nsides(a); s++) {
        const rmens_seqs *p = &a->side[s], *q = &b->side[s];
        if (p->ntok != q->ntok || memcmp(p->tokens, q->tokens, (size_t)p->ntok * 4) != 0 ||
            memcmp(p->offsets, q->offsets, (size_t)(n + 1) * 8) != 0)
            fuzz_fail("written back, side %d's sequences read differently", s);
        if ((a->has & RMENS_HAS_GOLD) && memcmp(p->gold, q->gold, (size_t)n * 4) != 0)
            fuzz_fail("written back, side %d's gold rewards read differently", s);
        if ((a->has & RMENS_HAS_STEPS) &&
            (p->nsteps != q->nsteps || memcmp(p->step_offsets, q->step_offsets, (size_t)(n + 1) * 8) != 0 ||
             (p->nsteps && (memcmp(p->step_end, q->step_end, (size_t)p->nsteps * 4) != 0 ||
                            memcmp(p->step_label, q->step_label, (size_t)p->nsteps) != 0))))
            fuzz_fail("written back, side %d's steps read differently", s);
    }
    if (((a->has & RMENS_HAS_PROMPT) && memcmp(a->prompt_len, b->prompt_len, (size_t)n * 4) != 0) ||
        ((a->has & RMENS_HAS_MARGIN) && memcmp(a->margin, b->margin, (size_t)n * 4) != 0) ||
        ((a->has & RMENS_HAS_WEIGHT) && memcmp(a->weight, b->weight, (size_t)n * 4) != 0) ||
        ((a->has & RMENS_HAS_TRAP) && memcmp(a->trap, b->trap, (size_t)n) != 0) ||
        ((a->has & RMENS_HAS_SOURCE) && memcmp(a->source_record, b->source_record, (size_t)n * 8) != 0))
        fuzz_fail("written back, the per-record fields read differently");
}

void fuzz_round_trip(const rmens_dataset *ds)
{
    char back[600];
    fuzz_path(back, sizeof back, "back.h5");
    fuzz_h5_mark();
    rmens_status st = rmens_dataset_write(ds, back);
    fuzz_h5_check_closed("rmens_dataset_write");
    fuzz_check_status(st, "rmens_dataset_write");
    if (st != RMENS_OK)
        fuzz_fail("an accepted file cannot be written back: %s", rmens_last_error());
    rmens_dataset *again = NULL;
    st = rmens_dataset_read(&again, back);
    if (st != RMENS_OK)
        fuzz_fail("a file written by rmens_dataset_write is rejected: %s", rmens_last_error());
    compare(ds, again);
    rmens_dataset_free(again);
    remove(back);
}

/* The streamed data set holds what the whole one does, read in the given order. */
static void compare_streamed(const rmens_dataset *whole, const rmens_dataset *sd, int reverse)
{
    int64_t n = rmens_dataset_count(whole);
    if (!rmens_dataset_streamed(sd))
        fuzz_fail("a read with a budget of 0 bytes did not stream the tokens");
    if (rmens_dataset_count(sd) != n || rmens_dataset_kind(sd) != rmens_dataset_kind(whole) ||
        sd->has != whole->has || sd->vocab_size != whole->vocab_size || sd->eot != whole->eot)
        fuzz_fail("streamed and whole reads of one file disagree on its header");
    for (int64_t j = 0; j < n; j++) {
        int64_t i = reverse ? n - 1 - j : j;
        for (int s = 0; s < rmens_dataset_nsides(whole); s++) {
            int64_t la, lb;
            const int32_t *a = rmens_dataset_seq(whole, (rmens_side)s, i, &la);
            const int32_t *b = rmens_dataset_seq(sd, (rmens_side)s, i, &lb);
            if (!b)
                fuzz_fail("streamed read of record %lld side %d failed on a validated file", (long long)i, s);
            if (la != lb || memcmp(a, b, (size_t)la * sizeof *a) != 0)
                fuzz_fail("record %lld side %d: streamed tokens differ from the whole read", (long long)i, s);
        }
        if (rmens_dataset_prompt_len(sd, i) != rmens_dataset_prompt_len(whole, i))
            fuzz_fail("record %lld: streamed prompt_len differs", (long long)i);
    }
}

rmens_status fuzz_check_dataset_file(const char *path, int show_last)
{
    rmens_dataset *ds = NULL, *sd = NULL;
    fuzz_h5_mark();
    rmens_status st = rmens_dataset_read(&ds, path);
    fuzz_check_status(st, "rmens_dataset_read");
    rmens_status sst = rmens_dataset_read_bounded(&sd, path, 0);
    fuzz_check_status(sst, "rmens_dataset_read_bounded");
    if ((st == RMENS_OK) != (sst == RMENS_OK))
        fuzz_fail("whole read: %s; streamed read (budget 0): %s", st == RMENS_OK ? "accepted" : "rejected",
                  sst == RMENS_OK ? "accepted" : "rejected");
    int64_t n = 0;
    if (st == RMENS_OK) {
        n = rmens_dataset_count(ds);
        fuzz_walk_dataset(ds, fuzz_devnull());
        fuzz_round_trip(ds);
        compare_streamed(ds, sd, (int)(n & 1));
        fuzz_walk_dataset(sd, fuzz_devnull());
        compare_streamed(ds, sd, !(n & 1));
    }
    rmens_dataset_free(ds);
    rmens_dataset_free(sd);
    fuzz_h5_check_closed("rmens_dataset_read(_bounded) and rmens_dataset_free");
    /* rmens info reads the file again; on an accepted file it decodes one record. */
    fuzz_h5_mark();
    rmens_status ist = rmens_info(fuzz_devnull(), path, st == RMENS_OK ? (show_last ? n - 1 : 0) : -1);
    fuzz_h5_check_closed("rmens_info");
    fuzz_check_status(ist, "rmens_info");
    if (st == RMENS_OK && ist != RMENS_OK)
        fuzz_fail("rmens_dataset_read accepted the file, rmens info rejects it: %s", rmens_last_error());
    return st;
}

/* --------------------------------------------------- checkpoint and model loaders */

/* Bounds of what the targets themselves allocate from a header they read (the library
 * allocates what it decides; those allocations are under test). */
#define FUZZ_MAX_PARAMS (1 << 22)
#define FUZZ_MAX_PAIRS (1 << 20)

static size_t config_params(const rmens_model_config *c)
{
    if (rmens_model_config_check(c) != RMENS_OK || c->n_embd > 4096 || c->n_layer > 64 || c->vocab_size > (1 << 20) ||
        c->n_ctx > (1 << 16))
        return 0;
    size_t n = 0;
    for (int t = 0; t < RMENS_NTENSORS; t++)
        n += (size_t)rmens_tensor_numel(c, t);
    return n;
}

static void score_some(rmens_ensemble *e, const char *what)
{
    const rmens_model_config *c = rmens_ensemble_config(e);
    int K = rmens_ensemble_members(e);
    if (K < 1 || K > 1 << 16)
        fuzz_fail("%s opened an ensemble of %d members", what, K);
    if (rmens_model_config_check(c) != RMENS_OK)
        fuzz_fail("%s opened an ensemble with an invalid config: %s", what, rmens_last_error());
    for (int k = 0; k < K; k++) {
        double mean, std;
        rmens_ensemble_member_stats(e, k, &mean, &std);
    }
    /* Two sequences: a short one, and one longer than the context (cut from the front). */
    int64_t lens[2] = {c->n_ctx < 5 ? c->n_ctx : 5, (int64_t)c->n_ctx + 3};
    int32_t *s0 = malloc((size_t)lens[0] * sizeof *s0), *s1 = malloc((size_t)lens[1] * sizeof *s1);
    float *rewards = malloc((size_t)2 * (size_t)K * sizeof *rewards);
    if (!s0 || !s1 || !rewards)
        fuzz_fail("out of memory");
    for (int64_t i = 0; i < lens[0]; i++)
        s0[i] = (int32_t)((i * 7 + 3) % c->vocab_size);
    for (int64_t i = 0; i < lens[1]; i++)
        s1[i] = (int32_t)((i * 13 + 1) % c->vocab_size);
    const int32_t *seqs[2] = {s0, s1};
    rmens_score_stats stats[2];
    for (int normalize = 0; normalize < 2; normalize++) {
        int64_t cut = 0;
        rmens_status st = rmens_ensemble_score(e, seqs, lens, 2, normalize, 0.5f,
                                               rewards, stats, &cut);
        fuzz_check_status(st, "rmens_ensemble_score");
        if (st == RMENS_OK && cut != 1)
            fuzz_fail("scoring cut %lld sequences, expected 1", (long long)cut);
        if (normalize == 0 && st != RMENS_OK)
            fuzz_fail("%s: scoring valid sequences failed: %s", what, rmens_last_error());
    }
    static const char text[] = "\n\nHuman: 3 1 2\n\nAssistant: 1 2 3";
    fuzz_check_status(rmens_ensemble_score_text(e, text, sizeof text - 1, 0, 0.0f, rewards, stats),
                      "rmens_ensemble_score_text");
    free(s0);
    free(s1);
    free(rewards);
}

rmens_status fuzz_exercise_checkpoint(const char *path)
{
    rmens_ckpt_header h;
    fuzz_h5_mark();
    rmens_status st = rmens_checkpoint_read_header(path, &h);
    fuzz_h5_check_closed("rmens_checkpoint_read_header");
    fuzz_check_status(st, "rmens_checkpoint_read_header");
    size_t np = st == RMENS_OK ? config_params(&h.cfg) : 0;
    if (st == RMENS_OK && np > 0 && np <= FUZZ_MAX_PARAMS && h.members > 0) {
        rmens_model *m = NULL;
        fuzz_check_status(rmens_model_alloc(&m, &h.cfg), "rmens_model_alloc");
        float *am = malloc(np * sizeof *am), *av = malloc(np * sizeof *av);
        int64_t npairs = h.n_pairs >= 0 && h.n_pairs <= FUZZ_MAX_PAIRS ? h.n_pairs : -1;
        int32_t *counts = npairs >= 0 ? malloc((size_t)(npairs + 1) * sizeof *counts) : NULL;
        if (!m || !am || !av)
            fuzz_fail("out of memory");
        for (int k = 0; k < h.members && k < 4; k++) {
            double attrs[RMENS_MA_N];
            fuzz_h5_mark();
            st = rmens_checkpoint_read_member(path, k, m, am, av, counts, npairs, attrs);
            fuzz_h5_check_closed("rmens_checkpoint_read_member");
            fuzz_check_status(st, "rmens_checkpoint_read_member");
            if (st == RMENS_OK)
                for (size_t i = 0; i < m->nparams; i++)
                    if (!isfinite(m->params[i]))
                        fuzz_fail("member %d loaded with a non-finite weight at %zu", k, i);
            /* Only the weights, as scoring reads them. */
            fuzz_h5_mark();
            fuzz_check_status(rmens_checkpoint_read_member(path, k, m, NULL, NULL, NULL, 0, NULL),
                              "rmens_checkpoint_read_member");
            fuzz_h5_check_closed("rmens_checkpoint_read_member");
        }
        free(counts);
        free(am);
        free(av);
        rmens_model_free(m);
    }
    /* A one-member checkpoint is a job-array part: rmens merge joins parts (here one). */
    if (st == RMENS_OK && h.members == 1) {
        char merged[600];
        const char *parts[1] = {path};
        fuzz_path(merged, sizeof merged, "merged.h5");
        fuzz_h5_mark();
        rmens_status mst = rmens_checkpoint_merge(merged, parts, 1, "rmens merge (fuzz)", 1);
        fuzz_h5_check_closed("rmens_checkpoint_merge");
        fuzz_check_status(mst, "rmens_checkpoint_merge");
        if (mst == RMENS_OK) {
            rmens_ckpt_header h2;
            if (rmens_checkpoint_read_header(merged, &h2) != RMENS_OK)
                fuzz_fail("rmens_checkpoint_merge wrote a checkpoint whose header does not read: %s",
                          rmens_last_error());
            if (h2.members != 1 || h2.n_pairs != h.n_pairs || h2.step != h.step)
                fuzz_fail("merged checkpoint: %d members, %lld pairs, step %lld; the part had 1, %lld, %lld",
                          h2.members, (long long)h2.n_pairs, (long long)h2.step, (long long)h.n_pairs,
                          (long long)h.step);
        }
        remove(merged);
    }
    rmens_model *lm = NULL;
    int fresh = 0;
    fuzz_h5_mark();
    rmens_status mst = rmens_model_load(&lm, path, 1, &fresh);
    fuzz_h5_check_closed("rmens_model_load");
    fuzz_check_status(mst, "rmens_model_load");
    rmens_model_free(lm);

    rmens_ensemble *e = NULL;
    fuzz_h5_mark();
    rmens_status est = rmens_ensemble_open(&e, path);
    fuzz_h5_check_closed("rmens_ensemble_open");
    fuzz_check_status(est, "rmens_ensemble_open");
    if (est == RMENS_OK) {
        score_some(e, path);
        rmens_ensemble_close(e);
    }
    fuzz_h5_mark();
    fuzz_check_status(rmens_info(fuzz_devnull(), path, -1), "rmens_info");
    fuzz_h5_check_closed("rmens_info");
    return est;
}

void fuzz_write_nd(hid_t file, const char *path, hid_t filetype, hid_t memtype, const void *data, int rank,
                   const int64_t *dims, int chunked)
{
    hsize_t d[4], c[4];
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        d[i] = (hsize_t)dims[i];
        c[i] = dims[i] > 0 ? (hsize_t)dims[i] : 1;
        n *= dims[i];
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    h5_check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", path);
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, d, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked && rank > 0 && n > 0) {
        h5_check(H5Pset_chunk(dcpl, rank, c), "H5Pset_chunk", path);
        h5_check(H5Pset_deflate(dcpl, 1), "H5Pset_deflate", path);
    }
    hid_t ft = filetype, mt = memtype, strtype = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        strtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(strtype, H5Tget_size(memtype));
        ft = mt = strtype;
    }
    hid_t dset = H5Dcreate2(file, path, ft, space, lcpl, dcpl, H5P_DEFAULT);
    h5_check(dset, "H5Dcreate2", path);
    if (n > 0)
        h5_check(H5Dwrite(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite", path);
    H5Dclose(dset);
    if (strtype >= 0)
        H5Tclose(strtype);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Pclose(lcpl);
}
