#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/jsonfile.h"
#include "io/stage.h"

/* The dtypes of the format (safetensors' Dtype), with their size in bits. */
static const struct {
    const char *name;
    int bits;
    int readable;
} dtypes[] = {
    {"F32", 32, 1},  {"F16", 16, 1},    {"BF16", 16, 1},   {"BOOL", 8, 0},    {"U8", 8, 0},
    {"I8", 8, 0},    {"F8_E5M2", 8, 0}, {"F8_E4M3", 8, 0}, {"F8_E8M0", 8, 0}, {"I16", 16, 0},
    {"U16", 16, 0},  {"I32", 32, 0},    {"U32", 32, 0},    {"F64", 64, 0},    {"I64", 64, 0},
    {"U64", 64, 0},  {"C64", 64, 0},    {"F4", 4, 0},      {"F6_E2M3", 6, 0}, {"F6_E3M2", 6, 0},
};
#define NDTYPES (sizeof dtypes / sizeof *dtypes)

#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"

typedef struct {
    char *path;
    unsigned char *map;  /* the whole file, read-only */
    size_t size;
    uint64_t header;     /* N */
    json_object *meta;   /* "__metadata__" or NULL */
} st_file;

struct rmens_safetensors {
    char *path;  /* as opened */
    st_file *files;
    int nfiles;
    rmens_st_tensor *tensors;
    int64_t ntensors, cap;
};

#define FAIL(file, ...) rmens_fail_context(rmens_fail(RMENS_ERR_FORMAT, __VA_ARGS__), "%s: ", (file))

/* ------------------------------------------------------------ conversions */

float rmens_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;  /* inf, or NaN keeping its payload */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man == 0) {
        bits = sign;
    } else {  /* subnormal: man x 2^-24, normal in float */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float rmens_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t rmens_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(bits >> 16 | 0x40);  /* NaN: quiet, sign kept */
    return (uint16_t)((bits + 0x7fff + (bits >> 16 & 1)) >> 16);
}

/* ------------------------------------------------------------ one file */

static int64_t get_count(const rmens_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] != 0 && n > INT64_MAX / 64 / t->shape[i])
            return -1;
        else
            n *= t->shape[i];
    return n;
}

static int shape_str(char *buf, size_t cap, int rank, const int64_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
    return 0;
}

/* A non-negative JSON integer (not a float, not a string). */
static int get_uint(json_object *v, int64_t *out)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x == INT64_MAX)  /* INT64_MAX: json-c's saturation of larger values */
        return 0;
    *out = x;
    return 1;
}

static rmens_status add_tensor(rmens_safetensors *st, const char *file, const char *name, json_object *info)
{
    if (!json_object_is_type(info, json_type_object))
        return FAIL(file, "tensor %s: its header entry is not an object", name);
    if (strlen(name) == 0)
        return FAIL(file, "a tensor has an empty name");
    if (st->ntensors == st->cap) {
        int64_t cap = st->cap ? 2 * st->cap : 64;
        rmens_st_tensor *t = realloc(st->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        st->tensors = t;
        st->cap = cap;
    }
    rmens_st_tensor *t = &st->tensors[st->ntensors];
    memset(t, 0, sizeof *t);
    json_object *dt = NULL, *shape = NULL, *off = NULL;
    json_object_object_get_ex(info, "dtype", &dt);
    json_object_object_get_ex(info, "shape", &shape);
    json_object_object_get_ex(info, "data_offsets", &off);
    if (!dt || !json_object_is_type(dt, json_type_string))
        return FAIL(file, "tensor %s: dtype is %s", name, dt ? "not a string" : "missing");
    for (size_t i = 0; i < NDTYPES && !t->dtype; i++)
        if (strcmp(json_object_get_string(dt), dtypes[i].name) == 0) {
            t->dtype = dtypes[i].name;
            t->readable = dtypes[i].readable;
        }
    if (!t->dtype)
        return FAIL(file, "tensor %s: unknown dtype \"%.40s\"", name, json_object_get_string(dt));
    if (!shape || !json_object_is_type(shape, json_type_array))
        return FAIL(file, "tensor %s: shape is %s", name, shape ? "not a list" : "missing");
    size_t rank = json_object_array_length(shape);
    if (rank > RMENS_ST_MAX_RANK)
        return FAIL(file, "tensor %s: shape has %zu dimensions (at most %d are read)", name, rank, RMENS_ST_MAX_RANK);
    t->rank = (int)rank;
    for (size_t i = 0; i < rank; i++)
        if (!get_uint(json_object_array_get_idx(shape, i), &t->shape[i]))
            return FAIL(file, "tensor %s: shape[%zu] is not a non-negative integer", name, i);
    int64_t b, e;
    if (!off || !json_object_is_type(off, json_type_array) || json_object_array_length(off) != 2 ||
        !get_uint(json_object_array_get_idx(off, 0), &b) || !get_uint(json_object_array_get_idx(off, 1), &e))
        return FAIL(file, "tensor %s: data_offsets is %s", name, off ? "not two non-negative integers" : "missing");
    if (e < b)
        return FAIL(file, "tensor %s: data_offsets [%lld, %lld] end before they begin", name, (long long)b,
                    (long long)e);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    int bits = 0;
    for (size_t i = 0; i < NDTYPES; i++)
        if (t->dtype == dtypes[i].name)
            bits = dtypes[i].bits;
    t->count = get_count(t);
    char s[200];
    shape_str(s, sizeof s, t->rank, t->shape);
    if (t->count < 0)
        return FAIL(file, "tensor %s: shape %s is too large", name, s);
    if (t->count * bits % 8)
        return FAIL(file, "tensor %s: shape %s of %s is not a whole number of bytes", name, s, t->dtype);
    if ((uint64_t)(t->count * bits / 8) != t->end - t->begin)
        return FAIL(file, "tensor %s: shape %s of %s needs %lld bytes, its data_offsets [%lld, %lld] hold %lld",
                    name, s, t->dtype, (long long)(t->count * bits / 8), (long long)b, (long long)e,
                    (long long)(e - b));
    if (!(t->name = strdup(name)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    t->file = file;
    st->ntensors++;
    return RMENS_OK;
}

static int by_range(const void *a, const void *b)
{
    const rmens_st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The byte ranges of tensors[from, to) (one file's) cover its data section exactly. */
static rmens_status check_ranges(rmens_safetensors *st, int64_t from, const st_file *f)
{
    int64_t n = st->ntensors - from;
    rmens_st_tensor *t = n ? st->tensors + from : NULL;
    if (n)
        qsort(t, (size_t)n, sizeof *t, by_range);
    uint64_t at = 0, data = f->size - 8 - f->header;
    for (int64_t i = 0; i < n; i++) {
        if (t[i].begin < at)
            return FAIL(f->path, "tensors %s and %s overlap (data_offsets [%llu, %llu] and [%llu, %llu])",
                        t[i - 1].name, t[i].name, (unsigned long long)t[i - 1].begin,
                        (unsigned long long)t[i - 1].end, (unsigned long long)t[i].begin,
                        (unsigned long long)t[i].end);
        if (t[i].begin > at)
            return FAIL(f->path, "%llu bytes before tensor %s belong to no tensor (data_offsets must be contiguous)",
                        (unsigned long long)(t[i].begin - at), t[i].name);
        at = t[i].end;
        if (at > data)
            return FAIL(f->path, "tensor %s ends at byte %llu of a data section of %llu bytes (the file is truncated)",
                        t[i].name, (unsigned long long)at, (unsigned long long)data);
    }
    if (at != data)
        return FAIL(f->path, "the data section has %llu bytes after the last tensor, which belong to none",
                    (unsigned long long)(data - at));
    return RMENS_OK;
}

static rmens_status open_file(rmens_safetensors *st, st_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rmens_status s = rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return s;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rmens_fail(RMENS_ERR_IO, "%s: not a regular file", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        close(fd);
        return FAIL(path, "%zu bytes: shorter than the 8-byte header length (not a safetensors file, or truncated)",
                    f->size);
    }
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return rmens_fail(RMENS_ERR_IO, "cannot map %s: %s", path, strerror(errno));
    f->map = m;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f->map[i];
    f->header = n;
    if (n > RMENS_ST_MAX_HEADER)
        return FAIL(path, "the header length is %llu bytes, over the limit of %d (not a safetensors file?)",
                    (unsigned long long)n, RMENS_ST_MAX_HEADER);
    if (n > f->size - 8)
        return FAIL(path, "the header of %llu bytes runs past the end of the file (%zu bytes): truncated",
                    (unsigned long long)n, f->size);
    json_object *h = NULL;
    rmens_status s = rmens_json_parse(path, "header", (const char *)f->map + 8, (size_t)n, &h);
    if (s != RMENS_OK)
        return s;
    int64_t first = st->ntensors;
    json_object_object_foreach(h, key, val)
    {
        if (s != RMENS_OK)
            break;
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_object_is_type(val, json_type_object)) {
                s = FAIL(path, "__metadata__ is not an object");
                break;
            }
            json_object_object_foreach(val, mk, mv)
            {
                if (!json_object_is_type(mv, json_type_string)) {
                    s = FAIL(path, "__metadata__.%s is not a string", mk);
                    break;
                }
            }
            f->meta = json_object_get(val);
        } else {
            s = add_tensor(st, f->path, key, val);
        }
    }
    json_object_put(h);
    return s == RMENS_OK ? check_ranges(st, first, f) : s;
}

/* ------------------------------------------------------------ a checkpoint */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const rmens_st_tensor *)a)->name, ((const rmens_st_tensor *)b)->name);
}

const rmens_st_tensor *rmens_safetensors_find(const rmens_safetensors *st, const char *name)
{
    rmens_st_tensor key = {.name = name};
    return st->ntensors ? bsearch(&key, st->tensors, (size_t)st->ntensors, sizeof key, by_name) : NULL;
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Opens the shards the index names (each once) and checks that they agree with it. */
static rmens_status open_sharded(rmens_safetensors *st, const char *dir, const char *index)
{
    json_object *root = NULL, *map = NULL;
    RMENS_TRY(rmens_json_read(index, 64 << 20, &root));
    rmens_status s = RMENS_OK;
    if (!json_object_object_get_ex(root, "weight_map", &map) || !json_object_is_type(map, json_type_object))
        s = FAIL(index, "weight_map is %s", map ? "not an object" : "missing");
    int nmap = s == RMENS_OK ? json_object_object_length(map) : 0;
    if (s == RMENS_OK && nmap == 0)
        s = FAIL(index, "weight_map is empty");
    if (s == RMENS_OK && !(st->files = calloc((size_t)nmap, sizeof *st->files)))
        s = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    char path[4200];
    if (s == RMENS_OK) {
        json_object_object_foreach(map, name, shard)
        {
            const char *sh = json_object_is_type(shard, json_type_string) ? json_object_get_string(shard) : NULL;
            if (!sh || !*sh || strchr(sh, '/') || strcmp(sh, ".") == 0 || strcmp(sh, "..") == 0) {
                s = FAIL(index, "weight_map.%s is not the name of a file in the directory", name);
                break;
            }
            int known = 0;
            for (int i = 0; i < st->nfiles && !known; i++)
                known = strcmp(base_of(st->files[i].path), sh) == 0;
            if (known)
                continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, sh) >= (int)sizeof path) {
                s = rmens_fail(RMENS_ERR_ARG, "%s: path too long", dir);
                break;
            }
            if (!is_file(path)) {
                s = FAIL(index, "shard %s (of tensor %s) is missing: %s", sh, name, strerror(ENOENT));
                break;
            }
            if ((s = open_file(st, &st->files[st->nfiles++], path)) != RMENS_OK)
                break;
        }
    }
    if (s == RMENS_OK) {
        if (st->ntensors)
            qsort(st->tensors, (size_t)st->ntensors, sizeof *st->tensors, by_name);
        for (int64_t i = 1; i < st->ntensors && s == RMENS_OK; i++)
            if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
                s = FAIL(index, "tensor %s is in two shards: %s and %s", st->tensors[i].name,
                         base_of(st->tensors[i - 1].file), base_of(st->tensors[i].file));
    }
    if (s == RMENS_OK) {
        json_object_object_foreach(map, name, shard)
        {
            const rmens_st_tensor *t = rmens_safetensors_find(st, name);
            const char *sh = json_object_get_string(shard);
            if (!t) {
                s = FAIL(index, "tensor %s: the index puts it in %s, which does not hold it", name, sh);
                break;
            }
            if (strcmp(base_of(t->file), sh) != 0) {
                s = FAIL(index, "tensor %s: the index puts it in %s, but %s holds it", name, sh, base_of(t->file));
                break;
            }
        }
    }
    if (s == RMENS_OK && st->ntensors != nmap)
        for (int64_t i = 0; i < st->ntensors && s == RMENS_OK; i++) {
            json_object *v;
            if (!json_object_object_get_ex(map, st->tensors[i].name, &v))
                s = FAIL(index, "shard %s holds tensor %s, which the index does not list", base_of(st->tensors[i].file),
                         st->tensors[i].name);
        }
    json_object_put(root);
    return s;
}

rmens_status rmens_safetensors_open(rmens_safetensors **out, const char *path)
{
    *out = NULL;
    rmens_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    }
    struct stat sb;
    char single[4200], index[4200];
    rmens_status s = RMENS_OK;
    if (stat(path, &sb) != 0) {
        s = rmens_fail(RMENS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        if (!(st->files = calloc(1, sizeof *st->files)))
            s = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        else
            s = open_file(st, &st->files[st->nfiles++], path);
    } else if (snprintf(single, sizeof single, "%s/%s", path, SINGLE_NAME) >= (int)sizeof single ||
               snprintf(index, sizeof index, "%s/%s", path, INDEX_NAME) >= (int)sizeof index) {
        s = rmens_fail(RMENS_ERR_ARG, "%s: path too long", path);
    } else if (is_file(single)) {  /* as transformers, the single file first */
        if (!(st->files = calloc(1, sizeof *st->files)))
            s = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        else
            s = open_file(st, &st->files[st->nfiles++], single);
    } else if (is_file(index)) {
        s = open_sharded(st, path, index);
    } else {
        s = rmens_fail(RMENS_ERR_IO, "%s: neither %s nor %s is there (only safetensors checkpoints are read)",
                       path, SINGLE_NAME, INDEX_NAME);
    }
    if (s == RMENS_OK && st->ntensors)
        qsort(st->tensors, (size_t)st->ntensors, sizeof *st->tensors, by_name);
    for (int64_t i = 1; i < st->ntensors && s == RMENS_OK; i++)  /* one file: json-c keeps one of a duplicate */
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
            s = FAIL(path, "tensor %s appears twice", st->tensors[i].name);
    if (s != RMENS_OK) {
        rmens_safetensors_close(st);
        return s;
    }
    *out = st;
    return RMENS_OK;
}

void rmens_safetensors_close(rmens_safetensors *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->nfiles; i++) {
        if (st->files[i].map)
            munmap(st->files[i].map, st->files[i].size);
        json_object_put(st->files[i].meta);
        free(st->files[i].path);
    }
    for (int64_t i = 0; i < st->ntensors; i++)
        free((void *)(uintptr_t)st->tensors[i].name);  /* owned here; const to callers */
    free(st->tensors);
    free(st->files);
    free(st->path);
    free(st);
}

int64_t rmens_safetensors_count(const rmens_safetensors *st) { return st->ntensors; }

const rmens_st_tensor *rmens_safetensors_tensor(const rmens_safetensors *st, int64_t i)
{
    return i >= 0 && i < st->ntensors ? &st->tensors[i] : NULL;
}

const char *rmens_safetensors_metadata(const rmens_safetensors *st, const char *key)
{
    const st_file *f = st->nfiles ? &st->files[0] : NULL;
    for (int i = 0; st->ntensors && i < st->nfiles; i++)
        if (st->files[i].path == st->tensors[0].file)
            f = &st->files[i];
    json_object *v;
    return f && f->meta && json_object_object_get_ex(f->meta, key, &v) ? json_object_get_string(v) : NULL;
}

rmens_status rmens_safetensors_read(const rmens_safetensors *st, const char *name, int rank,
                                    const int64_t *shape, float *out)
{
    const rmens_st_tensor *t = rmens_safetensors_find(st, name);
    if (!t)
        return rmens_fail(RMENS_ERR_FORMAT, "%s: no tensor %s", st->path, name);
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char a[200], b[200];
        shape_str(a, sizeof a, t->rank, t->shape);
        shape_str(b, sizeof b, rank, shape);
        return FAIL(t->file, "tensor %s has shape %s, expected %s", name, a, b);
    }
    if (!t->readable)
        return FAIL(t->file, "tensor %s is stored as %s; only F32, F16 and BF16 are read", name, t->dtype);
    const st_file *f = NULL;
    for (int i = 0; i < st->nfiles && !f; i++)
        if (st->files[i].path == t->file)
            f = &st->files[i];
    const unsigned char *p = f->map + 8 + f->header + t->begin;
    int64_t n = t->count;
    if (strcmp(t->dtype, "F32") == 0) {
        memcpy(out, p, (size_t)n * sizeof *out);
    } else {
        int bf = strcmp(t->dtype, "BF16") == 0;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            out[i] = bf ? rmens_bf16_to_f32(h) : rmens_f16_to_f32(h);
        }
    }
    return RMENS_OK;
}

/* ------------------------------------------------------------ writing */

/* The JSON header, padded with spaces to a multiple of 8 bytes (as the reference
 * writer), and the data section's size. */
static rmens_status build_header(const rmens_st_out *tensors, int64_t n, rmens_st_dtype dtype,
                                 const char *const *meta, int nmeta, char **text, size_t *len, uint64_t *data)
{
    json_object *h = json_object_new_object(), *m = json_object_new_object();
    rmens_status s = h && m ? RMENS_OK : rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    if (s == RMENS_OK) {
        json_object_object_add(m, "format", json_object_new_string("pt"));
        for (int i = 0; i < nmeta; i++)
            json_object_object_add(m, meta[2 * i], json_object_new_string(meta[2 * i + 1]));
        json_object_object_add(h, "__metadata__", m);
        m = NULL;
    }
    uint64_t at = 0, esize = dtype == RMENS_ST_BF16 ? 2 : 4;
    for (int64_t i = 0; i < n && s == RMENS_OK; i++) {
        const rmens_st_out *t = &tensors[i];
        json_object *o = json_object_new_object(), *shape = json_object_new_array(), *off = json_object_new_array();
        uint64_t count = 1;
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0 || t->rank < 0 ||
            t->rank > RMENS_ST_MAX_RANK)
            s = rmens_fail(RMENS_ERR_ARG, "tensor %lld: name \"%s\" or rank %d is not valid", (long long)i,
                           t->name ? t->name : "(null)", t->rank);
        else if (json_object_object_get_ex(h, t->name, NULL))
            s = rmens_fail(RMENS_ERR_ARG, "tensor %s is given twice", t->name);
        for (int d = 0; s == RMENS_OK && d < t->rank; d++) {
            if (t->shape[d] < 0 || (t->shape[d] && count > (UINT64_MAX / 8) / (uint64_t)t->shape[d]))
                s = rmens_fail(RMENS_ERR_ARG, "tensor %s: shape[%d] = %lld is not valid", t->name, d,
                               (long long)t->shape[d]);
            else
                count *= (uint64_t)t->shape[d];
            json_object_array_add(shape, json_object_new_int64(t->shape[d]));
        }
        if (s == RMENS_OK && count && !t->data)
            s = rmens_fail(RMENS_ERR_ARG, "tensor %s has no data", t->name);
        json_object_array_add(off, json_object_new_int64((int64_t)at));
        at += count * esize;
        json_object_array_add(off, json_object_new_int64((int64_t)at));
        json_object_object_add(o, "dtype", json_object_new_string(dtype == RMENS_ST_BF16 ? "BF16" : "F32"));
        json_object_object_add(o, "shape", shape);
        json_object_object_add(o, "data_offsets", off);
        if (s == RMENS_OK)
            json_object_object_add(h, t->name, o);
        else
            json_object_put(o);
    }
    if (s == RMENS_OK) {
        size_t jl;
        const char *js = json_object_to_json_string_length(h, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                           &jl);
        size_t padded = (jl + 7) / 8 * 8;
        if (!js || !(*text = malloc(padded)))
            s = rmens_fail(RMENS_ERR_NOMEM, "out of memory");
        else if (padded > RMENS_ST_MAX_HEADER)
            s = rmens_fail(RMENS_ERR_ARG, "the header of %zu bytes would be over the limit of %d", padded,
                           RMENS_ST_MAX_HEADER);
        if (s == RMENS_OK) {
            memcpy(*text, js, jl);
            memset(*text + jl, ' ', padded - jl);
            *len = padded;
            *data = at;
        }
    }
    json_object_put(h);
    json_object_put(m);
    return s;
}

typedef struct {
    const char *header;
    size_t hlen;
    const rmens_st_out *tensors;
    int64_t n;
    rmens_st_dtype dtype;
} st_writing;

static rmens_status fill(int fd, const char *tmp, void *arg)
{
    const st_writing *w = arg;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)w->hlen >> (8 * i));
    RMENS_TRY(rmens_stage_write_all(fd, tmp, len8, 8));
    RMENS_TRY(rmens_stage_write_all(fd, tmp, w->header, w->hlen));
    enum { CHUNK = 1 << 18 };
    uint16_t *buf = w->dtype == RMENS_ST_BF16 ? malloc(CHUNK * sizeof *buf) : NULL;
    if (w->dtype == RMENS_ST_BF16 && !buf)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory");
    rmens_status s = RMENS_OK;
    for (int64_t i = 0; i < w->n && s == RMENS_OK; i++) {
        const rmens_st_out *t = &w->tensors[i];
        int64_t count = 1;
        for (int d = 0; d < t->rank; d++)
            count *= t->shape[d];
        if (w->dtype == RMENS_ST_F32) {  /* little-endian, as the format */
            s = rmens_stage_write_all(fd, tmp, t->data, (size_t)count * sizeof(float));
            continue;
        }
        for (int64_t at = 0; at < count && s == RMENS_OK; at += CHUNK) {
            int64_t k = count - at < CHUNK ? count - at : CHUNK;
            for (int64_t j = 0; j < k; j++)
                buf[j] = rmens_f32_to_bf16(t->data[at + j]);
            s = rmens_stage_write_all(fd, tmp, buf, (size_t)k * sizeof *buf);
        }
    }
    free(buf);
    return s;
}

rmens_status rmens_safetensors_write(const char *path, const rmens_st_out *tensors, int64_t n,
                                     rmens_st_dtype dtype, const char *const *meta, int nmeta)
{
    st_writing w = {NULL, 0, tensors, n, dtype};
    uint64_t data = 0;
    char *header = NULL;
    RMENS_TRY(build_header(tensors, n, dtype, meta, nmeta, &header, &w.hlen, &data));
    w.header = header;
    rmens_status s = rmens_stage_stream(path, 8.0 + (double)w.hlen + (double)data, fill, &w);
    free(header);
    return s;
}
